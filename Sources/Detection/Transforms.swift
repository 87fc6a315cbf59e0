import NetworkTypes

/// Byte transformations that undo the encodings attackers hide behind (EVASION 12-14).
/// Each takes and returns bytes; none ever fails on malformed input (it is left as it is).
enum Transforms {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    /// Appends the transformed input to `out` and returns true, or returns false when the
    /// transform would change nothing (then `out` is left as it is, and the caller keeps the
    /// input: most values are plain, and plain values are never copied).
    static func apply(_ transform: Transform, _ input: Bytes, into out: inout [UInt8]) -> Bool {
        switch transform {
        case .urlDecode: return PercentDecoding.decode(input, plusIsSpace: true, unicode: false, into: &out)
        case .urlDecodeUni: return PercentDecoding.decode(input, plusIsSpace: true, unicode: true, into: &out)
        case .htmlEntityDecode: return htmlEntityDecode(input, into: &out)
        case .lowercase: return lowercase(input, into: &out)
        case .compressWhitespace: return compressWhitespace(input, keepOne: true, into: &out)
        case .removeWhitespace: return compressWhitespace(input, keepOne: false, into: &out)
        case .removeNulls: return removeNulls(input, into: &out)
        case .normalizePath: return normalizePath(input, into: &out)
        case .removeComments: return comments(input, replacement: nil, into: &out)
        case .replaceComments: return comments(input, replacement: 0x20, into: &out)
        case .normalizeUnicode: return normalizeUnicode(input, into: &out)
        case .shellUnquote: return shellUnquote(input, into: &out)
        }
    }

    /// What a shell (or cmd.exe) removes before it runs a word, so that command names read
    /// as the shell reads them: quotes (`c'a't`, `"id"`), backslash escapes (`w\ho\am\i`), the
    /// cmd.exe caret (`who^ami`), empty expansions (`c$@at`, `$*`), and `$IFS` / `${IFS}`
    /// (optionally with `$9` and the like after it) as a blank.
    static func shellUnquote(_ input: Bytes, into out: inout [UInt8]) -> Bool {
        guard input.contains(where: { $0 == 0x27 || $0 == 0x22 || $0 == 0x5C || $0 == 0x5E || $0 == 0x24 }) else { return false }
        out.reserveCapacity(out.count + input.count)
        var i = 0
        let n = input.count
        func matches(_ text: StaticString, at k: Int) -> Bool {
            let count = text.utf8CodeUnitCount
            guard k + count <= n else { return false }
            for j in 0..<count where input[k + j] != text.utf8Start[j] { return false }
            return true
        }
        while i < n {
            let byte = input[i]
            switch byte {
            case 0x27, 0x22, 0x5E:  // ' " ^
                i += 1
            case 0x5C:  // \x is x
                if i + 1 < n { out.append(input[i + 1]) }
                i += 2
            case 0x24:  // $
                if matches("${IFS}", at: i) || matches("$IFS", at: i) {
                    i += matches("${IFS}", at: i) ? 6 : 4
                    // `$IFS$9`: a positional parameter, empty, often used to end the name.
                    if i + 1 < n && input[i] == 0x24 && input[i + 1] &- 0x30 < 10 { i += 2 }
                    out.append(0x20)
                } else if i + 1 < n && (input[i + 1] == 0x40 || input[i + 1] == 0x2A) {  // $@ $*
                    i += 2
                } else {
                    out.append(byte)
                    i += 1
                }
            default:
                out.append(byte)
                i += 1
            }
        }
        return true
    }

    /// The same on an array (tests, argument decoding): the input itself when unchanged.
    static func apply(_ transform: Transform, _ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        let changed = input.withUnsafeBufferPointer { apply(transform, $0, into: &out) }
        return changed ? out : input
    }



    static func appendScalar(_ scalar: UInt32, to out: inout [UInt8]) {
        PercentDecoding.appendScalar(scalar, to: &out)
    }

    static func lowercase(_ input: Bytes, into out: inout [UInt8]) -> Bool {
        guard input.contains(where: { $0 &- 0x41 < 26 }) else { return false }
        let start = out.count
        out.append(contentsOf: input)
        // In place, a loop the compiler vectorises (appending byte by byte did not).
        out.withUnsafeMutableBufferPointer { bytes in
            for i in start..<bytes.count { bytes[i] = ASCII.lowercased(bytes[i]) }
        }
        return true
    }

    static func removeNulls(_ input: Bytes, into out: inout [UInt8]) -> Bool {
        guard input.contains(0) else { return false }
        for byte in input where byte != 0 { out.append(byte) }
        return true
    }

