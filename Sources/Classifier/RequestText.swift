/// What the model reads of a request: the decoded path and each decoded parameter value,
/// joined as one path-like string. Parameter names, `?`, `&` and `=` are left out on purpose:
/// the benign training data is almost all bare paths, so a model that could see them would
/// learn "has parameters ⇒ attack" and flag ordinary traffic.
public enum RequestText {
    public static let maxLength = 1024

    /// `/index.php?q=madrid&page=2` → `/index.php/madrid/0`
    public static func fromTarget<C: Collection>(_ target: C) -> [UInt8] where C.Element == UInt8 {
        let bytes = Array(target)
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, maxLength))
        if let question = bytes.firstIndex(of: 0x3F) {
            appendNormalized(bytes[..<question], plusIsSpace: false, to: &out)
            for pair in bytes[(question + 1)...].split(whereSeparator: { $0 == 0x26 || $0 == 0x3B }) {
                let value = pair.firstIndex(of: 0x3D).map { pair[($0 + 1)...] } ?? pair
                guard !value.isEmpty else { continue }
                out.append(0x2F)
                appendNormalized(value, plusIsSpace: true, to: &out)
                if out.count >= maxLength { break }
            }
        } else {
            appendNormalized(bytes[...], plusIsSpace: false, to: &out)
        }
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    /// One parameter value (body arguments): normalized the same way, as a path segment.
    public static func fromValue<C: Collection>(_ value: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = [0x2F]
        appendNormalized(ArraySlice(value), plusIsSpace: false, to: &out)
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    /// Percent-decoding twice (double encoding), `%uXXXX`, `+` as space in values, ASCII
    /// lowercase, and every digit as `0` (ids and dates carry no signal, their shape does).
    static func appendNormalized(_ input: ArraySlice<UInt8>, plusIsSpace: Bool, to out: inout [UInt8]) {
        var decoded = decode(Array(input), plusIsSpace: plusIsSpace)
        if decoded.contains(0x25) { decoded = decode(decoded, plusIsSpace: false) }
        for byte in decoded {
            if byte &- 0x30 < 10 {
                out.append(0x30)
            } else if byte &- 0x41 < 26 {
                out.append(byte | 0x20)
            } else {
                out.append(byte)
            }
        }
    }

    static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    static func decode(_ input: [UInt8], plusIsSpace: Bool) -> [UInt8] {
        guard input.contains(where: { $0 == 0x25 || (plusIsSpace && $0 == 0x2B) }) else { return input }
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let byte = input[i]
            if byte == 0x2B && plusIsSpace {
                out.append(0x20)
                i += 1
            } else if byte == 0x25, i + 5 < input.count, input[i + 1] | 0x20 == 0x75,
                      let a = hex(input[i + 2]), let b = hex(input[i + 3]), let c = hex(input[i + 4]), let d = hex(input[i + 5]) {
                let scalar = UInt32(a) << 12 | UInt32(b) << 8 | UInt32(c) << 4 | UInt32(d)
                if scalar >= 0xFF01 && scalar <= 0xFF5E {
                    out.append(UInt8(scalar - 0xFEE0))
                } else if scalar < 0x80 {
                    out.append(UInt8(scalar))
                } else if let unicode = Unicode.Scalar(scalar) {
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                }
                i += 6
            } else if byte == 0x25, i + 2 < input.count, let high = hex(input[i + 1]), let low = hex(input[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(byte)
                i += 1
            }
        }
        return out
    }
}
