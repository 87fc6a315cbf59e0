import NetworkTypes

/// Appends JSON to a byte buffer without Foundation or per-value allocation.
///
/// Strings come from the wire and may be any bytes. Valid UTF-8 is copied as is; each byte
/// that is not part of valid UTF-8 is written as `\u00XX` (its Latin-1 reading), so no input
/// byte is lost and the output is always valid JSON on one line.
public struct JSONWriter {
    public var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    public mutating func beginObject() { separator(); bytes.append(UInt8(ascii: "{")); needsComma = false }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    public mutating func beginArray() { separator(); bytes.append(UInt8(ascii: "[")); needsComma = false }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    public mutating func key(_ name: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    public mutating func key(_ name: String) {
        separator()
        appendString(Array(name.utf8))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string<C: Collection>(_ value: C) where C.Element == UInt8 {
        separator()
        appendString(value)
        needsComma = true
    }

    public mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { string($0) }
    }

    public mutating func raw(_ literal: StaticString) {
        separator()
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
        needsComma = true
    }

    /// A value that is already JSON (an EVE line inside a console message). The caller vouches
    /// for it; no trailing newline.
    public mutating func embed<C: Collection>(json value: C) where C.Element == UInt8 {
        separator()
        var end = value.endIndex
        while end > value.startIndex, let last = value[value.index(end, offsetBy: -1)...].first, last == 0x0A || last == 0x0D {
            end = value.index(end, offsetBy: -1)
        }
        bytes.append(contentsOf: value[value.startIndex..<end])
        needsComma = true
    }

    public mutating func null() { raw("null") }
    public mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    public mutating func number<I: BinaryInteger>(_ value: I) {
        separator()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    /// A number already formatted (fixed decimals for timestamps).
    public mutating func number(literal: String) {
        separator()
        bytes.append(contentsOf: literal.utf8)
        needsComma = true
    }

    public mutating func newline() {
        bytes.append(UInt8(ascii: "\n"))
        needsComma = false
    }

    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendEscapedByte(_ byte: UInt8) {
        bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                  ASCII.hexDigits[Int(byte >> 4)], ASCII.hexDigits[Int(byte & 0xF)]])
    }

    /// Bytes that are copied as they are: printable ASCII other than `"` and `\`.
    @inline(__always) private static func isPlain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    private mutating func appendString<C: Collection>(_ value: C) where C.Element == UInt8 {
        // Fast path: most wire strings are plain ASCII and are copied in one go.
        let handled: Bool? = value.withContiguousStorageIfAvailable { buffer in
            guard buffer.allSatisfy(Self.isPlain) else { return false }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: buffer)
            bytes.append(UInt8(ascii: "\""))
            return true
        }
        if handled == true { return }
        appendStringSlowly(value)
    }

    private mutating func appendStringSlowly<C: Collection>(_ value: C) where C.Element == UInt8 {
        bytes.append(UInt8(ascii: "\""))
        var index = value.startIndex
        while index != value.endIndex {
            let byte = value[index]
            if byte < 0x80 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20, 0x7F: appendEscapedByte(byte)
                default: bytes.append(byte)
                }
                value.formIndex(after: &index)
                continue
            }
            let length = Self.validSequenceLength(value, at: index)
            if length == 0 {
                appendEscapedByte(byte)
                value.formIndex(after: &index)
            } else {
                for _ in 0..<length {
                    bytes.append(value[index])
                    value.formIndex(after: &index)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// JSON text read back from a file may hold bytes that are not UTF-8 (a file written by
    /// something else, or damaged). In JSON that parses they can only sit inside strings, so
    /// each is replaced by `\u00XX`, as this writer escapes them: the result is valid JSON.
    /// Returns nil when the text is valid UTF-8 already (the usual case: no copy).
    public static func escapingInvalidUTF8(_ text: [UInt8]) -> [UInt8]? {
        var index = 0
        var out: [UInt8]?
        while index < text.count {
            let byte = text[index]
            if byte < 0x80 {
                out?.append(byte)
                index += 1
                continue
            }
            let length = validSequenceLength(text, at: index)
            if length == 0 {
                if out == nil { out = Array(text[0..<index]) }
                out!.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                         ASCII.hexDigits[Int(byte >> 4)], ASCII.hexDigits[Int(byte & 0xF)]])
                index += 1
            } else {
                out?.append(contentsOf: text[index..<index + length])
                index += length
            }
        }
        return out
    }

    /// Length of the well-formed UTF-8 sequence starting at `index` (RFC 3629), or 0.
    private static func validSequenceLength<C: Collection>(_ value: C, at index: C.Index) -> Int where C.Element == UInt8 {
        let first = value[index]
        let length: Int
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        switch first {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return 0
        }
        var i = value.index(after: index)
        for position in 1..<length {
            guard i != value.endIndex else { return 0 }
            let byte = value[i]
            if position == 1 {
                guard byte >= lower && byte <= upper else { return 0 }
            } else {
                guard byte >= 0x80 && byte <= 0xBF else { return 0 }
            }
            value.formIndex(after: &i)
        }
        return length
    }
}

public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode<C: Collection>(_ input: C) -> [UInt8] where C.Element == UInt8 {
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var iterator = input.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next(), c = iterator.next()
            output.append(alphabet[Int(a >> 2)])
            output.append(alphabet[Int((a & 0x03) << 4 | (b ?? 0) >> 4)])
            output.append(b.map { alphabet[Int(($0 & 0x0F) << 2 | (c ?? 0) >> 6)] } ?? UInt8(ascii: "="))
            output.append(c.map { alphabet[Int($0 & 0x3F)] } ?? UInt8(ascii: "="))
        }
        return output
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var lookup = [Int](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { lookup[Int(c)] = i }
        var output: [UInt8] = []
        var buffer = 0, bits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "=") { break }
            let v = lookup[Int(c)]
            guard v >= 0 else { return nil }
            buffer = buffer << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> bits) & 0xFF))
            }
        }
        return output
    }
}
