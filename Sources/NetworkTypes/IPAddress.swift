/// An IPv4 or IPv6 address stored inline (no allocation), cheap to hash in flow tables.
/// IPv4 lives in the low 32 bits of `low` with `high == 0`.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    public init(ipv4 value: UInt32) {
        high = 0
        low = UInt64(value)
        isIPv6 = false
    }

    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        isIPv6 = true
    }

    /// Parses dotted-quad IPv4 or textual IPv6 (with `::` compression); nil when malformed.
    public init?(_ text: String) {
        if text.contains(":") {
            guard let words = IPAddress.parseIPv6(text) else { return nil }
            var h: UInt64 = 0, l: UInt64 = 0
            for i in 0..<4 { h = h << 16 | UInt64(words[i]) }
            for i in 4..<8 { l = l << 16 | UInt64(words[i]) }
            self.init(ipv6High: h, low: l)
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var value: UInt32 = 0
            for part in parts {
                guard let byte = UInt8(part) else { return nil }
                value = value << 8 | UInt32(byte)
            }
            self.init(ipv4: value)
        }
    }

    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.isIPv6 != b.isIPv6 { return !a.isIPv6 }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }

    public var description: String {
        if !isIPv6 {
            let v = ipv4Value
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        }
        var words = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 { words[i] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(i))) }
        for i in 0..<4 { words[4 + i] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(i))) }
        // RFC 5952: compress the longest run (length ≥ 2) of zero words, lowercase hex.
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && words[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLength
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(words[i], radix: 16)
            i += 1
        }
        return out
    }

    private static func parseIPv6(_ text: String) -> [UInt16]? {
        var halves: [String] = []
        let chars = Array(text)
        var current = "", i = 0
        while i < chars.count {
            if chars[i] == ":" && i + 1 < chars.count && chars[i + 1] == ":" {
                halves.append(current)
                current = ""
                i += 2
            } else {
                current.append(chars[i])
                i += 1
            }
        }
        halves.append(current)
        guard halves.count <= 2 else { return nil }
        func words(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var result: [UInt16] = []
            for piece in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !piece.isEmpty, piece.count <= 4, let w = UInt16(piece, radix: 16) else { return nil }
                result.append(w)
            }
            return result
        }
        guard let head = words(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 8 ? head : nil }
        guard let tail = words(halves[1]), head.count + tail.count < 8 else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}
