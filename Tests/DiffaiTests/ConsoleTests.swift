import Alerts
import Capture
import CaptureSynthesis
@testable import Console
import Foundation
import NetworkTypes
import Testing
import TestSupport

/// A capture with the given GET requests (raw targets), each answered 200.
func writeRequestCapture(_ targets: [String], to path: String) throws {
    let writer = CaptureFileWriter(format: .pcap, linkType: .ethernet)
    let builder = FrameBuilder(linkType: .ethernet)
    var clock = Timestamp(seconds: 1_764_000_000, microseconds: 0)
    for (index, target) in targets.enumerated() {
        let conversation = TCPConversation(client: Endpoint(address: IPAddress("192.0.2.10")!, port: UInt16(40000 + index)),
                                           server: Endpoint(address: IPAddress("192.0.2.80")!, port: 8080),
                                           writer: writer, builder: builder, start: clock)
        conversation.handshake()
        conversation.send("GET \(target) HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: test\r\n\r\n", from: .client)
        conversation.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", from: .server)
        conversation.close()
        clock = Timestamp(microseconds: conversation.clock.microseconds + 1000)
    }
    try writer.write(to: path)
}

/// Fills an EVE file (and alert.log) by replaying the attack capture.
func replayAttacks(eve: String, alertLog: String? = nil, capture: String = TestPaths.capture("http-attacks.pcap")) throws {
    var arguments = ["replay", "--no-console", "--no-ml", "--no-summary", "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                     "--eve", eve, capture]
    if let alertLog { arguments += ["--alert-log", alertLog] }
    let result = try run(TestPaths.diffaiBinary, arguments)
    guard result.status == 0 else { throw ConsoleTestError("replay failed: \(result.stderr)") }
}

@Suite struct ConsoleUnitTests {
    @Test func historyPagesNewestFirstAndFilters() throws {
        let directory = TestPaths.temporaryDirectory("history")
        let eve = directory.appendingPathComponent("eve.json").path
        try replayAttacks(eve: eve)
        try replayAttacks(eve: eve)
        let history = AlertHistory(evePath: eve, alertLogPath: nil)
        // 2 × 9 incidents, read 5 at a time: all of them, newest first, none twice.
        var seen: [Int64] = []
        var before: Int64?
        repeat {
            let page = history.page(AlertQuery(limit: 5, before: before))
            seen += page.alerts.map(\.offset)
            before = page.nextBefore
        } while before != nil
        #expect(seen.count == 18)
        #expect(seen == seen.sorted(by: >))
        #expect(Set(seen).count == 18)

        let critical = history.page(AlertQuery(limit: 100, severity: "critical"))
        #expect(!critical.alerts.isEmpty)
        #expect(critical.alerts.allSatisfy { String(decoding: $0.eve, as: UTF8.self).contains("\"severity\":\"critical\"") })
        let log4shell = history.page(AlertQuery(limit: 100, text: "jndi"))
        #expect(log4shell.alerts.count == 2)
        #expect(history.page(AlertQuery(limit: 100, source: "ml")).alerts.isEmpty)

        // A line still being written (no newline yet) is not shown.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: eve))
        handle.seekToEndOfFile()
        handle.write(Data("{\"timestamp\":\"2026".utf8))
        try handle.close()
        #expect(history.page(AlertQuery(limit: 100)).alerts.count == 18)
    }

    @Test func alertLogIsReadWhenThereIsNoEVEFile() throws {
        let directory = TestPaths.temporaryDirectory("history")
        let log = directory.appendingPathComponent("alert.log").path
        let eve = directory.appendingPathComponent("eve.json").path
        try replayAttacks(eve: eve, alertLog: log)
        let fromLog = AlertHistory(evePath: directory.appendingPathComponent("missing.json").path, alertLogPath: log).page(AlertQuery(limit: 100))
        let fromEVE = AlertHistory(evePath: eve, alertLogPath: nil).page(AlertQuery(limit: 100))
        #expect(fromLog.alerts.count == 9)
        #expect(fromLog.file == log)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(fromLog.alerts[0].eve)) as? [String: Any])
        let firstEVE = try #require(try JSONSerialization.jsonObject(with: Data(fromEVE.alerts[0].eve)) as? [String: Any])
        #expect((first["alert"] as? [String: Any])?["signature"] as? String == (firstEVE["alert"] as? [String: Any])?["signature"] as? String)
        #expect((first["http"] as? [String: Any])?["url"] as? String == (firstEVE["http"] as? [String: Any])?["url"] as? String)
        #expect(first["src_ip"] as? String == "10.0.0.1")
    }

    @Test func accessRules() {
        let loopback = ConsoleAccess(token: "0123456789abcdef0123", loopbackOnly: true)
        var headers = HTTPFieldsForTests.make([:])
        #expect(loopback.decide(method: .get, path: "/api/stats", host: "127.0.0.1:5000", headers: headers) == .allow)
        #expect(loopback.decide(method: .get, path: "/api/stats", host: "attacker.example:5000", headers: headers) != .allow)
        #expect(loopback.decide(method: .post, path: "/api/rules/reload", host: "127.0.0.1:5000", headers: headers) != .allow)
        headers = HTTPFieldsForTests.make(["Origin": "http://127.0.0.1:5000"])
        #expect(loopback.decide(method: .post, path: "/api/rules/reload", host: "127.0.0.1:5000", headers: headers) == .allow)
        headers = HTTPFieldsForTests.make(["Origin": "http://attacker.example"])
        #expect(loopback.decide(method: .post, path: "/api/rules/reload", host: "127.0.0.1:5000", headers: headers) != .allow)
        #expect(loopback.decide(method: .get, path: "/ws", host: "127.0.0.1:5000", headers: headers) != .allow)
        headers = HTTPFieldsForTests.make(["Authorization": "Bearer 0123456789abcdef0123"])
        #expect(loopback.decide(method: .post, path: "/api/rules/reload", host: "localhost:5000", headers: headers) == .allow)

        for name in ["127.attacker.tld", "127.0.0.1.evil.example", "[::1].evil", "localhost.evil", "127.1", "::1", "127.0.0.1:80:80", ""] {
            #expect(!ConsoleAccess.isLoopbackHost(name), "\(name)")
        }
        for name in ["127.0.0.1", "127.9.8.7:5000", "localhost", "LOCALHOST:5000", "[::1]", "[::1]:5000", "[0:0:0:0:0:0:0:1]:1", "[::ffff:127.0.0.1]:5000"] {
            #expect(ConsoleAccess.isLoopbackHost(name), "\(name)")
        }
        let origin = HTTPFieldsForTests.make(["Origin": "http://127.attacker.tld:5000"])
        #expect(loopback.decide(method: .post, path: "/api/rules/reload", host: "127.attacker.tld:5000", headers: origin) == .refuse(.unauthorized, "token required: this console was reached by a name other than localhost or a loopback address"))

        let network = ConsoleAccess(token: "0123456789abcdef0123", loopbackOnly: false)
        #expect(network.decide(method: .get, path: "/api/stats", host: "10.1.1.1:5000", headers: HTTPFieldsForTests.make([:])) != .allow)
        #expect(network.decide(method: .get, path: "/app.js", host: "10.1.1.1:5000", headers: HTTPFieldsForTests.make([:])) == .allow)
        #expect(network.decide(method: .get, path: "/api/stats", host: "10.1.1.1:5000",
                               headers: HTTPFieldsForTests.make(["Cookie": "a=b; diffai_token=0123456789abcdef0123"])) == .allow)
        #expect(network.decide(method: .get, path: "/api/stats", host: "10.1.1.1:5000",
                               headers: HTTPFieldsForTests.make(["Cookie": "diffai_token=0123456789abcdef0124"])) != .allow)
    }

    @Test func datasetCatalogNeverLeavesItsFolders() throws {
        let directory = TestPaths.temporaryDirectory("datasets")
        let data = directory.appendingPathComponent("Dataset")
        try writeSmallDatasets(in: data)
        try FileManager.default.createSymbolicLink(atPath: data.appendingPathComponent("passwd.txt").path, withDestinationPath: "/etc/passwd")
        let catalog = DatasetCatalog(folders: [.init(label: "Dataset", path: data.path)], uploadFolder: .init(label: "uploads", path: data.path + "/uploads"))
        #expect(catalog.list().map(\.id) == ["Dataset/bad.txt", "Dataset/good.txt"])
        #expect(catalog.entry(id: "Dataset/passwd.txt") == nil)
        #expect(catalog.entry(id: "Dataset/../../etc/passwd") == nil)
        #expect(catalog.entry(id: "/etc/passwd") == nil)
        #expect(DatasetCatalog.sanitizedUploadName("../../etc/cron.d/x") == "x.txt")
        #expect(DatasetCatalog.sanitizedUploadName("my data.txt") == "my_data.txt")
        #expect(DatasetCatalog.sanitizedUploadName("..") == nil)
    }

    @Test func feedReplaysWhatAReconnectingPageMissed() {
        let feed = ConsoleFeed()
        for i in 0..<5 { feed.publishAlert(eveLine: Array("{\"n\":\(i)}".utf8)) }
        let again = feed.subscribe(since: 3)
        #expect(again.missed.map(\.sequence) == [4, 5])
        #expect(again.complete)
        feed.unsubscribe(again.id)
        for i in 0..<(ConsoleFeed.retainedAlerts * 2) { feed.publishAlert(eveLine: Array("{\"n\":\(i)}".utf8)) }
        let late = feed.subscribe(since: 1)
        #expect(!late.complete)
        feed.unsubscribe(late.id)
    }
}

