import HTTP

/// Everything detection concluded about one request: the rules that matched, the model's
/// score, the anomaly score they add up to, and whether that makes the request an incident.
public struct Verdict: Sendable {
    /// The rules that matched and counted (at the paranoia level, after exclusions), in
    /// rule-file order, each with the points it added.
    public var matches: [(match: RuleMatch, points: Int)] = []
    /// The model's judgement, when a model is in use.
    public var model: ModelVerdict?
    public var modelPoints = 0
    public var score = 0
    public var isIncident = false
    /// A rule with `"action": "block"` matched.
    public var forcedByRule = false
    /// Rules whose regex hit its limit (`RegexLimits`) on this request: judged as not
    /// matching, so the request was not judged fully.
    public var limitedRules: [Int] = []
    /// Detection could not judge the request fully (a regex hit the engine's limit).
    public var failed: Bool { !limitedRules.isEmpty }

    public init() {}

    public var isEmpty: Bool { matches.isEmpty && modelPoints == 0 }

    /// What names the incident: the match that added the most points (the first of equals), or
    /// the model when it added more than any rule.
    public enum Lead: Sendable {
        case rule(RuleMatch)
        case model(ModelVerdict)
    }

    public var lead: Lead? {
        var best: (match: RuleMatch, points: Int)?
        for entry in matches where entry.points > (best?.points ?? 0) { best = entry }
        if let model, modelPoints > 0, modelPoints > (best?.points ?? 0) { return .model(model) }
        return best.map { .rule($0.match) }
    }
}
