import Foundation
import Testing

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
        let result = try run(TestPaths.diffaiBinary, ["replay", "--emit", "requests", TestPaths.capture("http-pipelining.pcap")])
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
        let result = try run(TestPaths.diffaiBinary, ["replay", "--emit", "requests", "--no-summary", TestPaths.capture("http-chunked.pcap")])
        let first = try JSONSerialization.jsonObject(with: Data(result.stdout.split(separator: "\n")[0].utf8)) as! [String: Any]
        #expect(first["body_b64"] as? String == Data("hello world".utf8).base64EncodedString())
        #expect(result.stderr.isEmpty)
    }

    @Test func badFilesGiveExitStatusTwoAndEveryGoodOneIsRead() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--emit", "requests",
                                                      TestPaths.capture("not-a-capture.pcap"), TestPaths.capture("basic-get.pcap"),
                                                      "/nonexistent/file.pcap"])
        #expect(result.status == 2)
        #expect(result.stdout.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("not-a-capture.pcap: cannot open capture"))
        #expect(result.stderr.contains("/nonexistent/file.pcap: cannot open capture"))
    }

    @Test func invalidFilterIsExplained() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--filter", "tcp port banana",
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
