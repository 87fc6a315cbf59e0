/// Capture time with microsecond resolution (what pcap records and what EVE prints).
public struct Timestamp: Hashable, Comparable, Sendable {
    /// Microseconds since the Unix epoch.
    public var microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    public init(seconds: Int64, microseconds: Int64) {
        self.microseconds = seconds &* 1_000_000 &+ microseconds
    }

    public static let zero = Timestamp(microseconds: 0)

    public var wholeSeconds: Int64 { microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000 }
    public var microsecondFraction: Int64 { microseconds - wholeSeconds * 1_000_000 }
    public var secondsSinceEpoch: Double { Double(microseconds) / 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    public func adding(seconds: Double) -> Timestamp {
        Timestamp(microseconds: microseconds &+ Int64(seconds * 1_000_000))
    }

    /// `1700000000.123456`: fixed six decimals so log lines sort and diff cleanly.
    public var decimalString: String {
        let fraction = String(microsecondFraction)
        return "\(wholeSeconds)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
