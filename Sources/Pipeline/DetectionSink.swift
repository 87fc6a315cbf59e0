import Alerts
import Detection
import HTTP

/// HTTP → Detection → Alerts. Requests are judged as soon as they are complete; their alerts
/// go out then (live modes) or once the response is known (replay: alerts carry the status).
public final class DetectionSink: HTTPTransactionSink {
    public private(set) var rules: RuleSet
    public let outputs: AlertOutputs
    public let waitForResponse: Bool
    private let scratch = DetectionScratch()
    private var held: [ObjectIdentifier: [RuleMatch]] = [:]
    private let next: HTTPTransactionSink?
    public private(set) var requestsInspected = 0
    public private(set) var alertsRaised = 0

    public init(rules: RuleSet, outputs: AlertOutputs, waitForResponse: Bool, next: HTTPTransactionSink? = nil) {
        self.rules = rules
        self.outputs = outputs
        self.waitForResponse = waitForResponse
        self.next = next
    }

    /// Swaps the rule set (reload); requests already judged keep their verdicts.
    public func replaceRules(_ rules: RuleSet) {
        self.rules = rules
    }

    /// Reloads rules from `path`. A file that does not load leaves the rules in force and
    /// reports why; returns whether the new rules are in use.
    @discardableResult
    public func reloadRules(from path: String, report: (String) -> Void) -> Bool {
        do {
            let loaded = try RuleSet(rules: RuleFile.load(path: path))
            rules = loaded
            report("rules reloaded from \(path): \(loaded.count) rules (\(loaded.enabledCount) enabled)")
            return true
        } catch {
            report("rules not reloaded, the \(rules.count) rules in force stay: \(error.description)")
            return false
        }
    }

    public func requestCompleted(_ transaction: HTTPTransaction) {
        requestsInspected += 1
        let matches = rules.evaluate(transaction.request, scratch: scratch)
        if !matches.isEmpty {
            if waitForResponse {
                held[ObjectIdentifier(transaction)] = matches
            } else {
                emit(transaction, matches)
            }
        }
        next?.requestCompleted(transaction)
    }

    public func transactionCompleted(_ transaction: HTTPTransaction) {
        if let matches = held.removeValue(forKey: ObjectIdentifier(transaction)) {
            emit(transaction, matches)
        }
        next?.transactionCompleted(transaction)
    }

    private func emit(_ transaction: HTTPTransaction, _ matches: [RuleMatch]) {
        for match in matches {
            alertsRaised += 1
            outputs.emit(Alert(transaction: transaction, match: match))
        }
    }
}
