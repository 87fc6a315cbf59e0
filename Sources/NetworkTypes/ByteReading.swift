extension UnsafeRawBufferPointer {
    /// Big-endian reads; callers check bounds first (decoders validate lengths before reading).
    @inlinable public func readUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable public func readUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable public func readUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Collection where Element == UInt8 {
    /// Where `needle` first occurs, by memchr and memcmp over contiguous storage (the generic
    /// `firstRange(of:)` costs thousands of instructions a call); nil when absent or empty.
    public func firstIndex<Needle: Collection>(ofBytes needle: Needle) -> Index? where Needle.Element == UInt8 {
        guard !needle.isEmpty else { return nil }
        let needleBytes = Array(needle)
        let found: Int?? = withContiguousStorageIfAvailable { haystack -> Int? in
            guard let base = haystack.baseAddress, haystack.count >= needleBytes.count else { return nil }
            return needleBytes.withUnsafeBytes { pattern -> Int? in
                // memchr for the first byte, memcmp for the rest (memmem is not in the Glibc module).
                let first = Int32(pattern[0])
                let last = haystack.count - pattern.count
                var offset = 0
                while offset <= last {
                    guard let hit = memchr(base + offset, first, last - offset + 1) else { return nil }
                    let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + at, pattern.baseAddress!, pattern.count) == 0 { return at }
                    offset = at + 1
                }
                return nil
            }
        }
        if let found { return found.map { index(startIndex, offsetBy: $0) } }
        // Not contiguous (rare): the plain loop.
        var start = startIndex
        while start != endIndex {
            if self[start...].starts(with: needleBytes) { return start }
            formIndex(after: &start)
        }
        return nil
    }
}