import HTTPTypes

enum HTTPFieldsForTests {
    static func make(_ values: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in values { fields[HTTPField.Name(name)!] = value }
        return fields
    }
}

/// The console's HTTP API, through `diffai console` as a separate process.
@Suite(.serialized) struct ConsoleAPITests {
    struct Setup {
        let directory: URL
        let eve: String
        let token: String
        let console: ConsoleProcess
        var port: Int { console.port }
    }

    func start(extra: [String] = [], host: String = "127.0.0.1") throws -> Setup {
        let directory = TestPaths.temporaryDirectory("console")
        try writeSmallDatasets(in: directory.appendingPathComponent("Dataset"))
        let eve = directory.appendingPathComponent("eve.json").path
        let port = freePort()
        let tokenFile = directory.appendingPathComponent("keys/console-token").path
        let console = try ConsoleProcess(arguments: ["console", "--console", "\(host):\(port)", "--eve", eve,
                                                     "--alert-log", directory.appendingPathComponent("alert.log").path,
                                                     "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                                     "--console-token-file", tokenFile,
                                                     "--install-model", directory.appendingPathComponent("installed.bin").path] + extra,
                                         port: port, directory: directory)
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return Setup(directory: directory, eve: eve, token: token, console: console)
    }

    @Test func readEndpointsAndSecurityHeaders() throws {
        let setup = try start()
        defer { setup.console.stop() }
        try replayAttacks(eve: setup.eve)
        #expect(setup.console.output.contains("console access token (shown once"))
        let attributes = try FileManager.default.attributesOfItem(atPath: setup.directory.appendingPathComponent("keys/console-token").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        let page = try #require(rawHTTP(port: setup.port, path: "/"))
        #expect(page.status == 200)
        #expect(page.text.contains("دفاعی"))
        let policy = try #require(page.header("Content-Security-Policy"))
        #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline") && policy.contains("frame-ancestors 'none'"))
        #expect(page.header("X-Content-Type-Options") == "nosniff")
        for asset in ["/app.js", "/style.css", "/logo.svg", "/beep.wav"] {
            #expect(rawHTTP(port: setup.port, path: asset)?.status == 200, "\(asset)")
        }
        #expect(rawHTTP(port: setup.port, path: "/../../etc/passwd")?.status == 404)

        let stats = try #require(rawHTTP(port: setup.port, path: "/api/stats")?.json)
        #expect(stats["mode"] as? String == "console")

        let alerts = try #require(rawHTTP(port: setup.port, path: "/api/alerts?limit=5")?.json)
        let list = try #require(alerts["alerts"] as? [[String: Any]])
        #expect(list.count == 5)
        #expect(alerts["next_before"] is Int)
        let second = try #require(rawHTTP(port: setup.port, path: "/api/alerts?limit=100&before=\(alerts["next_before"]!)")?.json)
        #expect((second["alerts"] as? [Any])?.count == 4)
        #expect(second["next_before"] is NSNull)
        let filtered = try #require(rawHTTP(port: setup.port, path: "/api/alerts?q=JNDI&severity=critical&source=rule")?.json)
        #expect((filtered["alerts"] as? [Any])?.count == 1)

        let export = try #require(rawHTTP(port: setup.port, path: "/api/alerts/export?severity=critical"))
        #expect(export.header("Content-Disposition")?.contains("attachment") == true)
        let lines = export.text.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.contains("\"event_type\":\"alert\"") && $0.contains("\"severity\":\"critical\"") })

