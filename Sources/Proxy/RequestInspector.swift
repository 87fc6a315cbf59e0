import Alerts
import Detection
import HTTP
import NetworkTypes
import Synchronization

/// Detection for the proxy's event loops: the shared `Detector` judges (each loop with its own
/// working memory), alerts are written under one lock (the files want one writer), and the
/// verdict says whether to refuse: with `--block`, every incident is refused.
public final class RequestInspector: Sendable {
    public let detector: Detector
    private struct Counters {
        var inspected = 0
        var alerts = 0
        var blocked = 0
    }

    private let counters: Mutex<Counters>
    // The outputs are used only under `counters`' lock.
    private let outputs: UncheckedOutputs

    private struct UncheckedOutputs: @unchecked Sendable { let value: AlertOutputs }

    public init(detector: Detector, outputs: AlertOutputs) {
        self.detector = detector
        counters = Mutex(Counters())
        self.outputs = UncheckedOutputs(value: outputs)
    }

    /// Judges a request. `again`: a second look at the same request (its body complete), not
    /// counted twice.
    public func inspect(_ request: HTTPRequest, client: IPAddress? = nil, again: Bool = false) -> Verdict {
        if !again { counters.withLock { $0.inspected += 1 } }
        return detector.evaluate(request, client: client)
    }

    /// Writes the incident's alert; refused requests carry the incident id shown on the 403.
    public func emit(_ verdict: Verdict, for transaction: HTTPTransaction, blocked: Bool, incident: String?, status: Int?) {
        guard verdict.isIncident else { return }
        var alert = Alert(transaction: transaction, verdict: verdict, action: blocked ? .blocked : .allowed)
        alert.incidentID = incident
        alert.status = status
        counters.withLock { state in
            if blocked { state.blocked += 1 }
            state.alerts += 1
            outputs.value.emit(alert)
            outputs.value.flush()
        }
    }

    /// A request refused for its syntax or size.
    public func emitViolation(_ message: String, signatureID: Int, for transaction: HTTPTransaction, incident: String, status: Int) {
        var alert = Alert(transaction: transaction, protocolViolation: message, signatureID: signatureID, action: .blocked)
        alert.incidentID = incident
        alert.status = status
        counters.withLock { state in
            state.alerts += 1
            state.blocked += 1
            outputs.value.emit(alert)
            outputs.value.flush()
        }
    }

    public var counts: (inspected: Int, alerts: Int, blocked: Int) { counters.withLock { ($0.inspected, $0.alerts, $0.blocked) } }

    /// The alert outputs, under the lock every alert write takes.
    public func withOutputs<R>(_ body: (AlertOutputs) throws -> R) rethrows -> R {
        try counters.withLock { _ in try body(outputs.value) }
    }

    /// Reopens the alert files (SIGHUP).
    public func reopenOutputs() { counters.withLock { _ in outputs.value.reopen() } }
}
