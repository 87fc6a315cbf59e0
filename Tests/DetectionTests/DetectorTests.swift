import Classifier
@testable import Detection
import Foundation
import HTTP
import Synchronization
import Testing
import TestSupport

/// One verdict per request: rules add points by severity, the model by its confidence, and the
/// total decides. Every mode judges through `Detector`, so these are the semantics everywhere.
@Suite struct DetectorTests {
    static let rules = """
    [{"id": 1, "alert": "critical one", "severity": "critical", "conditions": [{"target": "args", "operator": "contains", "value": "crit"}]},
     {"id": 2, "alert": "medium one", "severity": "medium", "conditions": [{"target": "args", "operator": "contains", "value": "med"}]},
     {"id": 3, "alert": "low one", "severity": "low", "conditions": [{"target": "args", "operator": "contains", "value": "low"}]},
     {"id": 4, "alert": "paranoid", "severity": "critical", "paranoia": 2, "conditions": [{"target": "args", "operator": "contains", "value": "para"}]},
     {"id": 5, "alert": "blocking low", "severity": "low", "action": "block", "conditions": [{"target": "args", "operator": "contains", "value": "blk"}]}]
    """

    func verdict(_ query: String, scoring: AnomalyScoring = AnomalyScoring()) throws -> Verdict {
        try Detector(rules: ruleSet(Self.rules), scoring: scoring).evaluate(request("/p?q=\(query)"))
    }

    @Test func severitiesAddUpToTheThreshold() throws {
        let critical = try verdict("crit")
        #expect(critical.isIncident && critical.score == 5 && critical.matches.map(\.match.rule.id) == [1])
        let medium = try verdict("med")
        #expect(!medium.isIncident && medium.score == 3)
        let mediumAndLow = try verdict("med-low")
        #expect(mediumAndLow.isIncident && mediumAndLow.score == 5)
        #expect(try !verdict("low").isIncident)
        // The lead: most points, the first of equals in rule-file order.
        if case .rule(let lead)? = try verdict("low-med-crit").lead { #expect(lead.rule.id == 1) } else { Issue.record("no lead") }
        // A stricter threshold needs more evidence.
        #expect(try !verdict("crit", scoring: AnomalyScoring(threshold: 8)).isIncident)
        #expect(try verdict("crit-med", scoring: AnomalyScoring(threshold: 8)).isIncident)
    }

    @Test func paranoiaSelectsRulesAndBlockRulesStandAlone() throws {
        #expect(try verdict("para").matches.isEmpty)
        #expect(try verdict("para", scoring: AnomalyScoring(paranoiaLevel: 2)).isIncident)
        let blocking = try verdict("blk")
        #expect(blocking.isIncident && blocking.forcedByRule && blocking.score == 2)
    }

    /// The original format (no severity) keeps its meaning: every match is an incident.
    @Test func rulesWithoutSeverityAreIncidentsAlone() throws {
        let detector = Detector(rules: try ruleSet(OriginalRuleFormatTests.original))
        #expect(detector.evaluate(request("/a?<script>")).isIncident)
        #expect(detector.evaluate(request("/a?x=1%20UNION%20SELECT")).isIncident)
        #expect(!detector.evaluate(request("/a?x=1")).isIncident)
    }

    @Test func modelPointsFollowItsConfidence() throws {
        let model = try ModelFile.load(path: TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path)
        let detector = ModelDetector(model: model, threshold: 0.6, incidentThreshold: 0.95)
        let scoring = AnomalyScoring()
        func points(_ score: Float) -> Int { scoring.points(for: ModelVerdict(score: score, target: "uri", snippet: []), detector: detector) }
        #expect(points(0.99) == 5)   // alone an incident
        #expect(points(0.8) == 4)    // past halfway to it: a high finding, needs one more signal
        #expect(points(0.65) == 2)   // past the threshold: a low one
        #expect(points(0.55) == 0)   // below the threshold: unsure, adds nothing
        #expect(points(0.1) == 0)
    }

    /// Requests without a path (`OPTIONS *`, CONNECT host:port) give the model nothing to read.
    @Test func theModelSkipsTargetsWithoutAPath() throws {
        let model = try ModelFile.load(path: TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path)
        let detector = ModelDetector(model: model)
        #expect(detector.score(request("*", method: "OPTIONS")).score == 0)
        #expect(detector.score(request("shop.example:443", method: "CONNECT")).score == 0)
        #expect(detector.score(request("/search?q=1%27%20union%20select%20password%20from%20users--")).score > detector.threshold)
    }

    /// Reloading while other threads judge: every evaluation sees one rule set or the other,
    /// never a mix; a bad file leaves the rules in force.
    @Test func reloadsWhileEvaluatingAreConsistent() throws {
        let directory = TestPaths.temporaryDirectory("detector")
        let path = directory.appendingPathComponent("rules.json").path
        let first = #"[{"id": 1, "alert": "a", "conditions": [{"target": "args", "operator": "contains", "value": "x"}]}]"#
        let second = #"[{"id": 2, "alert": "b", "conditions": [{"target": "args", "operator": "contains", "value": "x"}]}, {"id": 3, "alert": "c", "conditions": [{"target": "args", "operator": "contains", "value": "x"}]}]"#
        try Data(first.utf8).write(to: URL(fileURLWithPath: path))
        let detector = Detector(rules: try RuleSet(rules: RuleFile.load(path: path)))
        let mixed = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            if worker == 0 {
                for round in 0..<200 {
                    try? Data((round % 2 == 0 ? second : first).utf8).write(to: URL(fileURLWithPath: path))
                    _ = detector.reloadRules(from: path)
                }
            } else {
                for _ in 0..<2000 {
                    let ids = detector.evaluate(request("/p?q=x")).matches.map(\.match.rule.id)
                    if ids != [1] && ids != [2, 3] { mixed.withLock { $0 += 1 } }
                }
            }
        }
        #expect(mixed.withLock { $0 } == 0)
        try Data("[{".utf8).write(to: URL(fileURLWithPath: path))
        let before = detector.rules.count
        guard case .failure(let error) = detector.reloadRules(from: path) else { Issue.record("a bad file loaded"); return }
        #expect(error.description.contains(path))
        #expect(detector.rules.count == before)
    }
}

