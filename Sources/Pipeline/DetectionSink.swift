import Alerts
import Detection
import HTTP

/// HTTP → Detection → Alerts. Requests are judged as soon as they are complete; their alerts
/// go out then (live modes) or once the response is known (replay: alerts carry the status).
public final class DetectionSink: HTTPTransactionSink {
    public private(set) var rules: RuleSet
    /// The ML model, when one is loaded (`--no-ml` leaves it out).
    public var model: ModelDetector?
    public let outputs: AlertOutputs
    public let waitForResponse: Bool
    private let scratch = DetectionScratch()
    private var held: [ObjectIdentifier: ([RuleMatch], ModelVerdict?)] = [:]
    private let next: HTTPTransactionSink?
    public private(set) var requestsInspected = 0
    public private(set) var alertsRaised = 0

    public init(rules: RuleSet, model: ModelDetector? = nil, outputs: AlertOutputs, waitForResponse: Bool, next: HTTPTransactionSink? = nil) {
        self.rules = rules
        self.model = model
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
        let verdict = model?.evaluate(transaction.request)
        if !matches.isEmpty || verdict != nil {
            if waitForResponse {
                held[ObjectIdentifier(transaction)] = (matches, verdict)
            } else {
                emit(transaction, matches, verdict)
            }
        }
        next?.requestCompleted(transaction)
    }

    public func transactionCompleted(_ transaction: HTTPTransaction) {
        if let (matches, verdict) = held.removeValue(forKey: ObjectIdentifier(transaction)) {
            emit(transaction, matches, verdict)
        }
        next?.transactionCompleted(transaction)
    }

    private func emit(_ transaction: HTTPTransaction, _ matches: [RuleMatch], _ verdict: ModelVerdict?) {
        for match in matches {
            alertsRaised += 1
            outputs.emit(Alert(transaction: transaction, match: match))
        }
        if let verdict {
            alertsRaised += 1
            outputs.emit(Alert(transaction: transaction, verdict: verdict))
        }
    }
}
