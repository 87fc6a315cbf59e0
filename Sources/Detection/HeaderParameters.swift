import NetworkTypes

/// The `; name=value` parameters after a header value's first item (RFC 9110 §5.6.6), read one
/// way for both body parsers: Content-Type's `charset` and a multipart part's
/// Content-Disposition `name` and `filename`.
enum HeaderParameters {
    /// The value of parameter `name` (lowercase ASCII) in `field` (the header's value): names
    /// compare without case and without the blanks around them; the value loses the blanks
    /// around it, and a quoted value its quotes (what is inside stays as sent). Nil when absent.
    static func value(of name: String, in field: some Collection<UInt8>) -> ArraySlice<UInt8>? {
        let bytes = Array(field)
        let key = Array(name.utf8)
        var start = pieceEnd(in: bytes, from: bytes.startIndex)
        while start < bytes.endIndex {
            let pieceStart = start + 1
            let end = pieceEnd(in: bytes, from: pieceStart)
            start = end
            guard let equals = bytes[pieceStart..<end].firstIndex(of: UInt8(ascii: "=")),
                  bytes[pieceStart..<equals].trimming(where: isBlank).withUnsafeBytes({ candidate in
                      key.withUnsafeBytes { ASCII.equalsIgnoringCase(candidate, lowercase: $0) }
                  }) else { continue }
            var value = bytes[(equals + 1)..<end].trimming(where: isBlank)
            if value.first == quote {
                value = value.dropFirst()
                if value.last == quote { value = value.dropLast() }
            }
            return value
        }
        return nil
    }

    /// Where the piece from `start` ends: the next `;` outside a quoted string (a quoted
    /// `filename="shell.php;.jpg"` is one value, as the applications that read it see it; a
    /// backslash inside quotes escapes the next byte).
    private static func pieceEnd(in bytes: [UInt8], from start: Int) -> Int {
        var index = start
        var quoted = false
        while index < bytes.endIndex {
            switch bytes[index] {
            case quote: quoted.toggle()
            case UInt8(ascii: "\\") where quoted: index += 1
            case semicolon where !quoted: return index
            default: break
            }
            index += 1
        }
        return bytes.endIndex
    }

    private static let semicolon = UInt8(ascii: ";")
    private static let quote = UInt8(ascii: "\"")
    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
}
