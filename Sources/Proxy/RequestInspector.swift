import Alerts
import Detection
import HTTP
import NetworkTypes
import Synchronization

/// Detection for the proxy's event loops: the shared `Detector` judges (each loop with its own
/// working memory), alerts go to a writer thread (an event loop never waits on a disk), and the
/// verdict says whether to refuse: with `--block`, every incident is refused.
public final class RequestInspector: Sendable {
    public let detector: Detector
    private struct Counters {
        var inspected = 0
        var alerts = 0
        var blocked = 0
    }

    private let counters: Mutex<Counters>
    private let writer: AlertWriter

    public init(detector: Detector, outputs: AlertOutputs) {
        self.detector = detector
        counters = Mutex(Counters())
        writer = AlertWriter(outputs: outputs)
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
        }
        writer.submit(alert)
    }

    /// A request refused for its syntax, size or pace.
    public func emitViolation(_ message: String, signatureID: Int, for transaction: HTTPTransaction, incident: String, status: Int) {
        var alert = Alert(transaction: transaction, protocolViolation: message, signatureID: signatureID, action: .blocked)
        alert.incidentID = incident
        alert.status = status
        counters.withLock { state in
            state.alerts += 1
            state.blocked += 1
        }
        writer.submit(alert)
    }

    public var counts: (inspected: Int, alerts: Int, blocked: Int) { counters.withLock { ($0.inspected, $0.alerts, $0.blocked) } }

    /// Alerts that did not reach every output (including any the writer's full queue turned away).
    public var alertsNotWritten: Int { writer.alertsNotWritten }

    /// One line for the end of a run, nil when every alert was written.
    public var lossReport: String? { writer.lossReport }

    /// The alert outputs, while the writer thread leaves them alone.
    public func withOutputs<R>(_ body: (AlertOutputs) throws -> R) rethrows -> R {
        try writer.withOutputs(body)
    }

    /// Reopens the alert files (SIGHUP).
    public func reopenOutputs() { writer.reopen() }

    /// Writes the alerts still queued; call when the proxy has stopped, before reading the
    /// outputs' losses.
    public func finish() { writer.finish() }
}