    /// Overlong UTF-8 (`C0 AF` for `/`) and full-width ASCII in UTF-8 become plain ASCII.
    static func normalizeUnicode(_ input: Bytes, into out: inout [UInt8]) -> Bool {
        guard input.contains(where: { $0 >= 0xC0 }) else { return false }
        let start = out.count
        var changed = false
        out.reserveCapacity(out.count + input.count)
        var i = 0
        while i < input.count {
            let byte = input[i]
            if (byte == 0xC0 || byte == 0xC1), i + 1 < input.count, input[i + 1] & 0xC0 == 0x80 {
                out.append((byte & 0x01) << 6 | (input[i + 1] & 0x3F))
                changed = true
                i += 2
            } else if byte == 0xE0, i + 2 < input.count, input[i + 1] & 0xE0 == 0x80, input[i + 2] & 0xC0 == 0x80 {
                out.append((input[i + 1] & 0x01) << 6 | (input[i + 2] & 0x3F))  // 3-byte overlong of ASCII
                changed = true
                i += 3
            } else if byte == 0xEF, i + 2 < input.count, (input[i + 1] == 0xBC || input[i + 1] == 0xBD), input[i + 2] & 0xC0 == 0x80 {
                let scalar = UInt32(0xF000) | UInt32(input[i + 1] & 0x3F) << 6 | UInt32(input[i + 2] & 0x3F)
                if scalar >= 0xFF01 && scalar <= 0xFF5E {
                    out.append(UInt8(scalar - 0xFEE0))
                    changed = true
                } else {
                    out.append(contentsOf: input[i...i + 2])
                }
                i += 3
            } else {
                out.append(byte)
                i += 1
            }
        }
        // Ordinary UTF-8 (accented letters, CJK) comes through as it was: report no change,
        // so the value is not copied and later steps can share work with other chains.
        if !changed { out.removeLast(out.count - start) }
        return changed
    }

    /// Named references worth decoding: the characters attacks are made of.
    static let namedEntities: [(name: [UInt8], value: UInt8)] = [
        ("lt", 0x3C), ("gt", 0x3E), ("amp", 0x26), ("quot", 0x22), ("apos", 0x27), ("nbsp", 0x20),
        ("sol", 0x2F), ("bsol", 0x5C), ("lpar", 0x28), ("rpar", 0x29), ("colon", 0x3A), ("semi", 0x3B),
        ("equals", 0x3D), ("tab", 0x09), ("newline", 0x0A), ("excl", 0x21), ("num", 0x23), ("period", 0x2E), ("comma", 0x2C),
    ].map { (Array($0.0.utf8), $0.1) }
    /// The entity whose name is `input[start..<end]` (ASCII letters, any case).
    static func namedEntity(_ input: Bytes, _ start: Int, _ end: Int) -> UInt8? {
        entities: for entity in namedEntities where entity.name.count == end - start {
            for k in entity.name.indices where input[start + k] | 0x20 != entity.name[k] { continue entities }
            return entity.value
        }
        return nil
    }

    /// `&lt;`, `&#60;`, `&#x3c;`, with or without the final `;` (browsers accept both).
    /// Returns false, appending nothing, when no reference decodes (`&page=2` stays): the
    /// output is only started at the first reference, and plain runs are copied whole.
    static func htmlEntityDecode(_ input: Bytes, into out: inout [UInt8]) -> Bool {
        var copy = ChangedCopy()
        var i = 0
        while i + 2 < input.count {
            guard input[i] == 0x26, let (scalar, next) = entity(input, at: i) else {
                i += 1
                continue
            }
            copy.replace(input, i, next, in: &out)
            if scalar < 0x80 { out.append(UInt8(scalar)) } else { appendScalar(scalar, to: &out) }
            i = next
        }
        return copy.finish(input, in: &out)
    }

    /// The reference starting with the `&` at `i` (`input` holds at least one byte after it):
    /// its code point and where it ends. Leading zeros of a numeric reference do not count
    /// against its digit bound, as browsers ignore them (`&#0000000106;` is `j`).
    static func entity(_ input: Bytes, at i: Int) -> (scalar: UInt32, next: Int)? {
        var j = i + 1
        if input[j] == 0x23 {
            j += 1
            var scalar: UInt32 = 0
            var digits = 0
            let hex = j < input.count && input[j] | 0x20 == UInt8(ascii: "x")
            if hex { j += 1 }
            let digitsStart = j
            while j < input.count && input[j] == 0x30 { j += 1 }
            while j < input.count, digits < 8 {
                if hex, let v = ASCII.hexValue(input[j]) { scalar = scalar << 4 | UInt32(v) } else if !hex, input[j] &- 0x30 < 10 { scalar = scalar * 10 + UInt32(input[j] - 0x30) } else { break }
                digits += 1
                j += 1
            }
            guard digits > 0 || j > digitsStart else { return nil }
            if j < input.count && input[j] == 0x3B { j += 1 }
            return (scalar, j)
        }
        while j < input.count, j - i <= 8, (input[j] | 0x20) &- 0x61 < 26 { j += 1 }
        guard let value = namedEntity(input, i + 1, j) else { return nil }
        if j < input.count && input[j] == 0x3B { j += 1 }
        return (UInt32(value), j)
    }

