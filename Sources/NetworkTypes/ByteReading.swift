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

extension UnsafeRawBufferPointer {
    /// The first position at or after `start` that holds `byte` (memchr: the generic
    /// `firstIndex(of:)` over a slice steps byte by byte through the collection protocol).
    @inlinable public func firstIndex(of byte: UInt8, from start: Int) -> Int? {
        guard let base = baseAddress, start < count else { return nil }
        guard let hit = memchr(base + start, Int32(byte), count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// Where `needle` first occurs, by memchr for its first byte and memcmp for the rest
    /// (memmem is not in the Glibc module); nil when absent or empty.
    public func firstIndex(ofBytes needle: UnsafeRawBufferPointer) -> Int? {
        guard let pattern = needle.baseAddress, !needle.isEmpty, let base = baseAddress, count >= needle.count else { return nil }
        let first = Int32(needle[0])
        let last = count - needle.count
        var offset = 0
        while offset <= last {
            guard let hit = memchr(base + offset, first, last - offset + 1) else { return nil }
            let at = base.distance(to: UnsafeRawPointer(hit))
            if memcmp(base + at, pattern, needle.count) == 0 { return at }
            offset = at + 1
        }
        return nil
    }
}

extension Collection where Element == UInt8 {
    /// Where `needle` first occurs, by memchr and memcmp over contiguous storage (the generic
    /// `firstRange(of:)` costs thousands of instructions a call); nil when absent or empty.
    public func firstIndex<Needle: Collection>(ofBytes needle: Needle) -> Index? where Needle.Element == UInt8 {
        guard !needle.isEmpty else { return nil }
        let needleBytes = Array(needle)
        let found: Int?? = withContiguousStorageIfAvailable { haystack -> Int? in
            needleBytes.withUnsafeBytes { UnsafeRawBufferPointer(haystack).firstIndex(ofBytes: $0) }
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
