import NetworkTypes

/// The bytes one HTTP stage holds across deliveries, for all its connections together: heads
/// being collected, request bodies kept for inspection, requests waiting for their responses.
/// Single-threaded, like the stage it belongs to.
///
/// Past `limit`, the connections that began holding earliest are made to let go first: what
/// they hold is inspected now, as it is (flagged `memory_pressure`), and the rest of those
/// messages is skipped. A flood of unfinished requests therefore costs the flood's oldest
/// connections, never the newest; and nothing is dropped uninspected.
public final class HTTPMemoryPool {
    public struct Statistics: Sendable, Equatable {
        /// Times a connection was made to let go of what it held.
        public var sheds = 0
        /// Bytes released that way.
        public var shedBytes = 0
        public init() {}
    }

    public let limit: Int
    public private(set) var used = 0
    public private(set) var statistics = Statistics()
    private var holders = IntrusiveList<PoolLinks>()
    private var listed = 0
    private var shedding = false

    public init(limit: Int) {
        precondition(limit > 0, "the HTTP memory limit must be positive")
        self.limit = limit
    }

    /// An analyzer now holds `held` bytes.
    func update(_ analyzer: HTTPConnectionAnalyzer, held: Int) {
        used += held - analyzer.accountedBytes
        analyzer.accountedBytes = held
        assert(used >= 0, "HTTP held bytes went negative")
        if held > 0 && !analyzer.isPoolListed { append(analyzer) }
        if held == 0 && analyzer.isPoolListed { remove(analyzer) }
        if used > limit && !shedding { shed() }
    }

    /// An analyzer going away: its bytes leave the count (no shedding from a deinit).
    func release(_ analyzer: HTTPConnectionAnalyzer) {
        used -= analyzer.accountedBytes
        analyzer.accountedBytes = 0
        remove(analyzer)
    }

    func remove(_ analyzer: HTTPConnectionAnalyzer) {
        guard analyzer.isPoolListed else { return }
        holders.remove(analyzer)
        analyzer.isPoolListed = false
        listed -= 1
    }

    private func append(_ analyzer: HTTPConnectionAnalyzer) {
        holders.append(analyzer)
        analyzer.isPoolListed = true
        listed += 1
    }

    /// The links of the holders' list, in the analyzers.
    enum PoolLinks: IntrusiveListLinks {
        static func newer(of analyzer: HTTPConnectionAnalyzer) -> HTTPConnectionAnalyzer? { analyzer.poolNewer }
        static func setNewer(of analyzer: HTTPConnectionAnalyzer, to newer: HTTPConnectionAnalyzer?) { analyzer.poolNewer = newer }
        static func older(of analyzer: HTTPConnectionAnalyzer) -> HTTPConnectionAnalyzer? { analyzer.poolOlder }
        static func setOlder(of analyzer: HTTPConnectionAnalyzer, to older: HTTPConnectionAnalyzer?) { analyzer.poolOlder = older }
    }

    /// Down to seven eighths of the limit, oldest holders first, so one shed is not needed
    /// again for the very next byte.
    private func shed() {
        shedding = true
        defer { shedding = false }
        let target = limit - limit / 8
        // One pass over the holders at most: each is asked once.
        var remaining = listed
        while used > target, remaining > 0, let victim = holders.oldest {
            remaining -= 1
            let before = victim.accountedBytes
            statistics.sheds += 1
            victim.shedForMemory()
            statistics.shedBytes += before - victim.accountedBytes
            // Whatever it still holds is new (a head started again): it goes to the back.
            if victim.isPoolListed && holders.oldest === victim {
                remove(victim)
                if victim.accountedBytes > 0 { append(victim) }
            }
        }
    }
}
