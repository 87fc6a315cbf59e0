/// How a request's evidence adds up to one verdict, as OWASP CRS scores anomalies: each rule
/// that matches adds points by its severity, the ML model adds points by how sure it is, and
/// the request is an incident when the total reaches `threshold`. The defaults make one
/// critical rule, or the model at high confidence, enough on its own; lesser signals need each
/// other.
public struct AnomalyScoring: Sendable, Equatable {
    /// The total at which a request is an incident.
    public var threshold = 5
    /// Rules above this paranoia level are not evaluated (1: the quiet default; 4: everything).
    public var paranoiaLevel = 1

    public static let defaultThreshold = 5

    public init(threshold: Int = AnomalyScoring.defaultThreshold, paranoiaLevel: Int = 1) {
        precondition(threshold > 0 && (1...4).contains(paranoiaLevel), "a positive threshold and a paranoia level from 1 to 4")
        self.threshold = threshold
        self.paranoiaLevel = paranoiaLevel
    }

    /// Points a rule's match adds: critical 5, high 4, medium 3, low 2 (CRS's critical, error,
    /// warning and notice).
    public static func points(for severity: Severity) -> Int {
        switch severity {
        case .critical: 5
        case .high: 4
        case .medium: 3
        case .low: 2
        }
    }

    /// Points the model's score adds: at `incidentThreshold` as many as make an incident alone,
    /// from halfway there those of a high finding, from its alert threshold those of a low one (so
    /// that a medium rule and a model past its threshold together reach the incident threshold),
    /// below it none: a medium rule and a model that is unsure (a search for "/etc/hosts
    /// explained") stay below it.
    public func points(for model: ModelVerdict, detector: ModelDetector) -> Int {
        if model.score >= detector.incidentThreshold { return threshold }
        if model.score >= detector.highThreshold { return Self.points(for: .high) }
        if model.score >= detector.threshold { return Self.points(for: .low) }
        return 0
    }
}
