import Alerts
import Detection
import Foundation
import HTTP
import Pipeline
import Testing
import TestSupport

@Suite struct RuleReloadTests {
    @Test func badReloadKeepsTheRulesInForce() throws {
        let directory = TestPaths.temporaryDirectory("reload")
        let path = directory.appendingPathComponent("rules.json").path
        try Data(#"[{"id":1,"alert":"first","url":"evil"}]"#.utf8).write(to: URL(fileURLWithPath: path))
        let sink = DetectionSink(detector: Detector(rules: try RuleSet(rules: RuleFile.load(path: path))), outputs: AlertOutputs(), waitForResponse: false)
        var reports: [String] = []

        try Data(#"[{"id":1,"alert":"first","url":"evil"},{"id":2,"alert":"second" "url":"bad"}]"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(!sink.reloadRules(from: path) { reports.append($0) })
        #expect(sink.rules.count == 1)
        #expect(reports.last?.contains("rules not reloaded, the 1 rules in force stay") == true)
        #expect(reports.last?.contains("rules.json:1:") == true)

        try Data(#"[{"id":1,"alert":"first","url":"evil"},{"id":2,"alert":"second","url":"bad"}]"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(sink.reloadRules(from: path) { reports.append($0) })
        #expect(sink.rules.count == 2)
    }

    @Test func sighupReopensAlertFilesDuringReplay() throws {
        // Replay a long capture, rotate alert.log, send SIGHUP: later alerts go to the new file.
        let directory = TestPaths.temporaryDirectory("hup")
        let capture = directory.appendingPathComponent("load.pcap").path
        try run(TestPaths.diffaiBinary, ["synth", "load", "--requests", "40000", "--connections", "400", "--concurrency", "100", "--out", capture])
        let rules = directory.appendingPathComponent("rules.json").path
        try Data(#"[{"id":77,"alert":"every request","conditions":[{"target":"method","operator":"equals","value":"GET"}]}]"#.utf8)
            .write(to: URL(fileURLWithPath: rules))
        let log = directory.appendingPathComponent("alert.log").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.diffaiBinary)
        process.arguments = ["replay", "--no-console", "--rules", rules, "--alert-log", log, "--no-summary", capture, capture, capture]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var rotated = false
        for _ in 0..<400 where process.isRunning {
            if !rotated, (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0 > 0 {
                try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
                kill(process.processIdentifier, SIGHUP)
                rotated = true
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        #expect(rotated)
        #expect(process.terminationStatus == 0)
        let before = try String(contentsOfFile: log + ".1", encoding: .utf8).split(separator: "\n").count
        let after = (try? String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count) ?? 0
        #expect(before > 0)
        #expect(after > 0, "alerts after SIGHUP must go to the reopened file")
        #expect(before + after == 120_000)
    }
}
