import Alerts
import Detection
import HTTP
import Synchronization

/// Detection for the proxy's event loops: each loop evaluates with its own scratch state, alerts
/// are written under one lock (the files want one writer), and the verdict says whether to
/// refuse.
public final class RequestInspector: @unchecked Sendable {
    public struct Verdict {
        public var matches: [RuleMatch] = []
        public var model: ModelVerdict?
        /// Matched a blocking rule, or the model scored at least the block threshold.
        public var shouldBlock = false
        /// Detection could not judge the request (regex engine limit).
        public var failed = false
        public var isEmpty: Bool { matches.isEmpty && model == nil }
    }

    private struct State {
        var rules: RuleSet
        var model: ModelDetector?
        var inspected = 0
        var alerts = 0
        var blocked = 0
    }

    private let state: Mutex<State>
    private let outputs: AlertOutputs
    private let blockThreshold: Float?

    public init(rules: RuleSet, model: ModelDetector?, outputs: AlertOutputs, blockThreshold: Float?) {
        state = Mutex(State(rules: rules, model: model))
        self.outputs = outputs
        self.blockThreshold = blockThreshold
    }

    /// Judges a request with the caller's scratch (one per event loop): evaluation runs in
    /// parallel on every loop; only taking the current rules and model is under the lock.
    /// `again`: a second look at the same request (its body complete), not counted twice.
    public func inspect(_ request: HTTPRequest, scratch: DetectionScratch, again: Bool = false) -> Verdict {
        let (rules, model) = state.withLock { state in
            if !again { state.inspected += 1 }
            return (state.rules, state.model)
        }
        var verdict = Verdict()
        let errorsBefore = scratch.engineErrors
        verdict.matches = rules.evaluate(request, scratch: scratch)
        verdict.failed = scratch.engineErrors != errorsBefore
        if let model {
            let scored = model.score(request)
            if scored.score >= model.threshold { verdict.model = scored }
            if let blockThreshold, scored.score >= blockThreshold {
                verdict.model = scored
                verdict.shouldBlock = true
            }
        }
        if verdict.matches.contains(where: { $0.rule.action == .block }) { verdict.shouldBlock = true }
        return verdict
    }

    /// Writes the verdict's alerts; refused requests carry the incident id shown on the 403.
    public func emit(_ verdict: Verdict, for transaction: HTTPTransaction, blocked: Bool, incident: String?, status: Int?) {
        guard !verdict.isEmpty else { return }
        state.withLock { state in
            if blocked { state.blocked += 1 }
            for match in verdict.matches {
                var alert = Alert(transaction: transaction, match: match, action: blocked ? .blocked : .allowed)
                alert.incidentID = incident
                alert.status = status
                state.alerts += 1
                outputs.emit(alert)
            }
            if let model = verdict.model {
                var alert = Alert(transaction: transaction, verdict: model, action: blocked ? .blocked : .allowed)
                alert.incidentID = incident
                alert.status = status
                state.alerts += 1
                outputs.emit(alert)
            }
            outputs.flush()
        }
    }

    /// A request refused for its syntax or size.
    public func emitViolation(_ message: String, signatureID: Int, for transaction: HTTPTransaction, incident: String, status: Int) {
        state.withLock { state in
            var alert = Alert(transaction: transaction, protocolViolation: message, signatureID: signatureID, action: .blocked)
            alert.incidentID = incident
            alert.status = status
            state.alerts += 1
            state.blocked += 1
            outputs.emit(alert)
            outputs.flush()
        }
    }

    public func replaceRules(_ rules: RuleSet) { state.withLock { $0.rules = rules } }
    public func replaceModel(_ model: ModelDetector?) { state.withLock { $0.model = model } }
    public var rules: RuleSet { state.withLock { $0.rules } }
    public var counters: (inspected: Int, alerts: Int, blocked: Int) { state.withLock { ($0.inspected, $0.alerts, $0.blocked) } }

    /// The alert outputs, under the lock every alert write takes.
    public func withOutputs<R>(_ body: (AlertOutputs) throws -> R) rethrows -> R {
        try state.withLock { _ in try body(outputs) }
    }

    /// Reopens the alert files (SIGHUP).
    public func reopenOutputs() { state.withLock { _ in outputs.reopen() } }
}