        let rules = try #require(rawHTTP(port: setup.port, path: "/api/rules")?.json)
        let ruleList = try #require(rules["rules"] as? [[String: Any]])
        #expect(ruleList.count == TestPaths.defaultRules.count)
        #expect(ruleList.contains { $0["id"] as? Int == 3 && ($0["message"] as? String)?.contains("XSS") == true })

        let datasets = try #require(rawHTTP(port: setup.port, path: "/api/datasets")?.json)
        let ids = (datasets["datasets"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(ids.contains("Dataset/good.txt") && ids.contains("Dataset/bad.txt"))
    }

    @Test func stateChangesNeedTheTokenOrTheSameOrigin() throws {
        let setup = try start()
        defer { setup.console.stop() }
        let origin = "http://127.0.0.1:\(setup.port)"
        #expect(rawHTTP(port: setup.port, method: "POST", path: "/api/rules/reload")?.status == 403)
        #expect(rawHTTP(port: setup.port, method: "POST", path: "/api/rules/reload", headers: ["Origin": "http://evil.example"])?.status == 403)
        #expect(rawHTTP(port: setup.port, method: "POST", path: "/api/rules/reload",
                        headers: ["Origin": "http://evil.example", "Authorization": "Bearer \(setup.token)"])?.status == 403)
        #expect(rawHTTP(port: setup.port, method: "POST", path: "/api/rules/reload", headers: ["Origin": origin])?.status == 200)
        let reloaded = try #require(rawHTTP(port: setup.port, method: "POST", path: "/api/rules/reload",
                                            headers: ["Authorization": "Bearer \(setup.token)"]))
        #expect(reloaded.status == 200)
        #expect(reloaded.json?["rules"] as? Int == TestPaths.defaultRules.count)
        #expect(rawHTTP(port: setup.port, method: "POST", path: "/api/rules/reload", headers: ["Authorization": "Bearer wrong"])?.status == 403)
        // DNS rebinding: a page on another name that resolves to 127.0.0.1 needs the token.
        #expect(rawHTTP(port: setup.port, path: "/api/stats", host: "rebind.attacker.example:\(setup.port)")?.status == 401)
        // WebSocket from another site: refused; from the page itself: upgraded.
        let wsHeaders = ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="]
        var evil = wsHeaders
        evil["Origin"] = "http://evil.example"
        // (hummingbird-websocket answers every refused upgrade with 400.)
        #expect(rawHTTP(port: setup.port, path: "/ws", headers: evil, readUntilClose: false)?.status == 400)
        var own = wsHeaders
        own["Origin"] = origin
        #expect(rawHTTP(port: setup.port, path: "/ws", headers: own, readUntilClose: false)?.status == 101)
    }

    /// A DNS-rebinding page is same-origin with itself, so Origin proves nothing: under any
    /// name but localhost or a loopback literal, every state change (and every read) needs the
    /// token, and none of them happens without it.
    @Test func rebindingNamesCannotChangeAnything() throws {
        let setup = try start()
        defer { setup.console.stop() }
        let names = ["127.attacker.tld", "127.0.0.1.evil.example", "localhost.evil.example", "rebind.attacker.example",
                     "127.0.0.1:\(setup.port).evil", "[::1].evil.example", "127.1", "0x7f000001", "2130706433"]
        let endpoints: [(String, String, Data)] = [
            ("POST", "/api/rules/reload", Data()),
            ("POST", "/api/datasets?name=rebound.txt", Data("/a\n/b\n".utf8)),
            ("POST", "/api/training", Data(#"{"benign":"Dataset/good.txt","malicious":"Dataset/bad.txt"}"#.utf8)),
            ("POST", "/api/training/1/activate", Data()),
            ("GET", "/api/stats", Data()), ("GET", "/api/alerts", Data()), ("GET", "/api/rules", Data()),
        ]
        for name in names {
            let host = name.contains(":\(setup.port)") ? name : "\(name):\(setup.port)"
            for (method, path, body) in endpoints {
                let answer = rawHTTP(port: setup.port, method: method, path: path, host: host,
                                     headers: ["Origin": "http://\(host)", "Content-Type": "application/json"], body: body)
                #expect(answer?.status == 401 || answer?.status == 403, "\(method) \(path) as \(host): \(answer?.status ?? 0)")
            }
            let wsHeaders = ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "http://\(host)"]
            #expect(rawHTTP(port: setup.port, path: "/ws", host: host, headers: wsHeaders, readUntilClose: false)?.status != 101, "\(host)")
        }
        // Nothing happened: no upload, no training job.
        let auth = ["Authorization": "Bearer \(setup.token)"]
        let datasets = try #require(rawHTTP(port: setup.port, path: "/api/datasets", headers: auth)?.json)
        let ids = (datasets["datasets"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(!ids.contains { $0.contains("rebound") })
        let jobs = try #require(rawHTTP(port: setup.port, path: "/api/training", headers: auth)?.json)
        #expect((jobs["jobs"] as? [Any])?.isEmpty ?? true)
        // The real names still work, and the token works under any name.
        for host in ["127.0.0.1:\(setup.port)", "localhost:\(setup.port)", "127.0.0.2:\(setup.port)"] {
            #expect(rawHTTP(port: setup.port, path: "/api/stats", host: host)?.status == 200, "\(host)")
        }
        #expect(rawHTTP(port: setup.port, path: "/api/stats", host: "127.attacker.tld:\(setup.port)", headers: auth)?.status == 200)
    }

    /// Full-text searches over a large history run off the server's event loops, a few at a
    /// time and each within its time limit: the statistics keep answering meanwhile.
    @Test func searchesNeverStallTheStatistics() throws {
        let setup = try start()
        defer { setup.console.stop() }
        var text = ""
        for n in 0..<120_000 { text += SampleEVE.line(n) + "\n" }
        try Data(text.utf8).write(to: URL(fileURLWithPath: setup.eve))
        let group = DispatchGroup()
        let answers = Answers()
        let port = setup.port
        for _ in 0..<8 {
            DispatchQueue.global().async(group: group) {
                let page = rawHTTP(port: port, path: "/api/alerts?limit=50&q=absent-everywhere")
                answers.add(page?.json)
            }
        }
        usleep(200_000)
        var slowest = 0.0
        for _ in 0..<5 {
            let started = Date()
            #expect(rawHTTP(port: setup.port, path: "/api/stats")?.status == 200)
            slowest = max(slowest, Date().timeIntervalSince(started))
            usleep(100_000)
        }
        group.wait()
        #expect(slowest < 1.5, "stats took \(slowest) s while searches ran")
        let pages = answers.all
        #expect(pages.count == 8)
        #expect(pages.allSatisfy { ($0?["alerts"] as? [Any])?.isEmpty == true })
        // Each page stopped within its time and says where to go on, or reached the start.
        #expect(pages.allSatisfy { $0?["partial"] as? Bool == true || $0?["next_before"] is NSNull })
    }

    final class Answers: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [[String: Any]?] = []
        func add(_ value: [String: Any]?) { lock.lock(); values.append(value); lock.unlock() }
        var all: [[String: Any]?] { lock.lock(); defer { lock.unlock() }; return values }
    }

    @Test func boundBeyondLoopbackEverythingNeedsTheToken() throws {
        let setup = try start(host: "0.0.0.0")
        defer { setup.console.stop() }
        #expect(setup.console.output.contains("every request needs the token"))
        #expect(rawHTTP(port: setup.port, path: "/api/stats")?.status == 401)
        #expect(rawHTTP(port: setup.port, path: "/api/alerts")?.status == 401)
        #expect(rawHTTP(port: setup.port, path: "/")?.status == 200)
        #expect(rawHTTP(port: setup.port, path: "/api/stats", headers: ["Authorization": "Bearer \(setup.token)"])?.status == 200)
        let wrong = try #require(rawHTTP(port: setup.port, method: "POST", path: "/api/login", body: Data("{\"token\":\"nope\"}".utf8)))
        #expect(wrong.status == 401)
        let login = try #require(rawHTTP(port: setup.port, method: "POST", path: "/api/login", body: Data("{\"token\":\"\(setup.token)\"}".utf8)))
        #expect(login.status == 200)
        let cookie = try #require(login.header("Set-Cookie"))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        let pair = String(cookie.split(separator: ";")[0])
        #expect(rawHTTP(port: setup.port, path: "/api/stats", headers: ["Cookie": pair])?.status == 200)
        let wsHeaders = ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="]
        #expect(rawHTTP(port: setup.port, path: "/ws", headers: wsHeaders, readUntilClose: false)?.status == 400)
        var withCookie = wsHeaders
        withCookie["Cookie"] = pair
        #expect(rawHTTP(port: setup.port, path: "/ws", headers: withCookie, readUntilClose: false)?.status == 101)
    }

    @Test func trainingOnlyFromListedDatasetsAndActivation() throws {
        let setup = try start()
        defer { setup.console.stop() }
        let auth = ["Authorization": "Bearer \(setup.token)", "Content-Type": "application/json"]
        func post(_ path: String, _ json: String) -> RawHTTPResponse? {
            rawHTTP(port: setup.port, method: "POST", path: path, headers: auth, body: Data(json.utf8))
        }
        for bad in ["/etc/passwd", "../../etc/passwd", "Dataset/../../../etc/passwd", "Dataset/missing.txt"] {
            let refused = try #require(post("/api/training", "{\"benign\":\"\(bad)\",\"malicious\":\"Dataset/bad.txt\"}"))
            #expect(refused.status == 400, "\(bad)")
            #expect(refused.text.contains("unknown dataset"))
        }
        #expect(post("/api/training", "{\"benign\":\"Dataset/good.txt\"}")?.status == 400)

        // Upload: the name is cleaned and the file lands in the uploads folder only.
        let upload = try #require(rawHTTP(port: setup.port, method: "POST", path: "/api/datasets?name=..%2F..%2Fevil.txt", headers: auth,
                                          body: Data("/a\n/b\n".utf8)))
        #expect(upload.status == 201)
        #expect(upload.json?["id"] as? String == "uploads/evil.txt")
        #expect(FileManager.default.fileExists(atPath: setup.directory.appendingPathComponent("Dataset/uploads/evil.txt").path))
        #expect(!FileManager.default.fileExists(atPath: setup.directory.deletingLastPathComponent().appendingPathComponent("evil.txt").path))

        let started = try #require(post("/api/training", "{\"benign\":\"Dataset/good.txt\",\"malicious\":\"Dataset/bad.txt\"}"))
        #expect(started.status == 202)
        let id = try #require(started.json?["id"] as? Int)
        #expect(post("/api/training", "{\"benign\":\"Dataset/good.txt\",\"malicious\":\"Dataset/bad.txt\"}")?.status == 409)
        var job: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(120)
        repeat {
            usleep(200_000)
            job = rawHTTP(port: setup.port, path: "/api/training/\(id)")?.json ?? [:]
        } while job["state"] as? String == "running" && Date() < deadline
        #expect(job["state"] as? String == "succeeded", "\(job)")
        let metrics = try #require(job["metrics"] as? [String: Any])
        for key in ["accuracy", "precision", "recall", "false_positive_rate"] { #expect(metrics[key] is Double, "\(key)") }
        #expect((metrics["accuracy"] as? Double ?? 0) > 0.9)

        let activated = try #require(post("/api/training/\(id)/activate", "{}"))
        #expect(activated.status == 200, "\(activated.text)")
        #expect(FileManager.default.fileExists(atPath: setup.directory.appendingPathComponent("installed.bin").path))
        let jobs = try #require(rawHTTP(port: setup.port, path: "/api/training")?.json?["jobs"] as? [[String: Any]])
        #expect(jobs.first?["active"] as? Bool == true)
        #expect(post("/api/training/999/activate", "{}")?.status == 404)
    }
}

