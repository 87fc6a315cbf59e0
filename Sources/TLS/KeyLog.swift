import NetworkTypes
import Synchronization

/// The secrets of TLS sessions, from key log files in the NSS format that `SSLKEYLOGFILE`
/// makes Apache (mod_ssl), curl, browsers and most TLS libraries write: one line per secret,
/// `LABEL <client random, 64 hex digits> <secret, hex>`, found again by the client random of a
/// session's ClientHello. Lines that are comments, of labels diffai does not use, or malformed
/// are skipped (malformed ones counted); nothing derived from a secret is ever printed.
///
/// Bounded: past `capacity` sessions the oldest are forgotten (a key log of a busy server grows
/// without end; a session's secrets are needed only while its connection is watched).
public struct KeyLog: Sendable {
    /// What one session's lines gave.
    public struct Secrets: Sendable, Equatable {
        /// TLS 1.2 (`CLIENT_RANDOM`).
        public var masterSecret: [UInt8]?
        /// TLS 1.3.
        public var clientHandshake: [UInt8]?
        public var serverHandshake: [UInt8]?
        public var clientApplication: [UInt8]?
        public var serverApplication: [UInt8]?

        public init() {}
    }

    public enum LineResult: Equatable { case added, ignored, malformed }

    public let capacity: Int
    public private(set) var malformedLines = 0
    private var sessions: [[UInt8]: Secrets] = [:]
    /// Client randoms in the order first seen, for forgetting the oldest.
    private var order: [[UInt8]] = []
    private var orderStart = 0

    public init(capacity: Int = 200_000) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { sessions.count }

    public func secrets(forClientRandom random: some Collection<UInt8>) -> Secrets? {
        sessions[Array(random)]
    }

    /// Reads every complete line of `bytes`; returns how many bytes were consumed (a last line
    /// without its newline is left for the next call, as a followed file grows).
    @discardableResult
    public mutating func read(_ bytes: some Collection<UInt8>) -> Int {
        let all = Array(bytes)
        var start = 0
        while let newline = all[start...].firstIndex(of: 0x0A) {
            add(line: all[start..<newline])
            start = newline + 1
        }
        return start
    }

    @discardableResult
    public mutating func add(line raw: some Collection<UInt8>) -> LineResult {
        let line = Array(raw).trimming { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        if line.isEmpty || line.first == UInt8(ascii: "#") { return .ignored }
        let fields = line.split(separator: 0x20, omittingEmptySubsequences: true)
        guard fields.count == 3 else { return malformed() }
        let label = String(decoding: fields[0], as: UTF8.self)
        let keyPath: WritableKeyPath<Secrets, [UInt8]?>
        switch label {
        case "CLIENT_RANDOM": keyPath = \.masterSecret
        case "CLIENT_HANDSHAKE_TRAFFIC_SECRET": keyPath = \.clientHandshake
        case "SERVER_HANDSHAKE_TRAFFIC_SECRET": keyPath = \.serverHandshake
        case "CLIENT_TRAFFIC_SECRET_0": keyPath = \.clientApplication
        case "SERVER_TRAFFIC_SECRET_0": keyPath = \.serverApplication
        default: return .ignored  // EXPORTER_SECRET, early data, RSA pre-master lines
        }
        guard let random = Self.hex(fields[1]), random.count == 32,
              let secret = Self.hex(fields[2]), secret.count == 48 || secret.count == 32 else { return malformed() }
        if sessions[random] == nil {
            forgetOldestIfFull()
            order.append(random)
        }
        sessions[random, default: Secrets()][keyPath: keyPath] = secret
        return .added
    }

    private mutating func malformed() -> LineResult {
        malformedLines += 1
        return .malformed
    }

    private mutating func forgetOldestIfFull() {
        while sessions.count >= capacity, orderStart < order.count {
            sessions[order[orderStart]] = nil
            orderStart += 1
        }
        // The forgotten prefix is dropped now and then, not on every line.
        if orderStart > 4096 && orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }

    static func hex(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var high: UInt8?
        for byte in text {
            guard let value = ASCII.hexValue(byte) else { return nil }
            if let h = high {
                out.append(h << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return out
    }
}

/// The key logs of a sensor, shared by the thread that reads them (a followed file grows while
/// the monitor runs) and the one that decrypts: every access under one lock, which a session
/// takes only when it needs its secrets.
public final class KeyLogStore: Sendable {
    private let log: Mutex<KeyLog>
    private let changes = Atomic<Int>(0)

    public init(capacity: Int = 200_000) {
        log = Mutex(KeyLog(capacity: capacity))
    }

    public func secrets(forClientRandom random: [UInt8]) -> KeyLog.Secrets? {
        log.withLock { $0.secrets(forClientRandom: random) }
    }

    /// Reads the complete lines of `bytes`; returns the bytes consumed.
    @discardableResult
    public func read(_ bytes: [UInt8]) -> Int {
        let consumed = log.withLock { $0.read(bytes) }
        if consumed > 0 { changes.add(1, ordering: .releasing) }
        return consumed
    }

    /// Bumped whenever lines were read: a session waiting for secrets looks again only then.
    public var generation: Int { changes.load(ordering: .acquiring) }

    private let refresher = Mutex<(@Sendable () -> Void)?>(nil)
    private let lastRefresh = Atomic<Int64>(0)

    /// What reads the files now (the follower's poll), for `refresh`.
    public func setRefresher(_ body: (@Sendable () -> Void)?) {
        refresher.withLock { $0 = body }
    }

    /// A session needs secrets the store does not have: the followed files are read now rather
    /// than at the follower's next poll (a server writes a session's secrets during its
    /// handshake, moments before the records they open), at most every `interval` seconds
    /// whichever sessions ask.
    public func refresh(interval: Double = 0.005) {
        let now = Int64(SystemClock.monotonicSeconds() * 1_000_000)
        let last = lastRefresh.load(ordering: .relaxed)
        guard now - last >= Int64(interval * 1_000_000),
              lastRefresh.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        refresher.withLock { $0 }?()
    }

    public var sessions: Int { log.withLock { $0.count } }
    public var malformedLines: Int { log.withLock { $0.malformedLines } }
}
