@testable import Alerts
import Detection
import Foundation
import NetworkTypes
import Testing
import TestSupport

func sampleAlert(target: String = "/items?id=1%20UNION%20SELECT", snippet: String = "1 union select") -> Alert {
    Alert(timestamp: Timestamp(seconds: 1_700_000_000, microseconds: 123_456), flowID: 42, transactionIndex: 3,
          source: Endpoint(address: IPAddress("10.0.0.1")!, port: 51000), destination: Endpoint(address: IPAddress("10.0.0.2")!, port: 8080),
          method: Array("GET".utf8), host: Array("shop.example".utf8), target: Array(target.utf8),
          userAgent: Array("curl/8.5.0".utf8), contentType: nil, httpVersion: "HTTP/1.1", status: 200, responseLength: 512,
          signatureID: 1001, revision: 1, message: "SQL injection: UNION SELECT", severity: .critical,
          category: "Web Application Attack", verdictSource: .rule, score: nil, matchedTarget: "args",
          snippet: Array(snippet.utf8), action: .allowed, anomalies: ["bare_lf"])
}

@Suite struct AlertFormatTests {
    @Test func alertLogKeepsTheOriginalPrefix() {
        let line = String(decoding: AlertFormat.alertLogLine(sampleAlert()), as: UTF8.self)
        #expect(line == "1700000000 - SQL injection: UNION SELECT | src=10.0.0.1:51000 dst=10.0.0.2:8080 method=GET url=http://shop.example/items?id=1%20UNION%20SELECT rule=1001 severity=critical action=allowed source=rule target=args snippet=1\\x20union\\x20select\n")
        var incident = sampleAlert()
        incident.matches = [AlertMatch(signatureID: 1001, revision: 1, message: "x", severity: .critical, category: "c", source: .rule, points: 5, target: "args", snippet: []),
                            AlertMatch(signatureID: 900_001, revision: 1, message: "ml", severity: .medium, category: "c", source: .ml, points: 4, target: "uri", snippet: [])]
        incident.anomalyScore = 9
        #expect(String(decoding: AlertFormat.alertLogLine(incident), as: UTF8.self).hasSuffix(" rules=1001,ml anomaly_score=9\n"))
    }

    @Test func attackerTextCannotBreakTheLine() {
        let alert = sampleAlert(target: "/a\r\n1700000001 - forged alert | src=6.6.6.6\u{1b}[31m", snippet: "x\ny\u{2028}z\\")
        let line = String(decoding: AlertFormat.alertLogLine(alert), as: UTF8.self)
        #expect(line.filter { $0 == "\n" || $0 == "\r\n" }.count == 1)
        #expect(line.hasSuffix("\n"))
        #expect(line.contains("url=http://shop.example/a\\x0d\\x0a1700000001\\x20-\\x20forged\\x20alert\\x20|\\x20src=6.6.6.6\\x1b[31m"))
        #expect(line.contains("snippet=x\\x0ay\\xe2\\x80\\xa8z\\x5c"))
        let console = AlertFormat.consoleLine(alert)
        #expect(!console.contains("\u{1b}") && !console.contains("\n"))
    }

    @Test func eveLineHasSuricataFields() throws {
        let line = AlertFormat.eveLine(sampleAlert())
        #expect(line.last == 0x0A && line.dropLast().allSatisfy { $0 != 0x0A })
        let object = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
        #expect(object["timestamp"] as? String == "2023-11-14T22:13:20.123456+0000")
        #expect(object["event_type"] as? String == "alert")
        #expect(object["flow_id"] as? Int == 42)
        #expect(object["tx_id"] as? Int == 3)
        #expect(object["src_ip"] as? String == "10.0.0.1")
        #expect(object["src_port"] as? Int == 51000)
        #expect(object["dest_ip"] as? String == "10.0.0.2")
        #expect(object["dest_port"] as? Int == 8080)
        #expect(object["proto"] as? String == "TCP")
        #expect(object["app_proto"] as? String == "http")
        let alert = try #require(object["alert"] as? [String: Any])
        #expect(alert["action"] as? String == "allowed")
        #expect(alert["signature_id"] as? Int == 1001)
        #expect(alert["signature"] as? String == "SQL injection: UNION SELECT")
        #expect(alert["category"] as? String == "Web Application Attack")
        #expect(alert["severity"] as? Int == 1)
        #expect(alert["gid"] as? Int == 1)
        let http = try #require(object["http"] as? [String: Any])
        #expect(http["hostname"] as? String == "shop.example")
        #expect(http["url"] as? String == "/items?id=1%20UNION%20SELECT")
        #expect(http["http_method"] as? String == "GET")
        #expect(http["protocol"] as? String == "HTTP/1.1")
        #expect(http["http_user_agent"] as? String == "curl/8.5.0")
        #expect(http["status"] as? Int == 200)
        #expect(http["length"] as? Int == 512)
        let diffai = try #require(object["diffai"] as? [String: Any])
        #expect(diffai["source"] as? String == "rule")
        #expect(diffai["snippet"] as? String == "1 union select")
        #expect(diffai["anomalies"] as? [String] == ["bare_lf"])
    }