/// A regex with nested repetition on a value crafted for it must not hold a thread: the match
/// limit ends it, the rule is judged not matching, and the verdict and the detector name it.
@Suite struct RegexLimitTests {
    static let rules = """
    [{"id": 7, "alert": "catastrophic", "severity": "critical", "conditions": [{"target": "args", "operator": "regex", "value": "^(a+)+$"}]},
     {"id": 8, "alert": "plain", "severity": "critical", "conditions": [{"target": "args", "operator": "regex", "value": "union\\\\s+select"}]}]
    """

    func detector(_ limits: RegexLimits = RegexLimits()) throws -> Detector {
        Detector(rules: try RuleSet(rules: RuleFile.parse(Array(Self.rules.utf8), fileName: "limits.json"), regexLimits: limits))
    }

    @Test func aBacktrackingBombIsCutAndReported() throws {
        let detector = try detector()
        let bomb = String(repeating: "a", count: 40) + "b"
        let started = ContinuousClock.now
        let verdict = detector.evaluate(request("/p?q=\(bomb)"))
        // Without a limit this takes 2^40 steps (hours); the point is that it ends.
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(verdict.failed && verdict.limitedRules == [7] && !verdict.isIncident)
        #expect(detector.regexLimitHits.map(\.rule) == [7] && detector.regexLimitHits.first?.requests == 1)
        #expect(detector.regexLimitSummary?.contains("rule 7 on 1 request") == true)
        // The same regex still matches what it should, and other rules are not affected.
        let ordinary = detector.evaluate(request("/p?q=aaaa&r=union%20select"))
        #expect(!ordinary.failed && ordinary.matches.map(\.match.rule.id) == [7, 8])
        #expect(detector.regexLimitHits.first?.requests == 1)
    }

    @Test func limitsAreConfigurableAndSurviveAReload() throws {
        // A limit generous enough for 16 a's lets the match end with its verdict.
        let generous = try detector(RegexLimits(matchLimit: 10_000_000))
        #expect(!generous.evaluate(request("/p?q=" + String(repeating: "a", count: 16) + "b")).failed)
        let tight = try detector(RegexLimits(matchLimit: 50))
        #expect(tight.evaluate(request("/p?q=" + String(repeating: "a", count: 16) + "b")).failed)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("limits-\(getpid()).json").path
        try Self.rules.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        guard case .success = tight.reloadRules(from: file) else { Issue.record("reload failed"); return }
        #expect(tight.rules.regexLimits.matchLimit == 50)
        #expect(tight.evaluate(request("/p?q=" + String(repeating: "a", count: 16) + "b")).failed)
    }
}