/// The console inside a sensor process: replay with --keep-console.
@Suite struct InProcessConsoleTests {
    @Test func replayServesItsAlertsStatisticsAndReloads() throws {
        let directory = TestPaths.temporaryDirectory("inprocess")
        let port = freePort()
        let console = try ConsoleProcess(arguments: ["replay", "--no-ml", "--keep-console", "--console", "127.0.0.1:\(port)",
                                                     "--console-token-file", directory.appendingPathComponent("token").path,
                                                     "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                                     "--eve", directory.appendingPathComponent("eve.json").path,
                                                     TestPaths.capture("http-attacks.pcap")],
                                         port: port, directory: directory)
        defer { console.stop() }
        var stats: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            stats = rawHTTP(port: port, path: "/api/stats")?.json ?? [:]
            if stats["stats"] is [String: Any] { break }
            usleep(100_000)
        }
        #expect(stats["mode"] as? String == "replay")
        let counters = try #require(stats["stats"] as? [String: Any])
        #expect(counters["requests"] as? Int == 12)
        #expect(counters["alerts"] as? Int == 9)
        #expect(stats["alerts_streamed"] as? Int == 9)
        let reload = try #require(rawHTTP(port: port, method: "POST", path: "/api/rules/reload", headers: ["Origin": "http://127.0.0.1:\(port)"]))
        #expect(reload.status == 200)
        #expect((rawHTTP(port: port, path: "/api/rules")?.json?["rules"] as? [Any])?.count == TestPaths.defaultRules.count)
        #expect(console.output.contains("the console stays at http://127.0.0.1:\(port)/"))
        console.stop()
        #expect(console.process.terminationStatus == 0)
    }

    @Test func aModelTrainedInTheConsoleReplacesTheRunningOne() throws {
        let directory = TestPaths.temporaryDirectory("inprocess")
        try writeSmallDatasets(in: directory.appendingPathComponent("Dataset"))
        let port = freePort()
        let console = try ConsoleProcess(arguments: ["replay", "--keep-console", "--console", "127.0.0.1:\(port)",
                                                     "--console-token-file", directory.appendingPathComponent("token").path,
                                                     "--model", TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path,
                                                     "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                                     TestPaths.capture("http-attacks.pcap")],
                                         port: port, directory: directory)
        defer { console.stop() }
        let origin = ["Origin": "http://127.0.0.1:\(port)", "Content-Type": "application/json"]
        let started = try #require(rawHTTP(port: port, method: "POST", path: "/api/training", headers: origin,
                                           body: Data("{\"benign\":\"Dataset/good.txt\",\"malicious\":\"Dataset/bad.txt\"}".utf8)))
        #expect(started.status == 202)
        let id = try #require(started.json?["id"] as? Int)
        var state = "running"
        let deadline = Date().addingTimeInterval(120)
        while state == "running" && Date() < deadline {
            usleep(200_000)
            state = rawHTTP(port: port, path: "/api/training/\(id)")?.json?["state"] as? String ?? "running"
        }
        #expect(state == "succeeded")
        let activated = try #require(rawHTTP(port: port, method: "POST", path: "/api/training/\(id)/activate", headers: origin))
        #expect(activated.status == 200)
        #expect((activated.json?["message"] as? String)?.hasPrefix("detection now uses Dataset/models/") == true)
    }
}
