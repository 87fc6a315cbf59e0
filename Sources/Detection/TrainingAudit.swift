import Classifier
import HTTP

extension Detector {
    /// For training: whether a line of a benign file is an attack by the signature rules in
    /// force (the line is a request target, judged as `GET line`). The model is left out, so a
    /// model never decides what the next one is trained on.
    public var benignAudit: @Sendable ([UInt8]) -> Bool {
        { [self] line in
            guard let request = HTTPRequest.synthesize(target: line) else { return false }
            var policy = policy
            policy.model = nil
            return Detector.evaluate(request, policy: policy, scratch: .forCurrentThread).isIncident
        }
    }

    /// The same with a given rule set.
    public static func benignAudit(rules: RuleSet, scoring: AnomalyScoring = AnomalyScoring()) -> @Sendable ([UInt8]) -> Bool {
        Detector(rules: rules, model: nil, scoring: scoring).benignAudit
    }
}
