import ArgumentParser
import Detection

/// `--rules PATH` shared by every command that loads rules.
struct RulesOption: ParsableArguments {
    @Option(name: .customLong("rules"), help: "Rule file (JSON).")
    var path: String = "rules.json"
    @Option(name: .customLong("regex-match-limit"), help: "Backtracking steps one rule regex may take on one value before it is given up (counted and reported).")
    var regexMatchLimit = RegexLimits.defaultMatchLimit
    @Option(name: .customLong("regex-depth-limit"), help: "Nesting depth one rule regex may reach without the JIT (the JIT has a fixed stack).")
    var regexDepthLimit = RegexLimits.defaultDepthLimit

    func validate() throws {
        guard regexMatchLimit > 0, regexDepthLimit > 0 else { throw ValidationError("--regex-match-limit and --regex-depth-limit must be positive") }
    }

    var regexLimits: RegexLimits { RegexLimits(matchLimit: regexMatchLimit, depthLimit: regexDepthLimit) }

    /// Loads and compiles the rules, or stops the program with the file's error.
    func load() throws -> RuleSet { try Self.load(path: path, regexLimits: regexLimits) }

    static func load(path: String, regexLimits: RegexLimits = RegexLimits()) throws -> RuleSet {
        do {
            return try RuleSet(rules: RuleFile.load(path: path), regexLimits: regexLimits)
        } catch {
            printError("diffai: \(error.description)")
            throw ExitCode(65)
        }
    }
}

/// Everything that makes a verdict, for every command that judges requests: the rules, the
/// model, and how their evidence is scored.
struct DetectionOptions: ParsableArguments {
    @OptionGroup var rules: RulesOption
    @OptionGroup var ml: MLOptions
    @Option(name: .customLong("paranoia"), help: "Paranoia level 1-4: which rules count (1, the default, holds those quiet on ordinary traffic).")
    var paranoia = 1
    @Option(name: .customLong("anomaly-threshold"), help: "Anomaly score at which a request is an incident (default 5: one critical rule, or the model at high confidence).")
    var threshold = AnomalyScoring.defaultThreshold

    func validate() throws {
        guard (1...4).contains(paranoia) else { throw ValidationError("--paranoia is a level from 1 to 4") }
        guard threshold > 0 else { throw ValidationError("--anomaly-threshold must be positive") }
    }

    var scoring: AnomalyScoring { AnomalyScoring(threshold: threshold, paranoiaLevel: paranoia) }

    /// The detector with the rules, the model (unless --no-ml) and the scoring asked for.
    /// `modelIncidentThreshold`: the score at which the model alone makes an incident, when
    /// not the model's own.
    func makeDetector(modelIncidentThreshold: Float? = nil) throws -> Detector {
        Detector(rules: try rules.load(), model: try ml.load(incidentThreshold: modelIncidentThreshold), scoring: scoring)
    }

    /// `58 rules (paranoia 1) and the ML model`, for start-up lines.
    static func describe(_ detector: Detector) -> String {
        let policy = detector.policy
        return "\(policy.rules.enabledCount) rules (paranoia \(policy.scoring.paranoiaLevel), incidents at score \(policy.scoring.threshold))"
            + (policy.model == nil ? "" : " and the ML model")
    }
}
