import Classifier
import HTTP

/// The ML verdict for one request: the highest score among its parts.
public struct ModelVerdict: Sendable {
    public let score: Float
    /// Which part scored highest: `uri`, or `arg:NAME` for a body argument.
    public let target: String
    public let snippet: [UInt8]
}

/// Runs the model (loaded once, shared) on the decoded URL and on each body argument, and
/// reports at most one verdict per request.
public final class ModelDetector: @unchecked Sendable {
    public let model: URLClassifier
    /// At this score the model's finding counts as a high-severity one (it adds to the score).
    public let threshold: Float
    /// At this score the model alone makes an incident: the confidence it needs, calibrated for
    /// few false alarms on its own.
    public let incidentThreshold: Float
    /// Below `threshold`, the score from which the model still adds a low-severity finding.
    public let suspicionThreshold: Float
    public static let signatureID = 900_001

    public init(model: URLClassifier, threshold: Float? = nil, incidentThreshold: Float? = nil) {
        self.model = model
        let threshold = threshold ?? model.threshold
        self.threshold = threshold
        // Without a calibrated value, nine tenths of the way from the threshold to certainty.
        self.incidentThreshold = incidentThreshold ?? max(threshold, threshold + (1 - threshold) * 0.9)
        suspicionThreshold = threshold * 0.8
    }

    /// The highest-scoring part of the request, whether or not it passes the threshold.
    public func score(_ request: HTTPRequest) -> ModelVerdict {
        let target = request.targetBytes
        // `OPTIONS *` (health checks, Apache's own dummy connections) and CONNECT's host:port
        // have no path or query: nothing the model was trained on, so nothing for it to judge
        // (it scored `*` 0.88). The rules still see them.
        let noPath = (target.count == 1 && target.first == UInt8(ascii: "*")) || request.isMethod("CONNECT")
        let score = noPath ? 0 : target.withUnsafeBufferPointer { model.score(target: $0) }
        var best = ModelVerdict(score: score, target: "uri", snippet: Array(target.prefix(80)))
        guard !request.body.isEmpty else { return best }
        // Body arguments only: the query string was scored with the path.
        let arguments = RequestArguments(request: request, includeQuery: false)
        for (name, value) in zip(arguments.nameRanges, arguments.valueRanges) where !value.isEmpty {
            let value = arguments.storage[value]
            let score = model.score(text: RequestText.fromValue(value))
            if score > best.score {
                best = ModelVerdict(score: score, target: "arg:" + String(decoding: arguments.storage[name], as: UTF8.self), snippet: Array(value.prefix(80)))
            }
        }
        return best
    }

    /// The verdict when the request passes the threshold.
    public func evaluate(_ request: HTTPRequest) -> ModelVerdict? {
        let verdict = score(request)
        return verdict.score >= threshold ? verdict : nil
    }
}
