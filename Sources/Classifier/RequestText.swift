/// What the model reads of a request: the decoded path and each decoded parameter value,
/// joined as one path-like string. Parameter names, `?`, `&` and `=` are left out on purpose:
/// the benign training data is almost all bare paths, so a model that could see them would
/// learn "has parameters ⇒ attack" and flag ordinary traffic.
public enum RequestText {
    public static let maxLength = 1024

    /// `/index.php?q=madrid&page=2` → `/index.php/madrid/0`
    public static func fromTarget<C: Collection>(_ target: C) -> [UInt8] where C.Element == UInt8 {
        if let result = target.withContiguousStorageIfAvailable({ fromTarget(bytes: $0) }) { return result }
        return Array(target).withUnsafeBufferPointer { fromTarget(bytes: $0) }
    }

    /// The same on bytes in memory: one output array and two decoding buffers, however many
    /// parameters (it runs for every request the model scores).
    public static func fromTarget(bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, maxLength))
        var decoded: [UInt8] = [], twice: [UInt8] = []
        if let question = bytes.firstIndex(of: 0x3F) {
            appendNormalized(UnsafeBufferPointer(rebasing: bytes[..<question]), plusIsSpace: false, to: &out, &decoded, &twice)
            var start = question + 1
            while start <= bytes.count, out.count < maxLength {
                var end = start
                while end < bytes.count && bytes[end] != 0x26 && bytes[end] != 0x3B { end += 1 }
                var valueStart = start
                while valueStart < end && bytes[valueStart] != 0x3D { valueStart += 1 }
                valueStart = valueStart < end ? valueStart + 1 : start
                if valueStart < end {
                    out.append(0x2F)
                    appendNormalized(UnsafeBufferPointer(rebasing: bytes[valueStart..<end]), plusIsSpace: true, to: &out, &decoded, &twice)
                }
                start = end + 1
            }
        } else {
            appendNormalized(bytes, plusIsSpace: false, to: &out, &decoded, &twice)
        }
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    /// One parameter value (body arguments): normalized the same way, as a path segment.
    public static func fromValue<C: Collection>(_ value: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = [0x2F]
        var decoded: [UInt8] = [], twice: [UInt8] = []
        let bytes = Array(value)
        bytes.withUnsafeBufferPointer { appendNormalized($0, plusIsSpace: false, to: &out, &decoded, &twice) }
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    /// Percent-decoding twice (double encoding), `%uXXXX`, `+` as space in values, ASCII
    /// lowercase, and every digit as `0` (ids and dates carry no signal, their shape does).
    static func appendNormalized(_ input: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool, to out: inout [UInt8],
                                 _ decoded: inout [UInt8], _ twice: inout [UInt8]) {
        decoded.removeAll(keepingCapacity: true)
        twice.removeAll(keepingCapacity: true)
        func fold(_ bytes: UnsafeBufferPointer<UInt8>) {
            for byte in bytes {
                if byte &- 0x30 < 10 {
                    out.append(0x30)
                } else if byte &- 0x41 < 26 {
                    out.append(byte | 0x20)
                } else {
                    out.append(byte)
                }
            }
        }
        guard PercentDecoding.decode(input, plusIsSpace: plusIsSpace, unicode: true, into: &decoded) else {
            fold(input)
            return
        }
        decoded.withUnsafeBufferPointer { once in
            if once.contains(0x25), PercentDecoding.decode(once, plusIsSpace: false, unicode: true, into: &twice) {
                twice.withUnsafeBufferPointer { fold($0) }
            } else {
                fold(once)
            }
        }
    }
}
