import Detection
import Foundation
import Testing
import TestSupport

/// The `diffai` executable as users run it.
@Suite struct ReplayCommandTests {
    @Test func helpListsSubcommands() throws {
        let result = try run(TestPaths.diffaiBinary, ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("replay"))
        #expect(result.stdout.contains("synth"))
        let replayHelp = try run(TestPaths.diffaiBinary, ["replay", "--help"])
        #expect(replayHelp.stdout.contains("--emit"))
        #expect(replayHelp.stdout.contains("--filter"))
    }

    @Test func emitRequestsPrintsOneJSONObjectPerRequest() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--emit", "requests", TestPaths.capture("http-pipelining.pcap")])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        let first = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect(first["ts"] as? Double == 1_700_000_000.0003)
        #expect(first["src"] as? String == "10.0.0.1:51000")
        #expect(first["dst"] as? String == "10.0.0.2:8080")
        #expect(first["method"] as? String == "GET")
        #expect(first["target"] as? String == "/two?id=1%27%20OR%20%271%27=%271")
        #expect(first["version"] as? String == "HTTP/1.1")
        #expect((first["headers"] as? [[String]])?.first == ["Host", "shop.example"])
        #expect(first["body_b64"] as? String == "")
        #expect(first["status"] as? Int == 200)
        #expect((first["anomalies"] as? [String]) == [])
        // Summary on stderr.
        #expect(result.stderr.contains("3 requests"))
        #expect(result.stderr.contains("requests/s"))
    }

    @Test func bodiesAreBase64AfterDechunking() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--emit", "requests", "--no-summary", TestPaths.capture("http-chunked.pcap")])
        let first = try JSONSerialization.jsonObject(with: Data(result.stdout.split(separator: "\n")[0].utf8)) as! [String: Any]
        #expect(first["body_b64"] as? String == Data("hello world".utf8).base64EncodedString())
        #expect(result.stderr.isEmpty)
    }

    @Test func badFilesGiveExitStatusTwoAndEveryGoodOneIsRead() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--emit", "requests",
                                                      TestPaths.capture("not-a-capture.pcap"), TestPaths.capture("basic-get.pcap"),
                                                      "/nonexistent/file.pcap"])
        #expect(result.status == 2)
        #expect(result.stdout.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("not-a-capture.pcap: cannot open capture"))
        #expect(result.stderr.contains("/nonexistent/file.pcap: cannot open capture"))
    }

    @Test func invalidFilterIsExplained() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--filter", "tcp port banana",
                                                      TestPaths.capture("basic-get.pcap"), TestPaths.capture("vlan-qinq.pcap")])
        #expect(result.status == 64)
        #expect(result.stderr.contains("invalid capture filter 'tcp port banana'"))
        #expect(result.stderr.components(separatedBy: "invalid capture filter").count == 2, "reported once, not per file")
    }

    @Test func synthFixturesReproducesCommittedCaptures() throws {
        let directory = TestPaths.temporaryDirectory("synth")
        let result = try run(TestPaths.diffaiBinary, ["synth", "fixtures", "--out", directory.path])
        #expect(result.status == 0)
        let committed = try Data(contentsOf: URL(fileURLWithPath: TestPaths.capture("http-smuggling.pcap")))
        let written = try Data(contentsOf: directory.appendingPathComponent("http-smuggling.pcap"))
        #expect(committed == written)
    }

    @Test func loadGeneratorIsDeterministicAndReplaysFully() throws {
        let directory = TestPaths.temporaryDirectory("load")
        let a = directory.appendingPathComponent("a.pcap").path, b = directory.appendingPathComponent("b.pcap").path
        try run(TestPaths.diffaiBinary, ["synth", "load", "--requests", "2000", "--connections", "200", "--concurrency", "50", "--out", a])
        try run(TestPaths.diffaiBinary, ["synth", "load", "--requests", "2000", "--connections", "200", "--concurrency", "50", "--out", b])
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
        let result = replay([a])
        #expect(result.transactions.count == 2000)
        #expect(result.summary.reassembly.flowsCreated == 200)
        #expect(result.transactions.allSatisfy { $0.status == 200 && $0.request.anomalies.isEmpty })
    }
}

