/// What the TLS stage made of the sessions it saw: how many were decrypted, and why each of
/// the others was not (the replay summary, the monitor's statistics, the console).
public struct TLSStatistics: Sendable, Equatable {
    public var sessions = 0
    public var decrypted = 0
    public var undecryptable: [TLSSession.Undecryptable: Int] = [:]

    public init() {}

    public mutating func record(_ outcome: TLSSession.Undecryptable?) {
        sessions += 1
        if let outcome { undecryptable[outcome, default: 0] += 1 } else { decrypted += 1 }
    }

    /// `tls: 3 sessions, 2 decrypted, not decrypted: no_secrets 1`, nil when none was seen.
    public var summaryLine: String? {
        guard sessions > 0 else { return nil }
        var line = "tls: \(sessions) sessions, \(decrypted) decrypted"
        let reasons = TLSSession.Undecryptable.allCases.compactMap { reason in undecryptable[reason].map { "\(reason.rawValue) \($0)" } }
        if !reasons.isEmpty { line += ", not decrypted: " + reasons.joined(separator: ", ") }
        return line
    }
}
