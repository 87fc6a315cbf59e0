/// Reads a fuzzer's bytes as a script: small numbers pick choices, the rest is payload. Every
/// harness shares it, so a corpus entry means the same thing however the harness is built.
struct FuzzInput {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = UnsafeBufferPointer(start: data, count: size)
    }

    var isAtEnd: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }
    mutating func uint32() -> UInt32 { UInt32(uint16()) << 16 | UInt32(uint16()) }

    /// Up to `count` bytes (fewer at the end).
    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, position + max(0, count))
        defer { position = end }
        return Array(bytes[position..<end])
    }

    mutating func rest() -> [UInt8] { take(bytes.count - position) }

    /// The input as pieces: each piece's length is one byte (0 means 256), as a stream cut at
    /// random places arrives.
    mutating func pieces() -> [[UInt8]] {
        var result: [[UInt8]] = []
        while !isAtEnd {
            let length = Int(byte())
            result.append(take(length == 0 ? 256 : length))
        }
        return result
    }
}
