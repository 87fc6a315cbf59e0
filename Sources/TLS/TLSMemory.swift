/// What the TLS sessions of one analysing thread may hold together (records waiting for their
/// secrets, partial records and handshake messages), so that a flood of TLS connections that
/// never get their secrets cannot take the sensor's memory: each session is bounded on its
/// own (`TLSSession.maxHeldBytes`), and all of them by `limit`; a session that would pass it
/// lets go (`memory_limit`). Single-threaded, like the stage it belongs to.
public final class TLSMemory {
    public let limit: Int
    public private(set) var used = 0

    public init(limit: Int = 32 << 20) {
        precondition(limit > 0, "the TLS memory limit must be positive")
        self.limit = limit
    }

    /// False (nothing reserved) when `bytes` more would pass the limit.
    func reserve(_ bytes: Int) -> Bool {
        guard used + bytes <= limit else { return false }
        used += bytes
        return true
    }

    func release(_ bytes: Int) {
        used -= bytes
        assert(used >= 0, "TLS held bytes went negative")
    }
}
