/// Percent-decoding as web servers and applications do it, shared by the model's text and the
/// rules' transforms so both read a request the same way.
public enum PercentDecoding {
    /// `%XX`; with `plusIsSpace`, `+`; with `unicode`, IIS `%uXXXX` (full-width ASCII and slash
    /// look-alikes fold to ASCII). Malformed escapes are kept as they are.
    public static func decode(_ input: [UInt8], plusIsSpace: Bool, unicode: Bool) -> [UInt8] {
        var out: [UInt8] = []
        let changed = input.withUnsafeBufferPointer { decode($0, plusIsSpace: plusIsSpace, unicode: unicode, into: &out) }
        return changed ? out : input
    }

    /// Appends the decoded input to `out` and returns true; returns false, appending nothing,
    /// when decoding changes nothing (no `%XX`, `%uXXXX` or `+` that decodes: "100%" stays).
    /// Output starts at the first escape, and plain runs are copied whole.
    public static func decode(_ input: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool, unicode: Bool, into out: inout [UInt8]) -> Bool {
        var copy = ChangedCopy()
        var i = 0
        while i < input.count {
            let byte = input[i]
            guard byte == 0x25 || (byte == 0x2B && plusIsSpace) else {
                i += 1
                continue
            }
            var decoded: UInt32
            var length: Int
            if byte == 0x2B {
                (decoded, length) = (0x20, 1)
            } else if unicode, i + 5 < input.count, input[i + 1] | 0x20 == 0x75,
                      let a = ASCII.hexValue(input[i + 2]), let b = ASCII.hexValue(input[i + 3]), let c = ASCII.hexValue(input[i + 4]), let d = ASCII.hexValue(input[i + 5]) {
                (decoded, length) = (UInt32(a) << 12 | UInt32(b) << 8 | UInt32(c) << 4 | UInt32(d), 6)
            } else if i + 2 < input.count, let high = ASCII.hexValue(input[i + 1]), let low = ASCII.hexValue(input[i + 2]) {
                (decoded, length) = (UInt32(high << 4 | low), 3)
            } else {
                i += 1
                continue
            }
            copy.replace(input, i, i + length, in: &out)
            // %XX is a byte (part of UTF-8 or not); %uXXXX is a code point.
            if length == 6 { appendScalar(decoded, to: &out) } else { out.append(UInt8(decoded)) }
            i += length
        }
        return copy.finish(input, in: &out)
    }

    /// UTF-8 for a code point, with the folds decoders on Windows stacks apply.
    public static func appendScalar(_ scalar: UInt32, to out: inout [UInt8]) {
        if scalar == 0x2215 || scalar == 0x2044 {
            out.append(0x2F)
        } else if scalar == 0x2216 {
            out.append(0x5C)
        } else if scalar >= 0xFF01 && scalar <= 0xFF5E {
            out.append(UInt8(scalar - 0xFEE0))
        } else if scalar < 0x80 {
            out.append(UInt8(scalar))
        } else if let unicode = Unicode.Scalar(scalar) {
            out.append(contentsOf: Array(String(Character(unicode)).utf8))
        } else {
            out.append(contentsOf: Array("\u{FFFD}".utf8))
        }
    }
}