@Suite struct RuleCommandTests {
    @Test func rulesCheckSummarisesTheDefaultFile() throws {
        let result = try run(TestPaths.diffaiBinary, ["rules", "check", TestPaths.packageRoot.appendingPathComponent("rules.json").path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\(TestPaths.defaultRules.count) rules, \(TestPaths.defaultRules.enabled) enabled"))
        #expect(result.stdout.contains("critical: 58"))
    }

    @Test func rulesCheckRejectsABadFileWithItsPosition() throws {
        let directory = TestPaths.temporaryDirectory("rules")
        let path = directory.appendingPathComponent("bad.json").path
        try Data("[\n {\"alert\": \"x\", \"url\": \"a\"},\n {\"alert\": \"y\" \"url\": \"b\"}\n]\n".utf8).write(to: URL(fileURLWithPath: path))
        let result = try run(TestPaths.diffaiBinary, ["rules", "check", path])
        #expect(result.status == 65)
        #expect(result.stderr.contains("\(path):3:16: expected ',' or '}' after a member"))
        // A bad file stops replay before any packet is read.
        let replayResult = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--rules", path, TestPaths.capture("basic-get.pcap")])
        #expect(replayResult.status == 65)
        #expect(replayResult.stdout.isEmpty)
    }

    /// A scan line longer than the wire's head limit is inspected whole: the attack at the end
    /// of a 100 KB target is found (it used to be cut and score 0).
    @Test func scanInspectsLongLinesWhole() throws {
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let long = "/search?pad=" + String(repeating: "a", count: 100_000) + "&q=1%27%20UNION%20SELECT%20password%20FROM%20users--"
        let result = try run(TestPaths.diffaiBinary, ["scan", "--rules", rules], stdin: Data((long + "\n/index.html\n").utf8))
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("1\t") == true, "\(lines.first ?? "")")
        #expect(lines.first?.contains("9013") == true, "the oversize rule fires as it would on the wire")
        #expect(lines.last?.hasPrefix("0\t") == true)
    }

    /// A full disk under an output: reported, counted, and the exit status says so.
    @Test func lostAlertsMakeTheExitStatusFail() throws {
        let directory = TestPaths.temporaryDirectory("full-disk")
        let log = directory.appendingPathComponent("alert.log").path
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--rules", rules, "--eve", "/dev/full",
                                                      "--alert-log", log, TestPaths.capture("http-attacks.pcap")])
        #expect(result.status == 74, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("/dev/full: write failed: No space left on device"))
        #expect(result.stderr.contains("alerts were not written: /dev/full: 9"))
        #expect(result.stderr.contains("9 incidents (9 not written)"))
        // The other output kept every alert.
        #expect(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count == 9)
        // With every output healthy, the status is 0.
        let healthy = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--rules", rules, "--eve",
                                                       directory.appendingPathComponent("eve.json").path, TestPaths.capture("http-attacks.pcap")])
        #expect(healthy.status == 0)
    }

    /// JSON numbers are doubles: a whole number past 64 bits used to trap when converted.
    @Test func numbersBeyondRangeAreErrorsNotCrashes() throws {
        let directory = TestPaths.temporaryDirectory("rules-numbers")
        for (field, value) in [("rev", "1e19"), ("rev", "1e400"), ("rev", "-1e19"), ("id", "1e19"), ("id", "18446744073709551616"), ("rev", "2.5")] {
            let json = field == "id" ? "[{\"id\": \(value), \"alert\": \"x\", \"url\": \"a\"}]"
                : "[{\"id\": 5, \"alert\": \"x\", \"url\": \"a\", \"rev\": \(value)}]"
            #expect(throws: RuleFileError.self) { try RuleFile.parse(Array(json.utf8), fileName: "r.json") }
            let path = directory.appendingPathComponent("\(field)-\(value).json").path
            try Data(json.utf8).write(to: URL(fileURLWithPath: path))
            let result = try run(TestPaths.diffaiBinary, ["rules", "check", path])
            #expect(result.status == 65, "\(field): \(value)")
            #expect(result.stderr.contains("field \(field): must be a whole number"), "\(result.stderr)")
        }
    }

    @Test func scanAnswersOneLinePerInput() throws {
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let input = "/index.html\n/item?id=1' OR '1'='1\n/a?f=../../etc/passwd\n\n/about\n"
        let result = try run(TestPaths.diffaiBinary, ["scan", "--no-ml", "--rules", rules], stdin: Data(input.utf8))
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
                == ["0\t", "1\t1002,1101", "1\t3001,3002,3101", "0\t", "0\t"])
    }

    @Test func scanReadsCombinedAccessLogs() throws {
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let log = """
        203.0.113.9 - - [29/Nov/2026:08:05:41 +0000] "GET /search?q=shoes HTTP/1.1" 200 512 "-" "Mozilla/5.0"
        203.0.113.9 - - [29/Nov/2026:08:05:42 +0000] "GET /index.php?id=1 HTTP/1.1" 200 512 "-" "sqlmap/1.7.2#stable (https://sqlmap.org)"
        203.0.113.9 - - [29/Nov/2026:08:05:43 +0000] "GET /p?x=<script>alert(1)</script> HTTP/1.1" 404 0 "-" "curl/8"
        not a log line

        """
        let result = try run(TestPaths.diffaiBinary, ["scan", "--no-ml", "--access-log", "--rules", rules], stdin: Data(log.utf8))
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["0\t", "1\t8001", "1\t1,2001,2005,2101", "0\t"])
    }
}

@Suite struct JSONReaderTests {
    /// Found by fuzz-rules and fuzz-alert-files: a high surrogate escape followed by an escape
    /// that is not a low surrogate overflowed (Fuzz/regressions/rules, .../alert-files).
    @Test func surrogateEscapesPairOnlyWhenTheyPair() throws {
        func string(_ json: String) throws -> String? { try JSONReader.parse(Array(json.utf8)).stringValue }
        #expect(try string(#""\ud800\u0041""#) == "\u{FFFD}A")
        #expect(try string(#""\ud83d\ude00""#) == "😀")
        #expect(try string(#""\ud800""#) == "\u{FFFD}")
        #expect(try string(#""\udc00\ud800x""#) == "\u{FFFD}\u{FFFD}x")
        #expect(try string(#""\ud800\ud800\udc00""#) == "\u{FFFD}\u{10000}")
    }
}
