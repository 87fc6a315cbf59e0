import Foundation
import Testing
import TestSupport

/// A capture written by the real kernel stack: curl talks to a local HTTP server on `lo`
/// while tcpdump records; replay must extract exactly what curl sent.
@Suite(.serialized) struct LiveStackCaptureTests {
    static var toolsPresent: Bool {
        which("tcpdump") != nil && which("curl") != nil && (which("python3") != nil || FileManager.default.isExecutableFile(atPath: "/root/.pyenv/shims/python3"))
    }

    /// In CI the tools are installed by .ci/run: missing tools fail there instead of skipping.
    static var enabled: Bool { toolsPresent || ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test(.enabled(if: enabled))
    func curlThroughLoopbackIsReassembledExactly() throws {
        let tcpdump = try #require(which("tcpdump"), "tcpdump is required (apt-get install tcpdump)")
        let curl = try #require(which("curl"), "curl is required")
        let directory = TestPaths.temporaryDirectory("live")
        let capture = directory.appendingPathComponent("live.pcap").path
        let port = freePort()

        let root = directory.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("hello from diffai\n".utf8).write(to: root.appendingPathComponent("index.html"))

        let server = try startHTTPServer(port: port, root: root)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        let snifferErrors = Pipe()
        let sniffer = try launchWithCleanSignalMask([tcpdump, "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", capture, "tcp port \(port)"],
                                                    standardError: snifferErrors)
        defer { if sniffer.isRunning { kill(sniffer.processIdentifier, SIGKILL) } }

        // Wait until both are ready: tcpdump announces itself, the server answers.
        try waitFor("tcpdump to start") { String(decoding: snifferErrors.fileHandleForReading.availableData, as: UTF8.self).contains("listening") }
        try waitFor("the HTTP server") { (try? run(curl, ["-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/warmup"]).status == 0) ?? false }

        let base = "http://127.0.0.1:\(port)"
        let first = try run(curl, ["-s", "-S", "-o", "/dev/null", "-w", "%{http_code}", "-A", "diffai-test/1.0", "\(base)/index.html?q=caf%C3%A9&x=1"])
        #expect(first.stdout == "200", "curl: \(first.stderr)")
        try run(curl, ["-s", "-o", "/dev/null", "-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                       "--data", "user=alice&comment=<script>alert(1)</script>", "\(base)/submit"])
        // Keep-alive: two requests on one connection.
        try run(curl, ["-s", "-o", "/dev/null", "-o", "/dev/null", "\(base)/index.html", "\(base)/missing?id=1%27"])
        Thread.sleep(forTimeInterval: 0.5)
        sniffer.interrupt()
        sniffer.waitUntilExit()

        let result = replay([capture])
        let seen = result.transactions.filter { !$0.request.target.hasPrefix("/warmup") }
        try #require(seen.count == 4, "replay found \(result.transactions.map(\.summaryLine)); \(result.summary.description)")
        #expect(seen.map(\.request.target) == ["/index.html?q=caf%C3%A9&x=1", "/submit", "/index.html", "/missing?id=1%27"])
        #expect(seen.map(\.request.method) == ["GET", "POST", "GET", "GET"])
        #expect(seen.map(\.status) == [200, 501, 200, 404])
        #expect(seen[0].request.header("user-agent") == "diffai-test/1.0")
        #expect(String(decoding: seen[1].request.body, as: UTF8.self) == "user=alice&comment=<script>alert(1)</script>")
        #expect(seen[2].connection.id == seen[3].connection.id)
        #expect(seen.allSatisfy { $0.server.port == UInt16(port) && $0.server.address.description == "127.0.0.1" })
        #expect(result.summary.reassembly.gaps == 0)
    }

    func waitFor(_ what: String, timeout: TimeInterval = 10, _ condition: () throws -> Bool) throws {
        if try !eventually(timeout: timeout, condition) { Issue.record("timed out waiting for \(what)") }
    }
}
