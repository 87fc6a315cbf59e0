import Classifier

/// Byte transformations that undo the encodings attackers hide behind (EVASION 12-14).
/// Each takes and returns bytes; none ever fails on malformed input (it is left as it is).
enum Transforms {
    static func apply(_ transform: Transform, _ input: [UInt8]) -> [UInt8] {
        switch transform {
        case .urlDecode: return urlDecode(input, unicode: false)
        case .urlDecodeUni: return urlDecode(input, unicode: true)
        case .htmlEntityDecode: return htmlEntityDecode(input)
        case .lowercase: return input.map(lower)
        case .compressWhitespace: return compressWhitespace(input, keepOne: true)
        case .removeWhitespace: return compressWhitespace(input, keepOne: false)
        case .removeNulls: return input.filter { $0 != 0 }
        case .normalizePath: return normalizePath(input)
        case .removeComments: return comments(input, replacement: nil)
        case .replaceComments: return comments(input, replacement: 0x20)
        case .normalizeUnicode: return normalizeUnicode(input)
        }
    }

    @inline(__always) static func lower(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    static func hexValue(_ byte: UInt8) -> UInt8? { PercentDecoding.hex(byte) }

    /// `%XX` and `+`; with `unicode`, IIS `%uXXXX` too.
    static func urlDecode(_ input: [UInt8], unicode: Bool) -> [UInt8] {
        PercentDecoding.decode(input, plusIsSpace: true, unicode: unicode)
    }

    static func appendScalar(_ scalar: UInt32, to out: inout [UInt8]) {
        PercentDecoding.appendScalar(scalar, to: &out)
    }

    /// Overlong UTF-8 (`C0 AF` for `/`) and full-width ASCII in UTF-8 become plain ASCII.
    static func normalizeUnicode(_ input: [UInt8]) -> [UInt8] {
        guard input.contains(where: { $0 >= 0xC0 }) else { return input }
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let byte = input[i]
            if (byte == 0xC0 || byte == 0xC1), i + 1 < input.count, input[i + 1] & 0xC0 == 0x80 {
                out.append((byte & 0x01) << 6 | (input[i + 1] & 0x3F))
                i += 2
            } else if byte == 0xE0, i + 2 < input.count, input[i + 1] & 0xE0 == 0x80, input[i + 2] & 0xC0 == 0x80 {
                out.append((input[i + 1] & 0x01) << 6 | (input[i + 2] & 0x3F))  // 3-byte overlong of ASCII
                i += 3
            } else if byte == 0xEF, i + 2 < input.count, (input[i + 1] == 0xBC || input[i + 1] == 0xBD), input[i + 2] & 0xC0 == 0x80 {
                let scalar = UInt32(0xF000) | UInt32(input[i + 1] & 0x3F) << 6 | UInt32(input[i + 2] & 0x3F)
                if scalar >= 0xFF01 && scalar <= 0xFF5E { out.append(UInt8(scalar - 0xFEE0)) } else { out.append(contentsOf: input[i...i + 2]) }
                i += 3
            } else {
                out.append(byte)
                i += 1
            }
        }
        return out
    }

    static let namedEntities: [String: UInt8] = [
        "lt": 0x3C, "gt": 0x3E, "amp": 0x26, "quot": 0x22, "apos": 0x27, "nbsp": 0x20,
        "sol": 0x2F, "bsol": 0x5C, "lpar": 0x28, "rpar": 0x29, "colon": 0x3A, "semi": 0x3B,
        "equals": 0x3D, "tab": 0x09, "newline": 0x0A, "excl": 0x21, "num": 0x23, "period": 0x2E, "comma": 0x2C,
    ]

    /// `&lt;`, `&#60;`, `&#x3c;`, with or without the final `;` (browsers accept both).
    static func htmlEntityDecode(_ input: [UInt8]) -> [UInt8] {
        guard input.contains(0x26) else { return input }
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            guard input[i] == 0x26, i + 2 < input.count else {
                out.append(input[i])
                i += 1
                continue
            }
            var j = i + 1
            if input[j] == 0x23 {
                j += 1
                var scalar: UInt32 = 0
                var digits = 0
                let hex = j < input.count && input[j] | 0x20 == UInt8(ascii: "x")
                if hex { j += 1 }
                while j < input.count, digits < 8 {
                    if hex, let v = hexValue(input[j]) { scalar = scalar << 4 | UInt32(v) } else if !hex, input[j] &- 0x30 < 10 { scalar = scalar * 10 + UInt32(input[j] - 0x30) } else { break }
                    digits += 1
                    j += 1
                }
                if digits > 0 {
                    appendScalar(scalar, to: &out)
                    if j < input.count && input[j] == 0x3B { j += 1 }
                    i = j
                    continue
                }
            } else {
                while j < input.count, j - i <= 8, (input[j] | 0x20) &- 0x61 < 26 { j += 1 }
                let name = String(decoding: input[(i + 1)..<j], as: UTF8.self).lowercased()
                if let value = namedEntities[name] {
                    out.append(value)
                    if j < input.count && input[j] == 0x3B { j += 1 }
                    i = j
                    continue
                }
            }
            out.append(input[i])
            i += 1
        }
        return out
    }

    @inline(__always) static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) || byte == 0xA0
    }

    static func compressWhitespace(_ input: [UInt8], keepOne: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var inSpace = false
        for byte in input {
            if isSpace(byte) {
                if keepOne && !inSpace { out.append(0x20) }
                inSpace = true
            } else {
                out.append(byte)
                inSpace = false
            }
        }
        return out
    }

    /// `\` becomes `/`, then `//` collapses, `/./` goes and `/../` removes its parent — the
    /// path the server will resolve, so traversal is seen whatever its spelling.
    static func normalizePath(_ input: [UInt8]) -> [UInt8] {
        let slashed = input.map { $0 == 0x5C ? 0x2F : $0 }
        let absolute = slashed.first == 0x2F
        var segments: [ArraySlice<UInt8>] = []
        var leadingParents = 0
        for segment in slashed.split(separator: 0x2F, omittingEmptySubsequences: true) {
            if segment.elementsEqual([0x2E]) { continue }
            if segment.elementsEqual([0x2E, 0x2E]) {
                if segments.isEmpty { leadingParents += 1 } else { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        var out: [UInt8] = absolute ? [0x2F] : []
        // Climbing above the root is the attack itself: keep the `../` so rules can see it.
        for _ in 0..<leadingParents { out.append(contentsOf: [0x2E, 0x2E, 0x2F]) }
        for (index, segment) in segments.enumerated() {
            if index > 0 { out.append(0x2F) }
            out.append(contentsOf: segment)
        }
        if slashed.last == 0x2F && !segments.isEmpty { out.append(0x2F) }
        return out
    }

    /// C-style `/* ... */` comments (an unterminated one runs to the end), as SQL injection
    /// uses them to split keywords (`UN/**/ION`) or stand for spaces.
    static func comments(_ input: [UInt8], replacement: UInt8?) -> [UInt8] {
        guard input.count >= 2 else { return input }
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            if input[i] == 0x2F, i + 1 < input.count, input[i + 1] == 0x2A {
                var j = i + 2
                while j + 1 < input.count, !(input[j] == 0x2A && input[j + 1] == 0x2F) { j += 1 }
                i = j + 1 < input.count ? j + 2 : input.count
                if let replacement { out.append(replacement) }
            } else {
                out.append(input[i])
                i += 1
            }
        }
        return out
    }
}
