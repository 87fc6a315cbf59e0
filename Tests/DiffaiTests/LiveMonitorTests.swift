import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `diffai monitor` on `lo` against a real local HTTP server: pipelined and keep-alive requests
/// are reassembled live exactly as sent, and the attack among them is alerted within seconds.
@Suite(.serialized) struct LiveMonitorTests {
    static var enabled: Bool { getuid() == 0 && (which("python3") != nil || ProcessInfo.processInfo.environment["CI"] == "true") }

    /// Sends each payload on one connection, reading `responses` status lines after each.
    func exchange(port: Int, _ steps: [(payload: String, responses: Int)]) throws -> String {
        // A plain error, not #require: callers poll with try? while the server starts.
        struct CannotConnect: Error {}
        guard let fd = connectLoopback(port: port, receiveTimeout: 5) else { throw CannotConnect() }
        defer { close(fd) }
        var received = [UInt8]()
        var expected = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        for step in steps {
            _ = Array(step.payload.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            expected += step.responses
            while String(decoding: received, as: UTF8.self).components(separatedBy: "HTTP/1.").count - 1 < expected {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                received += buffer[0..<n]
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    func exchange(port: Int, _ payload: String, responses: Int) throws -> String {
        try exchange(port: port, [(payload, responses)])
    }

    @Test(.enabled(if: enabled))
    func pipelinedAndKeepAliveRequestsAreSeenLiveAndAlerted() throws {
        let directory = TestPaths.temporaryDirectory("monitor")
        let port = freePort()
        let root = directory.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: root.appendingPathComponent("index.html"))
        let server = try startHTTPServer(port: port, root: root)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        let log = directory.appendingPathComponent("alert.log").path, eve = directory.appendingPathComponent("eve.json").path
        let stdoutURL = directory.appendingPathComponent("stdout"), stderrURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let monitor = Process()
        monitor.executableURL = URL(fileURLWithPath: TestPaths.diffaiBinary)
        monitor.arguments = ["monitor", "--no-console", "--analysis-nice", "-5", "--interface", "lo", "--port", "\(port)", "--no-ml", "--emit", "requests", "--stats-interval", "0",
                             "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path, "--alert-log", log, "--eve", eve]
        monitor.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        monitor.standardError = try FileHandle(forWritingTo: stderrURL)
        try monitor.run()
        defer { if monitor.isRunning { kill(monitor.processIdentifier, SIGKILL) } }

        func waitFor(_ what: String, _ condition: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(10)
            while !condition() {
                try #require(Date() < deadline, "timed out waiting for \(what); stderr: \((try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")")
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        try waitFor("the monitor to start") { ((try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "").contains("monitoring lo") }
        try waitFor("the server") { (try? exchange(port: port, "GET /warmup HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", responses: 1))?.contains("HTTP/1.") ?? false }

        // Three requests in one write (pipelining), the attack in the middle.
        let pipelined = "GET /index.html?step=1 HTTP/1.1\r\nHost: t\r\n\r\n"
            + "GET /index.html?id=1%27%20OR%20%271%27=%271 HTTP/1.1\r\nHost: t\r\n\r\n"
            + "GET /index.html?step=3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        let replies = try exchange(port: port, pipelined, responses: 3)
        #expect(replies.components(separatedBy: "HTTP/1.").count - 1 == 3)
        // Keep-alive: the second request waits for the first response on the same connection.
        let keepAlive = try exchange(port: port, [("GET /index.html?page=2 HTTP/1.1\r\nHost: t\r\n\r\n", 1),
                                                  ("GET /index.html?page=3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1)])
        #expect(keepAlive.components(separatedBy: "HTTP/1.").count - 1 == 2)

        try waitFor("the alert") { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("rule=1002") }
        // Requests are reported once their responses are seen; wait for the last one.
        try waitFor("the last request") { ((try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "").contains("page=3") }
        kill(monitor.processIdentifier, SIGTERM)
        monitor.waitUntilExit()
        #expect(monitor.terminationStatus == 0)

        let stderr = try String(contentsOf: stderrURL, encoding: .utf8)
        #expect(stderr.contains("final statistics"))
        #expect(stderr.contains("dropped by diffai 0"))
        #expect(!stderr.contains("cannot set the analysis thread's nice"))
        // Order is guaranteed per connection (flow), not across connections.
        var byFlow: [Int: [String]] = [:]
        for line in try String(contentsOf: stdoutURL, encoding: .utf8).split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let target = object["target"] as! String
            if target != "/warmup" { byFlow[object["flow_id"] as! Int, default: []].append(target) }
        }
        #expect(byFlow.values.sorted { $0.count > $1.count } == [
            ["/index.html?step=1", "/index.html?id=1%27%20OR%20%271%27=%271", "/index.html?step=3"],
            ["/index.html?page=2", "/index.html?page=3"],
        ])
        let alertLines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(alertLines.count == 1)
        #expect(alertLines.first?.contains("dst=127.0.0.1:\(port) method=GET url=http://t/index.html?id=1%27%20OR%20%271%27=%271 rule=1002") == true)
        let event = try JSONSerialization.jsonObject(with: Data(try String(contentsOfFile: eve, encoding: .utf8).split(separator: "\n")[0].utf8)) as! [String: Any]
        #expect(event["dest_port"] as? Int == port)
        #expect(event["src_ip"] as? String == "127.0.0.1")
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func withoutCaptureRightsTheMessageSaysHowToFixIt() throws {
        let result = try run("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", TestPaths.diffaiBinary,
                                                  "monitor", "--no-console", "--no-ml", "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                                  "--alert-log", "/dev/null", "--eve", "/dev/null"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("permission denied: capturing needs root or the CAP_NET_RAW and CAP_NET_ADMIN capabilities"))
        #expect(result.stderr.contains("setcap cap_net_raw,cap_net_admin=eip"))
    }

    @Test func unknownInterfaceListsTheOnesThatExist() throws {
        let result = try run(TestPaths.diffaiBinary, ["monitor", "--no-console", "--interface", "nosuch0", "--no-ml", "--rules",
                                                      TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                                      "--alert-log", "/dev/null", "--eve", "/dev/null"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("nosuch0"))
        if getuid() == 0 { #expect(result.stderr.contains("no such interface; interfaces here:") && result.stderr.contains("lo")) }
    }
}

@Suite(.serialized) struct DemoTests {
    @Test(.enabled(if: getuid() == 0))
    func demoOnceAlertsOnAttacksOnly() throws {
        let directory = TestPaths.temporaryDirectory("demo")
        let port = freePort()
        let result = try run(TestPaths.diffaiBinary, [
            "demo", "--no-console", "--once", "--port", "\(port)",
            "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
            "--model", TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path,
            "--alert-log", directory.appendingPathComponent("alert.log").path, "--eve", directory.appendingPathComponent("eve.json").path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("10 requests seen"))
        let alerts = result.stdout.split(separator: "\n").filter { $0.contains(" | 127.0.0.1:") }
        for attack in ["/items?id=1%20UNION", "/comment?text=%3Cscript", "/download?file=../", "/ping?host=", "/api", "/admin"] {
            #expect(alerts.contains { $0.contains("http://demo.local\(attack)") }, "\(attack)")
        }
        for benign in ["http://demo.local/ ", "/search?q=running", "/index.php?q=madrid", "/login"] {
            #expect(!alerts.contains { $0.contains(benign) }, "\(benign)")
        }
        let log = try String(contentsOf: directory.appendingPathComponent("alert.log"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == alerts.count)
    }
}
