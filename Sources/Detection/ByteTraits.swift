/// What a value contains, as far as the transforms care: one pass over its bytes tells which
/// transforms could change it, so a chain of transforms skips every step that would not.
/// (Most values are plain: before this, each of a request's ~90 buffers re-scanned its values
/// once per transform only to find nothing to do.)
struct ByteTraits: OptionSet {
    let rawValue: UInt16

    static let percentOrPlus = ByteTraits(rawValue: 1 << 0)
    static let ampersand = ByteTraits(rawValue: 1 << 1)
    static let uppercase = ByteTraits(rawValue: 1 << 2)
    /// Whitespace other than the plain space (tab, line breaks, NBSP).
    static let otherWhitespace = ByteTraits(rawValue: 1 << 3)
    static let space = ByteTraits(rawValue: 1 << 4)
    static let whitespaceRun = ByteTraits(rawValue: 1 << 5)
    static let nul = ByteTraits(rawValue: 1 << 6)
    /// A byte ≥ 0xC0: a UTF-8 lead byte, overlong or full-width forms possible.
    static let utf8Lead = ByteTraits(rawValue: 1 << 7)
    static let commentStart = ByteTraits(rawValue: 1 << 8)
    static let backslash = ByteTraits(rawValue: 1 << 9)
    static let doubleSlash = ByteTraits(rawValue: 1 << 10)
    /// A `.` that starts a path segment (after `/` or first): `.` and `..` segments.
    static let dotSegment = ByteTraits(rawValue: 1 << 11)
    /// What a shell removes or expands: `'`, `"`, `^`, `$` (and the backslash, its own trait).
    static let shellQuoting = ByteTraits(rawValue: 1 << 12)

    /// Not a trait: marks `/` in the table, so pairs are looked for only where one occurs.
    private static let slash: UInt16 = 1 << 15

    /// Traits of single bytes; pairs (`/*`, `//`, `/.`, whitespace runs) are found in `of`.
    private static let table: [UInt16] = (0..<256).map { value in
        let byte = UInt8(value)
        var traits: ByteTraits = []
        if byte == 0x25 || byte == 0x2B { traits.insert(.percentOrPlus) }
        if byte == 0x26 { traits.insert(.ampersand) }
        if byte &- 0x41 < 26 { traits.insert(.uppercase) }
        if byte == 0x20 { traits.insert(.space) } else if Transforms.isSpace(byte) { traits.insert(.otherWhitespace) }
        if byte == 0 { traits.insert(.nul) }
        if byte >= 0xC0 { traits.insert(.utf8Lead) }
        if byte == 0x5C { traits.insert(.backslash) }
        if byte == 0x27 || byte == 0x22 || byte == 0x5E || byte == 0x24 { traits.insert(.shellQuoting) }
        return traits.rawValue | (byte == 0x2F ? slash : 0)
    }

    /// Runs for every value of every request (a tenth of detection's time when it looked at
    /// pairs on every byte): single-byte traits first, pairs only when their first byte occurs.
    static func of(_ bytes: UnsafeRawBufferPointer) -> ByteTraits {
        var traits: UInt16 = 0
        let whitespace = space.rawValue | otherWhitespace.rawValue
        Self.table.withUnsafeBufferPointer { table in
            for byte in bytes { traits |= table[Int(byte)] }
            if traits & slash != 0 {
                var previous: UInt8 = 0
                for byte in bytes {
                    if previous == 0x2F {
                        if byte == 0x2A {
                            traits |= commentStart.rawValue
                        } else if byte == 0x2F {
                            traits |= doubleSlash.rawValue
                        } else if byte == 0x2E {
                            traits |= dotSegment.rawValue
                        }
                    }
                    previous = byte
                }
            }
            if traits & whitespace != 0 && bytes.count > 1 {
                var previous: UInt16 = 0
                for byte in bytes {
                    let current = table[Int(byte)] & whitespace
                    if current != 0 && previous != 0 {
                        traits |= whitespaceRun.rawValue
                        break
                    }
                    previous = current
                }
            }
        }
        if bytes.first == 0x2E { traits |= dotSegment.rawValue }
        return ByteTraits(rawValue: traits & ~slash)
    }

    /// What a value must contain for the transform to change it.
    static func trigger(of transform: Transform) -> ByteTraits {
        switch transform {
        case .urlDecode, .urlDecodeUni: .percentOrPlus
        case .htmlEntityDecode: .ampersand
        case .lowercase: .uppercase
        case .compressWhitespace: [.otherWhitespace, .whitespaceRun]
        case .removeWhitespace: [.otherWhitespace, .space]
        case .removeNulls: .nul
        case .normalizeUnicode: .utf8Lead
        case .removeComments, .replaceComments: .commentStart
        case .normalizePath: [.backslash, .doubleSlash, .dotSegment]
        case .shellUnquote: [.backslash, .shellQuoting]
        }
    }
}