    @Test func eveTimestampsAcrossDates() {
        #expect(AlertFormat.eveTimestamp(Timestamp(seconds: 0, microseconds: 5)) == "1970-01-01T00:00:00.000005+0000")
        #expect(AlertFormat.eveTimestamp(Timestamp(seconds: 951_782_400, microseconds: 0)) == "2000-02-29T00:00:00.000000+0000")
        #expect(AlertFormat.eveTimestamp(Timestamp(seconds: 1_795_910_400, microseconds: 999_999)) == "2026-11-29T00:00:00.999999+0000")
    }
}

@Suite struct AlertFileTests {
    @Test func appendsAndFollowsRotation() throws {
        let directory = TestPaths.temporaryDirectory("alertfile")
        let path = directory.appendingPathComponent("alert.log").path
        try Data("existing line\n".utf8).write(to: URL(fileURLWithPath: path))
        let file = AlertFile(path: path) { _ in }
        file.append(Array("one\n".utf8))
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        file.append(Array("two\n".utf8))  // still the rotated file until reopened
        file.reopen()
        file.append(Array("three\n".utf8))
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == "existing line\none\ntwo\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "three\n")
    }

    @Test func writeFailuresAreReportedOnceAndDetectionGoesOn() {
        var reports: [String] = []
        let file = AlertFile(path: "/dev/full") { reports.append($0) }
        for _ in 0..<5 { file.append(Array("alert\n".utf8)) }
        #expect(reports.count == 1)
        #expect(reports.first?.contains("/dev/full: write failed") == true)
        #expect(file.linesLost == 5)
        let unwritable = AlertFile(path: "/nonexistent-dir/alert.log") { reports.append($0) }
        unwritable.append(Array("x\n".utf8))
        unwritable.append(Array("y\n".utf8))
        #expect(reports.count == 2)
        #expect(reports.last?.contains("cannot open") == true)
    }
}

/// Replay of the attack capture yields exactly the expected incidents, in all three outputs:
/// one alert per attack request, named by its highest-scoring rule (the first of equals in
/// rule-file order), every matching rule listed with it.
@Suite struct EndToEndAlertTests {
    static let expected: [(target: String, rule: Int, rules: [Int], score: Int)] = [
        ("/items?id=1%20UNION%20SELECT%20password%20FROM%20users--", 2, [2, 1001, 1101], 15),
        ("/comment", 3, [3, 2001, 2005, 2101], 18),
        ("/download?file=..%2F..%2F..%2Fetc%2Fpasswd", 3001, [3001, 3002, 3101], 13),
        ("/upload", 4001, [4001, 3002, 3101, 4101], 18),
        ("/api", 6001, [6001, 6101], 10), ("/cgi-bin/status", 7001, [7001, 4101], 10), ("/smuggle", 9001, [9001], 5),
        ("/api/login", 1002, [1002, 1101], 10), ("/index.php?id=1", 8001, [8001], 5),
    ]

