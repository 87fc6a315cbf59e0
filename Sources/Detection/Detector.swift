import Classifier
import HTTP
import NetworkTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one place verdicts are made, for every mode (replay, monitor, proxy, scan, console):
/// it holds the rules, the model and the scoring in force, turns a request into a `Verdict`,
/// and swaps rules or model while requests are judged (a bad rule file keeps the rules in
/// force). Safe to call from any thread; each thread evaluates with working memory of its own.
public final class Detector: Sendable {
    /// What is in force: replaced whole, never changed in place, so an evaluation always
    /// sees one consistent set.
    public struct Policy: Sendable {
        public var rules: RuleSet
        public var model: ModelDetector?
        public var scoring: AnomalyScoring

        public init(rules: RuleSet, model: ModelDetector? = nil, scoring: AnomalyScoring = AnomalyScoring()) {
            self.rules = rules
            self.model = model
            self.scoring = scoring
        }
    }

    private let state: Mutex<Policy>
    /// Per rule id, the requests on which its regex hit the limit (rare: touched only then).
    private let limitHits = Mutex<[Int: Int]>([:])

    public init(_ policy: Policy) {
        state = Mutex(policy)
    }

    public convenience init(rules: RuleSet, model: ModelDetector? = nil, scoring: AnomalyScoring = AnomalyScoring()) {
        self.init(Policy(rules: rules, model: model, scoring: scoring))
    }

    public var policy: Policy { state.withLock { $0 } }
    public var rules: RuleSet { policy.rules }
    public var model: ModelDetector? { policy.model }
    public var scoring: AnomalyScoring { policy.scoring }

    /// Judges one request with what is in force now; `client` (the address it came from) is
    /// what rule exclusions by network look at.
    public func evaluate(_ request: HTTPRequest, client: IPAddress? = nil) -> Verdict {
        let verdict = Self.evaluate(request, policy: policy, scratch: DetectionScratch.forCurrentThread, client: client)
        if verdict.failed {
            limitHits.withLock { hits in
                for id in verdict.limitedRules { hits[id, default: 0] += 1 }
            }
        }
        return verdict
    }

    /// Rules whose regex hit its limit, with the number of requests each time, most first.
    public var regexLimitHits: [(rule: Int, requests: Int)] {
        limitHits.withLock { $0.map { (rule: $0.key, requests: $0.value) } }
            .sorted { ($0.requests, $1.rule) > ($1.requests, $0.rule) }
    }

    /// `regex limit: rule 1234 on 5 requests, …` for summaries; nil when no regex hit it.
    public var regexLimitSummary: String? {
        let hits = regexLimitHits
        guard !hits.isEmpty else { return nil }
        let limits = rules.regexLimits
        return "regex limit (match \(limits.matchLimit), depth \(limits.depthLimit)) reached, rules judged not matching: "
            + hits.prefix(10).map { "rule \($0.rule) on \($0.requests) request\($0.requests == 1 ? "" : "s")" }.joined(separator: ", ")
            + (hits.count > 10 ? " and \(hits.count - 10) more rules" : "")
    }

    /// Judges with a given policy and scratch: the definition every mode shares.
    public static func evaluate(_ request: HTTPRequest, policy: Policy, scratch: DetectionScratch, client: IPAddress? = nil) -> Verdict {
        var verdict = Verdict()
        let scoring = policy.scoring
        for match in policy.rules.evaluate(request, scratch: scratch, paranoiaLevel: scoring.paranoiaLevel, client: client) {
            let points = AnomalyScoring.points(for: match.rule.severity)
            verdict.matches.append((match, points))
            verdict.score += points
            if match.rule.action == .block { verdict.forcedByRule = true }
        }
        for id in scratch.limitedRules where !verdict.limitedRules.contains(id) { verdict.limitedRules.append(id) }
        if let model = policy.model {
            let scored = model.score(request)
            verdict.model = scored
            verdict.modelPoints = scoring.points(for: scored, detector: model)
            verdict.score += verdict.modelPoints
        }
        verdict.isIncident = verdict.score >= scoring.threshold || verdict.forcedByRule
        return verdict
    }

    // MARK: changing what is in force

    public func replaceRules(_ rules: RuleSet) { state.withLock { $0.rules = rules } }
    public func replaceModel(_ model: ModelDetector?) { state.withLock { $0.model = model } }
    public func replaceScoring(_ scoring: AnomalyScoring) { state.withLock { $0.scoring = scoring } }

    /// Loads and compiles `path`; on success the new rules are in force, otherwise the old ones
    /// stay and the error says why.
    @discardableResult
    public func reloadRules(from path: String) -> Result<RuleSet, RuleFileError> {
        do {
            let loaded = try RuleSet(rules: RuleFile.load(path: path), regexLimits: rules.regexLimits)
            replaceRules(loaded)
            return .success(loaded)
        } catch {
            return .failure(error)
        }
    }

    /// Loads a model file and puts it in force with `threshold` (nil: the model's own); a file
    /// that does not load leaves the model in force.
    @discardableResult
    public func activateModel(path: String, threshold: Float? = nil) -> Result<ModelDetector, ModelFile.LoadError> {
        do {
            let detector = ModelDetector(model: try ModelFile.load(path: path), threshold: threshold)
            replaceModel(detector)
            return .success(detector)
        } catch {
            return .failure(error)
        }
    }
}

extension DetectionScratch {
    /// This thread's scratch, made on first use and freed when the thread ends. One per
    /// thread, shared by every detector: an evaluation runs to its end before the thread starts
    /// another, and a scratch adapts to whichever rule set it is given.
    public static var forCurrentThread: DetectionScratch {
        let key = threadKey
        if let raw = pthread_getspecific(key) {
            return Unmanaged<DetectionScratch>.fromOpaque(raw).takeUnretainedValue()
        }
        let scratch = DetectionScratch()
        pthread_setspecific(key, Unmanaged.passRetained(scratch).toOpaque())
        return scratch
    }

    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { raw in
            guard let raw else { return }
            Unmanaged<DetectionScratch>.fromOpaque(raw).release()
        }
        precondition(created == 0, "a thread-local key for detection scratch")
        return key
    }()
}
