/// Byte-level ASCII for protocol text (HTTP heads, URLs, JSON, alert files): one definition
/// of each, used by every stage, on the hot paths too (hence inlined and branch-light).
public enum ASCII {
    /// `A`–`Z` folded to `a`–`z`; every other byte as it is.
    @inline(__always) public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    /// Whether `bytes`, read ignoring ASCII case, are `lowercase` (already lowercase): header
    /// and argument names, SQL keywords.
    @inline(__always) public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, lowercase: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for i in 0..<bytes.count where lowercased(bytes[i]) != lowercase[i] { return false }
        return true
    }

    /// The value of a hexadecimal digit of either case.
    @inline(__always) public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// Lowercase hexadecimal digits by value (for writing `\xNN` and `\u00NN`).
    public static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