    @Test func replayWritesTheSameAlertsEverywhere() throws {
        let directory = TestPaths.temporaryDirectory("e2e")
        let log = directory.appendingPathComponent("alert.log").path
        let eve = directory.appendingPathComponent("eve.json").path
        let capture = TestPaths.capture("http-attacks.pcap")
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let readable = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--rules", rules, "--alert-log", log, "--eve", eve, capture])
        #expect(readable.status == 0, "\(readable.stderr)")
        let json = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--rules", rules, "--json", "--no-summary", capture])

        // Readable stdout: "... [severity] RULE message | src -> dst METHOD url ..."
        let readableLines = readable.stdout.split(separator: "\n").map(String.init)
        let fromReadable = readableLines.map { line -> (String, Int) in
            let parts = line.split(separator: " ")
            let url = String(parts[parts.firstIndex(of: "->")! + 3]).replacingOccurrences(of: "http://shop.example", with: "")
            return (url, Int(parts[3])!)
        }
        // alert.log: "SECONDS - MESSAGE | ... url=... rule=N ..."
        let logLines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let fromLog = logLines.map { line -> (String, Int) in
            let fields = Dictionary(uniqueKeysWithValues: line.components(separatedBy: " | ")[1].split(separator: " ").map {
                let pair = $0.split(separator: "=", maxSplits: 1); return (String(pair[0]), String(pair[1]))
            })
            return (fields["url"]!.replacingOccurrences(of: "http://shop.example", with: ""), Int(fields["rule"]!)!)
        }
        for line in logLines { #expect(line.range(of: #"^\d{10} - "#, options: .regularExpression) != nil) }
        func fromEVE(_ text: String) throws -> [(String, Int)] {
            try text.split(separator: "\n").map {
                let object = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
                return ((object["http"] as! [String: Any])["url"] as! String, (object["alert"] as! [String: Any])["signature_id"] as! Int)
            }
        }
        let expected = Self.expected.map { "\($0.target) \($0.rule)" }
        #expect(fromReadable.map { "\($0.0) \($0.1)" } == expected)
        #expect(fromLog.map { "\($0.0) \($0.1)" } == expected)
        #expect(try fromEVE(String(contentsOfFile: eve, encoding: .utf8)).map { "\($0.0) \($0.1)" } == expected)
        #expect(try fromEVE(json.stdout).map { "\($0.0) \($0.1)" } == expected)
        // Every rule of each incident: alert.log's rules= and EVE's diffai.matches, with the total.
        let logRules = logLines.map { line in
            line.split(separator: " ").first { $0.hasPrefix("rules=") }.map { String($0.dropFirst(6)) } ?? ""
        }
        #expect(logRules == Self.expected.map { $0.rules.map(String.init).joined(separator: ",") })
        let eveObjects = try json.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let eveRules = eveObjects.map { (($0["diffai"] as! [String: Any])["matches"] as! [[String: Any]]).map { $0["signature_id"] as! Int } }
        #expect(eveRules == Self.expected.map(\.rules))
        #expect(eveObjects.map { ($0["diffai"] as! [String: Any])["score"] as? Int } == Self.expected.map(\.score))
        #expect(readable.stderr.contains("detection: \(TestPaths.defaultRules.count) rules (\(TestPaths.defaultRules.enabled) enabled, paranoia 1), no ML model, 12 requests inspected, 9 incidents"))
    }
}

/// The shipped rules on the shared datasets: false alarms on benign paths stay at most 0.5 %.
@Suite struct DefaultRulesDatasetTests {
    static func dataset(_ name: String) -> String? {
        for base in [TestPaths.packageRoot.appendingPathComponent("Dataset"), TestPaths.packageRoot.appendingPathComponent("../shared/Dataset")] {
            let path = base.appendingPathComponent(name).standardized.path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    static var available: Bool { dataset("goodqueries.txt") != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    func flaggedShare(_ file: String, filter: String = "cat") throws -> (flagged: Int, total: Int) {
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let result = try run("/bin/sh", ["-c", "tr -d '\\r' < '\(file)' | \(filter) | '\(TestPaths.diffaiBinary)' scan --no-ml --rules '\(rules)'"])
        let lines = result.stdout.split(separator: "\n")
        return (lines.filter { $0.hasPrefix("1") }.count, lines.count)
    }

    @Test(.enabled(if: available))
    func falseAlarmsOnBenignPathsAtMostHalfAPercent() throws {
        let good = try #require(Self.dataset("goodqueries.txt"), "goodqueries.txt not found in Dataset/ or ../shared/Dataset/")
        let (all, lines) = try flaggedShare(good)
        // The file's label noise: about 1,700 of its "benign" paths pass a whole remote URL as a
        // parameter (`?base_path=http://192.168.202.118:8080/zz5t?`), the inclusion probes of a
        // scanner, which the RFI rules rightly flag. The false-alarm share is measured without them.
        let (flagged, total) = try flaggedShare(good, filter: "grep -v -i -E '=(https?|ftps?)://'")
        #expect(total > 100_000)
        let share = Double(flagged) / Double(total)
        print("default rules on goodqueries.txt: \(all)/\(lines) flagged; without its remote-inclusion probes \(flagged)/\(total) (\(String(format: "%.3f", share * 100)) %)")
        #expect(share <= 0.005)
    }

    @Test(.enabled(if: available))
    func catchRateOnAttacksIsReported() throws {
        let bad = try #require(Self.dataset("badqueries.txt"))
        let (flagged, total) = try flaggedShare(bad)
        let share = Double(flagged) / Double(total)
        print("default rules on badqueries.txt: \(flagged)/\(total) caught (\(String(format: "%.2f", share * 100)) %)")
        #expect(total > 40_000)
        #expect(share >= 0.70, "the default rules caught 81.7 % when every rule alerted alone; 71.8 % with anomaly scoring at paranoia 1")
    }
}


/// The alert writer the proxy's event loops hand their alerts to: submitting never waits for
/// the outputs, a stalled output holds a bounded queue, and what it turns away is reported.
@Suite struct AlertWriterTests {
    /// An output that stalls until released, as a full or hung disk would.
    final class StalledOutput: @unchecked Sendable {
        private var mutex = pthread_mutex_t()
        private var entered = false
        private var released = false
        private(set) var written = 0
        init() { pthread_mutex_init(&mutex, nil) }

        func write() {
            pthread_mutex_lock(&mutex)
            entered = true
            while !released {
                pthread_mutex_unlock(&mutex)
                usleep(1000)
                pthread_mutex_lock(&mutex)
            }
            written += 1
            pthread_mutex_unlock(&mutex)
        }

        var hasEntered: Bool { pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }; return entered }
        func release() { pthread_mutex_lock(&mutex); released = true; pthread_mutex_unlock(&mutex) }
        var count: Int { pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }; return written }
    }

    @Test func aStalledOutputNeitherBlocksTheSubmitterNorGrowsWithoutBound() throws {
        let stalled = StalledOutput()
        let outputs = AlertOutputs()
        outputs.listeners.append { _ in stalled.write() }
        let writer = AlertWriter(outputs: outputs, capacity: 4)
        writer.submit(sampleAlert())
        let deadline = SystemClock.monotonicSeconds() + 10
        while !stalled.hasEntered && SystemClock.monotonicSeconds() < deadline { usleep(1000) }
        #expect(stalled.hasEntered)
        // The writer is stuck in its first alert: four more wait, the other five are turned away,
        // and none of the ten submissions waited for the output.
        for _ in 0..<9 { writer.submit(sampleAlert()) }
        #expect(stalled.count == 0)
        stalled.release()
        writer.finish()
        #expect(stalled.count == 5)
        #expect(writer.alertsNotWritten == 5)
        #expect(writer.lossReport?.contains("5 alerts were turned away") == true)
        // After finish, a late alert is counted, not lost silently.
        writer.submit(sampleAlert())
        #expect(writer.alertsNotWritten == 6)
    }

    @Test func everyAlertIsWrittenInOrderBeforeFinishReturns() throws {
        let path = TestPaths.temporaryDirectory("alert-writer").appendingPathComponent("alert.log").path
        let outputs = AlertOutputs()
        outputs.alertLog = AlertFile(path: path, report: { _ in })
        let writer = AlertWriter(outputs: outputs)
        for index in 0..<200 { writer.submit(sampleAlert(target: "/item/\(index)")) }
        writer.finish()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 200)
        #expect(lines.first?.contains("/item/0") == true && lines.last?.contains("/item/199") == true)
        #expect(writer.lossReport == nil)
    }
}
