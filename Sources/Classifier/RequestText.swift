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

    static func decode(_ input: [UInt8], plusIsSpace: Bool) -> [UInt8] {
        PercentDecoding.decode(input, plusIsSpace: plusIsSpace, unicode: true)
    }
}
