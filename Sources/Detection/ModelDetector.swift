import Classifier
import HTTP

/// The ML verdict for one request: the highest score among its parts.
public struct ModelVerdict: Sendable {
    public let score: Float
    /// Which part scored highest: `uri`, `cookie:NAME`, or `arg:NAME` for a body argument.
    public let target: String
    public let snippet: [UInt8]
}

/// Runs the model (loaded once, shared) on the decoded URL, each cookie value and each body argument, and
/// reports at most one verdict per request.
/// Sendable because immutable after init (the classifier too); scoring keeps no state here.
public final class ModelDetector: @unchecked Sendable {
    public let model: URLClassifier
    /// From this score the model's finding counts (it adds to the score); below it the model
    /// adds nothing, so an unsure model never tips a lone weak rule into an incident.
    public let threshold: Float
    /// At this score the model alone makes an incident: the confidence it needs, calibrated for
    /// few false alarms on its own.
    public let incidentThreshold: Float
    /// Halfway from `threshold` to `incidentThreshold`: from here the model's finding weighs as
    /// a high one, below it (down to `threshold`) as a low one.
    public let highThreshold: Float
    public static let signatureID = 900_001

    public init(model: URLClassifier, threshold: Float? = nil, incidentThreshold: Float? = nil) {
        self.model = model
        let threshold = threshold ?? model.threshold
        self.threshold = threshold
        // Without a calibrated value, nine tenths of the way from the threshold to certainty.
        self.incidentThreshold = incidentThreshold ?? max(threshold, threshold + (1 - threshold) * 0.9)
        highThreshold = threshold + (self.incidentThreshold - threshold) / 2
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
        // Cookie values carry payloads as parameters do (session ids and tracking values are
        // inert or tokens, which the model knows as benign).
        for field in request.head.fields where request.head.nameEquals(field, "cookie") {
            request.head.storage.withUnsafeBytes { storage in
                let header = UnsafeRawBufferPointer(rebasing: storage[Int(field.value.start)..<Int(field.value.end)])
                CookieSyntax.forEachPair(in: header) { name, value in
                    let value = UnsafeRawBufferPointer(rebasing: header[value])
                    guard !RequestText.isInertValue(value) else { return }  // empty included
                    let score = model.score(text: RequestText.fromValue(value))
                    if score > best.score {
                        best = ModelVerdict(score: score, target: "cookie:" + String(decoding: header[name], as: UTF8.self),
                                            snippet: Array(value.prefix(80)))
                    }
                }
            }
        }
        guard !request.body.isEmpty else { return best }
        // Body arguments only: the query string was scored with the path.
        let arguments = RequestArguments(request: request, includeQuery: false)
        for (name, value) in zip(arguments.nameRanges, arguments.valueRanges) {
            let value = arguments.storage[value]
            guard !value.withUnsafeBytes(RequestText.isInertValue) else { continue }
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
