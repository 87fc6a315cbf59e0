import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The deployment diffai is built for: Apache in front (ProxyPreserveHost, ProxyPass to a
/// backend on loopback), `diffai monitor` on the Apache → backend link. Attacks sent through
/// Apache are alerted with the right source, destination, method and URL; benign requests raise
/// nothing; every response through Apache is the same with and without the monitor.
@Suite(.serialized) struct ApacheMonitorTests {
    static var enabled: Bool {
        getuid() == 0 && (FileManager.default.isExecutableFile(atPath: "/usr/sbin/apache2") || ProcessInfo.processInfo.environment["CI"] == "true")
    }

    func curl(_ apachePort: Int, _ target: String, _ extra: [String] = []) throws -> String {
        let result = try run(which("curl") ?? "/usr/bin/curl",
                             ["-s", "-i", "--path-as-is", "-H", "Host: shop.test"] + extra + ["http://127.0.0.1:\(apachePort)\(target)"])
        // Date headers differ between runs; everything else must be identical.
        return result.stdout.split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.lowercased().hasPrefix("date:") }.joined(separator: "\r\n")
    }

    @Test(.enabled(if: enabled))
    func attacksThroughApacheAreAlertedAndTrafficIsUntouched() throws {
        let apache = try #require(FileManager.default.isExecutableFile(atPath: "/usr/sbin/apache2") ? "/usr/sbin/apache2" : nil,
                                  "apache2 is required (apt-get install apache2)")
        let directory = TestPaths.temporaryDirectory("apache")
        let backendPort = freePort()
        var apachePort = freePort()
        while apachePort == backendPort { apachePort = freePort() }
        let www = directory.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: www, withIntermediateDirectories: true)
        try Data(String(repeating: "diffai test page\n", count: 200).utf8).write(to: www.appendingPathComponent("index.html"))
        let backend = try startHTTPServer(port: backendPort, root: www)
        defer { kill(backend.processIdentifier, SIGKILL); backend.waitUntilExit() }
        let server = try startApache(apache, directory: directory, ports: [apachePort], proxying: """
            ProxyPreserveHost On
            ProxyPass / http://localhost:\(backendPort)/
            ProxyPassReverse / http://localhost:\(backendPort)/
            """)
        defer { kill(server.processIdentifier, SIGTERM); server.waitUntilExit() }

        let deadline = Date().addingTimeInterval(10)
        while try !curl(apachePort, "/index.html").hasPrefix("HTTP/1.1 200") {
            try #require(Date() < deadline, "Apache did not come up: \((try? String(contentsOf: directory.appendingPathComponent("apache.out"), encoding: .utf8)) ?? "")")
            Thread.sleep(forTimeInterval: 0.1)
        }

        let requests: [(target: String, extra: [String], attack: Bool)] = [
            ("/index.html", [], false),
            ("/index.html?q=madrid&page=2", [], false),
            ("/index.html?id=1%27%20OR%20%271%27=%271", [], true),
            ("/index.html?x=%3Cscript%3Ealert(1)%3C/script%3E", [], true),
            ("/missing.html", [], false),
            ("/index.html", ["-A", "() { :; }; /bin/cat /etc/passwd"], true),
            ("/index.html", ["-X", "POST", "--data", "user=alice&comment=great+product"], false),
        ]
        let baseline = try requests.map { try curl(apachePort, $0.target, $0.extra) }

        let log = directory.appendingPathComponent("alert.log").path, eve = directory.appendingPathComponent("eve.json").path
        let monitorOutput = directory.appendingPathComponent("monitor.out")
        let monitor = try launchWithCleanSignalMask([TestPaths.diffaiBinary, "monitor", "--no-console", "--interface", "lo", "--port", "\(backendPort)", "--no-ml",
                                  "--stats-interval", "0", "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                  "--alert-log", log, "--eve", eve], output: monitorOutput)
        defer { if monitor.isRunning { kill(monitor.processIdentifier, SIGKILL) } }
        let started = Date().addingTimeInterval(10)
        while !((try? String(contentsOf: monitorOutput, encoding: .utf8)) ?? "").contains("monitoring lo") {
            try #require(Date() < started, "the monitor did not start")
            Thread.sleep(forTimeInterval: 0.05)
        }

        let monitored = try requests.map { try curl(apachePort, $0.target, $0.extra) }
        #expect(monitored == baseline, "responses through Apache must not change while diffai watches")

        let alertDeadline = Date().addingTimeInterval(10)
        while ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count < 4 && Date() < alertDeadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.3)
        kill(monitor.processIdentifier, SIGTERM)
        monitor.waitUntilExit()
        #expect(monitor.terminationStatus == 0)

        let events = try String(contentsOfFile: eve, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let alertedURLs = Set(events.map { ($0["http"] as! [String: Any])["url"] as! String })
        for request in requests where request.attack {
            #expect(alertedURLs.contains(request.target), "\(request.target) \(request.extra)")
        }
        #expect(!alertedURLs.contains("/index.html?q=madrid&page=2"))
        #expect(!alertedURLs.contains("/missing.html"))
        for event in events {
            let http = event["http"] as! [String: Any]
            #expect(event["src_ip"] as? String == "127.0.0.1" || event["src_ip"] as? String == "::1")
            #expect(event["dest_port"] as? Int == backendPort)
            #expect(http["hostname"] as? String == "shop.test", "ProxyPreserveHost keeps the client's Host")
            #expect(http["http_method"] as? String == "GET")
            #expect(http["status"] == nil || http["status"] is Int)
        }
        // One readable line per alert in alert.log with the same URL and destination.
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == events.count)
        #expect(lines.allSatisfy { $0.contains(":\(backendPort) method=GET url=http://shop.test/index.html") })
    }
}