    @inline(__always) static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) || byte == 0xA0
    }

    static func compressWhitespace(_ input: Bytes, keepOne: Bool, into out: inout [UInt8]) -> Bool {
        if !input.contains(where: isSpace) { return false }
        if keepOne && !hasWhitespaceToCompress(input) { return false }
        out.reserveCapacity(out.count + input.count)
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
        return true
    }

    /// Only single spaces: `compressWhitespace` would leave it as it is.
    private static func hasWhitespaceToCompress(_ input: Bytes) -> Bool {
        var previousSpace = false
        for byte in input {
            let space = isSpace(byte)
            if space && (byte != 0x20 || previousSpace) { return true }
            previousSpace = space
        }
        return false
    }

    /// `\` becomes `/`, then `//` collapses, `/./` goes and `/../` removes its parent — the
    /// path the server will resolve, so traversal is seen whatever its spelling.
    static func normalizePath(_ input: Bytes, into out: inout [UInt8]) -> Bool {
        guard needsPathNormalization(input) else { return false }
        // Built in place, without intermediate arrays (every `http://` URL comes here): the
        // output holds the kept segments; `..` truncates it back to the previous `/`.
        @inline(__always) func isSlash(_ byte: UInt8) -> Bool { byte == 0x2F || byte == 0x5C }
        let outputStart = out.count
        if isSlash(input[0]) { out.append(0x2F) }
        var floor = out.count  // where segments start: after the root and any leading `../`
        var kept = 0
        var i = 0
        while i < input.count {
            while i < input.count && isSlash(input[i]) { i += 1 }
            let start = i
            while i < input.count && !isSlash(input[i]) { i += 1 }
            let length = i - start
            if length == 0 || (length == 1 && input[start] == 0x2E) { continue }
            if length == 2 && input[start] == 0x2E && input[start + 1] == 0x2E {
                if kept == 0 {
                    // Climbing above the root is the attack itself: keep the `../` so rules can see it.
                    out.append(contentsOf: [0x2E, 0x2E, 0x2F])
                    floor = out.count
                } else {
                    kept -= 1
                    var end = out.count
                    while end > floor && out[end - 1] != 0x2F { end -= 1 }
                    out.removeLast(out.count - max(floor, end - (kept > 0 ? 1 : 0)))
                }
                continue
            }
            if kept > 0 { out.append(0x2F) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<i]))
            kept += 1
        }
        if isSlash(input[input.count - 1]) && kept > 0 { out.append(0x2F) }
        // A leading `../` is kept as it is, so `../x` can come out as it went in: that is no change.
        if out.count - outputStart == input.count, out[outputStart...].elementsEqual(input) {
            out.removeLast(input.count)
            return false
        }
        return true
    }

    /// No backslash, empty segment, `.` or `..` segment: the path is already normal.
    private static func needsPathNormalization(_ input: Bytes) -> Bool {
        var segmentStart = 0
        for i in 0...input.count {
            let atEnd = i == input.count
            if !atEnd && input[i] == 0x5C { return true }
            guard atEnd || input[i] == 0x2F else { continue }
            let length = i - segmentStart
            if length == 0 && i > 0 && !atEnd { return true }  // `//`
            if length == 1 && input[segmentStart] == 0x2E { return true }
            if length == 2 && input[segmentStart] == 0x2E && input[segmentStart + 1] == 0x2E { return true }
            segmentStart = i + 1
        }
        return false
    }

    /// C-style `/* ... */` comments (an unterminated one runs to the end), as SQL injection
    /// uses them to split keywords (`UN/**/ION`) or stand for spaces.
    static func comments(_ input: Bytes, replacement: UInt8?, into out: inout [UInt8]) -> Bool {
        guard input.count >= 2, hasCommentStart(input) else { return false }
        out.reserveCapacity(out.count + input.count)
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
        return true
    }

    private static func hasCommentStart(_ input: Bytes) -> Bool {
        var i = 0
        while i + 1 < input.count {
            if input[i] == 0x2F && input[i + 1] == 0x2A { return true }
            i += 1
        }
        return false
    }
}
