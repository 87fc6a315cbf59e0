import Alerts
import Detection
import HTTP

/// HTTP → Detection → Alerts. Requests are judged as soon as they are complete; an incident's
/// alert goes out then (live modes) or once the response is known (replay: alerts carry the
/// status). One alert per incident, whatever the number of rules behind it.
public final class DetectionSink: HTTPTransactionSink {
    public let detector: Detector
    public let outputs: AlertOutputs
    public let waitForResponse: Bool
    private var held: [ObjectIdentifier: Verdict] = [:]
    private let next: HTTPTransactionSink?
    public private(set) var requestsInspected = 0
    /// Incidents alerted (one alert each).
    public private(set) var alertsRaised = 0

    public init(detector: Detector, outputs: AlertOutputs, waitForResponse: Bool, next: HTTPTransactionSink? = nil) {
        self.detector = detector
        self.outputs = outputs
        self.waitForResponse = waitForResponse
        self.next = next
    }

    public var rules: RuleSet { detector.rules }

    /// Reloads rules from `path`. A file that does not load leaves the rules in force and
    /// reports why; returns whether the new rules are in use.
    @discardableResult
    public func reloadRules(from path: String, report: (String) -> Void) -> Bool {
        switch detector.reloadRules(from: path) {
        case .success(let loaded):
            report("rules reloaded from \(path): \(loaded.count) rules (\(loaded.enabledCount) enabled)")
            return true
        case .failure(let error):
            report("rules not reloaded, the \(detector.rules.count) rules in force stay: \(error.description)")
            return false
        }
    }

    public func requestCompleted(_ transaction: HTTPTransaction) {
        requestsInspected += 1
        let verdict = detector.evaluate(transaction.request, client: transaction.client.address)
        if verdict.isIncident {
            if waitForResponse {
                held[ObjectIdentifier(transaction)] = verdict
            } else {
                emit(transaction, verdict)
            }
        }
        next?.requestCompleted(transaction)
    }

    public func transactionCompleted(_ transaction: HTTPTransaction) {
        if let verdict = held.removeValue(forKey: ObjectIdentifier(transaction)) {
            emit(transaction, verdict)
        }
        next?.transactionCompleted(transaction)
    }

    private func emit(_ transaction: HTTPTransaction, _ verdict: Verdict) {
        alertsRaised += 1
        outputs.emit(Alert(transaction: transaction, verdict: verdict))
    }
}
