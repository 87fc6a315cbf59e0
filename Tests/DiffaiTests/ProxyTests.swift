import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A backend for the proxy tests: echoes what it received (headers in order, body length and
/// SHA-256, chunked or not), serves a chunked response and a large download.
let echoBackendScript = #"""
import hashlib, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIG = bytes((i * 7 + 3) % 251 for i in range(20 * 1024 * 1024))

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def read_body(self):
        digest, length = hashlib.sha256(), 0
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""): pass
                    break
                data = self.rfile.read(size); self.rfile.readline()
                digest.update(data); length += len(data)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                data = self.rfile.read(min(remaining, 65536)); digest.update(data); length += len(data); remaining -= len(data)
        return length, digest.hexdigest()
    def answer(self, body, content_type="application/json"):
        self.send_response(200); self.send_header("Content-Type", content_type); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def echo(self):
        length, sha = self.read_body()
        self.answer(json.dumps({"method": self.command, "path": self.path, "headers": list(self.headers.items()),
                                "body_length": length, "body_sha256": sha}).encode())
    def do_GET(self):
        if self.path.startswith("/big"):
            self.send_response(200); self.send_header("Content-Type", "application/octet-stream"); self.send_header("Content-Length", str(len(BIG)))
            self.end_headers(); self.wfile.write(BIG); return
        if self.path.startswith("/closing"):
            # Says it will close, then takes its time to do so.
            self.send_response(200); self.send_header("Content-Length", "3"); self.send_header("Connection", "close"); self.end_headers()
            self.wfile.write(b"bye"); self.wfile.flush(); time.sleep(1.5); return
        if self.path.startswith("/chunked"):
            self.send_response(200); self.send_header("Content-Type", "text/plain"); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            for part in [b"first part\n", b"second, longer part " * 50 + b"\n", b"last\n"]:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n"); return
        self.echo()
    do_POST = echo
    do_PUT = echo
    do_HEAD = echo

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""#

final class ProxySetup {
    let directory: URL
    let backendPort: Int
    let proxyPort: Int
    let backend: Process
    var proxy: Process?
    let log: String
    let eve: String

    init(block: Bool = true, extra: [String] = [], startBackend: Bool = true, consolePort: Int? = nil) throws {
        directory = TestPaths.temporaryDirectory("proxy")
        backendPort = freePort()
        var port = freePort()
        while port == backendPort { port = freePort() }
        proxyPort = port
        log = directory.appendingPathComponent("alert.log").path
        eve = directory.appendingPathComponent("eve.json").path
        let script = directory.appendingPathComponent("backend.py")
        try echoBackendScript.write(to: script, atomically: true, encoding: .utf8)
        backend = try launchWithCleanSignalMask([which("python3") ?? "/usr/bin/python3", script.path, "\(backendPort)"])
        if !startBackend { kill(backend.processIdentifier, SIGKILL) }
        var arguments = [TestPaths.diffaiBinary, "proxy", "--listen", "127.0.0.1:\(proxyPort)", "--upstream", "127.0.0.1:\(backendPort)",
                         "--no-ml", "--quiet", "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                         "--alert-log", log, "--eve", eve] + extra
        if let consolePort {
            arguments += ["--console", "127.0.0.1:\(consolePort)", "--console-token-file", directory.appendingPathComponent("token").path]
        } else {
            arguments.append("--no-console")
        }
        if block { arguments.append("--block") }
        proxy = try launchWithCleanSignalMask(arguments, output: directory.appendingPathComponent("proxy.out"))
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if rawHTTP(port: proxyPort, path: "/ready") != nil, !startBackend || rawHTTP(port: backendPort, path: "/ready") != nil,
               consolePort.map({ rawHTTP(port: $0, path: "/api/stats")?.status == 200 }) ?? true { return }
            usleep(100_000)
        }
        throw ConsoleTestError("proxy or backend did not start: \(output)")
    }

    var output: String { (try? String(contentsOf: directory.appendingPathComponent("proxy.out"), encoding: .utf8)) ?? "" }
    var alertLog: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    var eveLines: [[String: Any]] {
        ((try? String(contentsOfFile: eve, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func stop() {
        if let proxy, proxy.isRunning {
            kill(proxy.processIdentifier, SIGTERM)
            proxy.waitUntilExit()
        }
        if backend.isRunning { kill(backend.processIdentifier, SIGKILL) }
        backend.waitUntilExit()
    }

    deinit { stop() }
}

func curlResult(_ arguments: [String]) throws -> ProcessResult {
    try run(which("curl") ?? "/usr/bin/curl", ["-s", "--max-time", "30"] + arguments)
}

/// Sends `bytes` on one connection and reads until the peer closes or `timeout` passes.
func rawExchange(port: Int, _ bytes: [UInt8], timeout: Int = 5, pauseAfterSend: UInt32 = 0, finishSending: Bool = false) -> String {
    guard let fd = connectLoopback(port: port, receiveTimeout: timeout) else { return "" }
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    if pauseAfterSend > 0 { usleep(pauseAfterSend) }
    if finishSending { shutdown(fd, Int32(SHUT_WR)) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        received += buffer[0..<n]
    }
    return String(decoding: received, as: UTF8.self)
}

/// What arrives on `fd` until it has been quiet for `quietMilliseconds` or is closed.
func readAvailable(_ fd: Int32, quietMilliseconds: Int32) -> String {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, quietMilliseconds) > 0 else { break }
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        received += buffer[0..<n]
    }
    return String(decoding: received, as: UTF8.self)
}

@Suite(.serialized) struct ProxyTests {
    @Test func blocksAttacksWithAnIncidentIdAndPassesBenignTraffic() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        let benign = try curlResult(["-i", "http://127.0.0.1:\(setup.proxyPort)/shop/item?id=42&q=running+shoes"])
        #expect(benign.stdout.hasPrefix("HTTP/1.1 200"))
        let attack = try curlResult(["-i", "http://127.0.0.1:\(setup.proxyPort)/items?id=1%20UNION%20SELECT%20password%20FROM%20users--"])
        #expect(attack.stdout.hasPrefix("HTTP/1.1 403"))
        let incident = try #require(attack.stdout.split(separator: "\r\n").first { $0.hasPrefix("X-Diffai-Incident: ") }?.dropFirst(19))
        #expect(attack.stdout.contains("Incident id: <code>\(incident)</code>"))
        #expect(eventually { setup.alertLog.contains("incident=\(incident)") })
        #expect(setup.alertLog.contains("action=blocked"))
        let blocked = setup.eveLines.filter { ($0["diffai"] as? [String: Any])?["incident_id"] as? String == String(incident) }
        #expect(!blocked.isEmpty)
        #expect(blocked.allSatisfy { ($0["alert"] as? [String: Any])?["action"] as? String == "blocked" && ($0["http"] as? [String: Any])?["status"] as? Int == 403 })
        #expect(!setup.alertLog.contains("running+shoes"))
        // The connection stays usable after a refusal of a complete request (keep-alive).
        let both = try curlResult(["-s", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                                   "http://127.0.0.1:\(setup.proxyPort)/a?x=%3Cscript%3Ealert(1)%3C/script%3E", "http://127.0.0.1:\(setup.proxyPort)/b"])
        #expect(both.stdout == "403 1\n200 0\n")
    }

    @Test func withoutBlockEverythingIsForwardedAndAttacksAreAlerted() throws {
        let setup = try ProxySetup(block: false)
        defer { setup.stop() }
        let attack = try curlResult(["-i", "http://127.0.0.1:\(setup.proxyPort)/items?id=1%20UNION%20SELECT%20password%20FROM%20users--"])
        #expect(attack.stdout.hasPrefix("HTTP/1.1 200"))
        #expect(eventually { setup.alertLog.contains("rules=2,1001,1101 anomaly_score=15") })
        #expect(setup.alertLog.contains("action=allowed"))
    }

    @Test func headersAreForwardedPerRFC9110() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        let result = try curlResult(["-H", "Host: shop.example", "-H", "X-Forwarded-For: 203.0.113.9", "-H", "Connection: X-Secret",
                                     "-H", "X-Secret: hop", "-H", "Keep-Alive: timeout=5", "-H", "X-Custom-Case: Value",
                                     "http://127.0.0.1:\(setup.proxyPort)/echo"])
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let headers = (echo["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
        #expect(headers.contains { $0.0 == "Host" && $0.1 == "shop.example" })
        #expect(headers.contains { $0.0 == "X-Forwarded-For" && $0.1 == "203.0.113.9, 127.0.0.1" })
        #expect(headers.contains { $0.0 == "X-Custom-Case" && $0.1 == "Value" })
        #expect(!headers.contains { ["x-secret", "keep-alive"].contains($0.0.lowercased()) })
        #expect(!headers.contains { $0.0.lowercased() == "connection" && $0.1.lowercased().contains("x-secret") })
    }

    @Test func bodiesStreamBothWaysByteForByte() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        // 10 MB upload, chunked by curl, with Expect: 100-continue.
        let upload = setup.directory.appendingPathComponent("upload.bin")
        var text = ""
        for i in 0..<(10 << 20) / 32 { text += String(format: "upload line %019d\n", i) }
        try Data(text.utf8).write(to: upload)
        let digest = try run("/usr/bin/sha256sum", [upload.path]).stdout.split(separator: " ")[0]
        let chunked = try curlResult(["-H", "Content-Type: application/octet-stream", "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue", "--data-binary", "@\(upload.path)",
                                      "http://127.0.0.1:\(setup.proxyPort)/upload"])
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(chunked.stdout.utf8)) as? [String: Any], "\(chunked.stdout.prefix(300))")
        #expect(echo["body_length"] as? Int == 10 << 20)
        #expect(echo["body_sha256"] as? String == String(digest))
        let sized = try curlResult(["-H", "Content-Type: application/octet-stream", "--data-binary", "@\(upload.path)", "http://127.0.0.1:\(setup.proxyPort)/upload"])
        let sizedEcho = try #require(try JSONSerialization.jsonObject(with: Data(sized.stdout.utf8)) as? [String: Any])
        #expect(sizedEcho["body_sha256"] as? String == String(digest))

        // Large download and a chunked response: the same bytes as straight from the backend.
        let viaProxy = setup.directory.appendingPathComponent("big-proxy"), direct = setup.directory.appendingPathComponent("big-direct")
        try curlResult(["-o", viaProxy.path, "http://127.0.0.1:\(setup.proxyPort)/big"])
        try curlResult(["-o", direct.path, "http://127.0.0.1:\(setup.backendPort)/big"])
        #expect(try Data(contentsOf: viaProxy).count == 20 << 20)
        #expect(try Data(contentsOf: viaProxy) == Data(contentsOf: direct))
        let rawChunked = try curlResult(["-i", "--raw", "http://127.0.0.1:\(setup.proxyPort)/chunked"]).stdout
        let rawDirect = try curlResult(["-i", "--raw", "http://127.0.0.1:\(setup.backendPort)/chunked"]).stdout
        func withoutDate(_ s: String) -> String { s.split(separator: "\r\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("Date:") }.joined(separator: "\r\n") }
        #expect(withoutDate(rawChunked) == withoutDate(rawDirect))
        #expect(rawChunked.contains("Transfer-Encoding: chunked"))
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        var wire = ""
        for path in ["/one", "/two?q=%3Cscript%3Ealert(1)%3C/script%3E", "/three"] {
            wire += "GET \(path) HTTP/1.1\r\nHost: shop.example\r\n\r\n"
        }
        wire += "GET /four HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n"
        let answer = rawExchange(port: setup.proxyPort, Array(wire.utf8))
        let statuses = answer.matches(of: /HTTP\/1\.1 \d{3}/).map { String(answer[$0.range]) }
        #expect(statuses == ["HTTP/1.1 200", "HTTP/1.1 403", "HTTP/1.1 200", "HTTP/1.1 200"])
        let order = ["\"/one\"", "Incident id", "\"/three\"", "\"/four\""].map { answer.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil })
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
    }

    /// A backend's `Connection: close` ends the exchange for the client too (the response,
    /// passed on whole, tells the client so): a request behind it must not go to a backend
    /// connection that is about to close, where its body would be lost and answered with 502.
    @Test func backendConnectionCloseEndsTheClientConnection() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        let wire = "GET /closing HTTP/1.1\r\nHost: shop.example\r\n\r\n"
            + "POST /after HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello"
        let started = Date()
        let answer = rawExchange(port: setup.proxyPort, Array(wire.utf8))
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.hasSuffix("bye"), "\(answer)")
        #expect(!answer.contains("502"))
        #expect(Date().timeIntervalSince(started) < 1.2, "the proxy closes at once, not when the backend does")
    }

    /// The console works in proxy mode as in monitor mode: a refused attack reaches the live
    /// stream (a real WebSocket) and the history with its incident id, and the mode is shown.
    @Test func consoleStreamsTheProxysAlerts() throws {
        let consolePort = freePort()
        let setup = try ProxySetup(consolePort: consolePort)
        defer { setup.stop() }
        let stream = try #require(WebSocketClient(port: consolePort, path: "/ws"))
        let hello = try #require(stream.nextText(timeout: 5))
        #expect(hello.contains("\"type\":\"hello\"") && hello.contains("\"mode\":\"proxy\""), "\(hello)")

        let attack = try curlResult(["-i", "http://127.0.0.1:\(setup.proxyPort)/x?cmd=;cat%20/etc/passwd"]).stdout
        #expect(attack.hasPrefix("HTTP/1.1 403"))
        let incident = try #require(attack.split(separator: "\r\n").first { $0.hasPrefix("X-Diffai-Incident: ") }?.dropFirst(19))
        var streamed: String?
        let deadline = Date().addingTimeInterval(5)
        while streamed == nil, Date() < deadline, let text = stream.nextText(timeout: 1) {
            if text.contains(String(incident)) { streamed = text }
        }
        let alert = try #require(streamed, "no alert with incident \(incident) on the live stream")
        #expect(alert.contains("\"action\":\"blocked\""), "\(alert)")

        // The statistics count requests, not inspections: a POST whose head and then body are
        // inspected is one request.
        func requests() -> Int? { (rawHTTP(port: consolePort, path: "/api/stats")?.json?["stats"] as? [String: Any])?["requests"] as? Int }
        var before = requests()
        for _ in 0..<30 where before == nil { usleep(100_000); before = requests() }
        usleep(1_200_000)  // published once a second: let the attack's count arrive
        let settled = try #require(requests())
        let post = try curlResult(["--data-binary", "user=alice&comment=nice+shoes", "http://127.0.0.1:\(setup.proxyPort)/form"])
        #expect(post.stdout.contains("body_length"))
        var after = settled
        for _ in 0..<30 where after == settled { usleep(100_000); after = requests() ?? settled }
        usleep(1_200_000)
        #expect(requests() == settled + 1)

        let history = rawHTTP(port: consolePort, path: "/api/alerts")?.json
        let alerts = try #require(history?["alerts"] as? [[String: Any]])
        #expect(alerts.contains { entry in
            let eve = entry["alert"] as? [String: Any]
            return (eve?["diffai"] as? [String: Any])?["incident_id"] as? String == String(incident)
        })
    }

    /// An attack compressed into the body is refused (the application would inflate it); the
    /// same body compressed but harmless goes to the backend byte for byte.
    @Test func compressedBodiesAreInspectedInflated() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        func post(_ form: String) -> String {
            let gzip = Deflate.compress(Array(form.utf8), windowBits: 31)
            let head = "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Content-Encoding: gzip\r\nContent-Length: \(gzip.count)\r\nConnection: close\r\n\r\n"
            return rawExchange(port: setup.proxyPort, Array(head.utf8) + gzip)
        }
        let attack = post("user=alice&comment=1%27%20UNION%20SELECT%20password%20FROM%20users--")
        #expect(attack.hasPrefix("HTTP/1.1 403"), "\(attack)")
        let benign = post("user=alice&comment=great+shoes")
        #expect(benign.hasPrefix("HTTP/1.1 200"), "\(benign)")
        let gzipLength = Deflate.compress(Array("user=alice&comment=great+shoes".utf8), windowBits: 31).count
        #expect(benign.contains("\"body_length\": \(gzipLength)"), "\(benign)")
    }

    @Test func idleTimeoutCutsStalledClientsOnly() throws {
        let setup = try ProxySetup(extra: ["--idle-timeout", "1", "--header-timeout", "30"])
        defer { setup.stop() }
        // A body that stops arriving: 408 after about the idle timeout (checked four times per period).
        let started = Date()
        let stalled = rawExchange(port: setup.proxyPort, Array("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789".utf8), timeout: 10)
        let waited = Date().timeIntervalSince(started)
        #expect(stalled.hasPrefix("HTTP/1.1 408"), "\(stalled)")
        #expect(waited >= 0.9 && waited < 3, "\(waited)")
        // A body that arrives slowly but steadily (a byte every 0.4 s, 3 s in all) is not idle.
        let fd = try #require(connectLoopback(port: setup.proxyPort, receiveTimeout: 10))
        defer { close(fd) }
        func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }
        send("POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for byte in "abcdefgh" {
            usleep(400_000)
            send(String(byte))
        }
        let answer = readAvailable(fd, quietMilliseconds: 1_000)
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.contains("/slow-body"))
    }

    @Test func faultsAndLimits() throws {
        let setup = try ProxySetup(extra: ["--header-timeout", "1", "--max-header-bytes", "4096", "--max-body-mb", "1"])
        defer { setup.stop() }
        // Oversize header: 431.
        let big = try curlResult(["-i", "-H", "X-Big: " + String(repeating: "a", count: 8000), "http://127.0.0.1:\(setup.proxyPort)/"])
        #expect(big.stdout.hasPrefix("HTTP/1.1 431"))
        // Body over the limit: 413 from the declared length, before it is sent.
        let huge = rawExchange(port: setup.proxyPort, Array("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\nabc".utf8))
        #expect(huge.hasPrefix("HTTP/1.1 413"))
        // Request smuggling shape: 400 and an alert naming the anomaly.
        let smuggle = rawExchange(port: setup.proxyPort, Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8))
        #expect(smuggle.hasPrefix("HTTP/1.1 400"))
        #expect(eventually { setup.alertLog.contains("content_length_with_transfer_encoding") })
        // A client that never finishes its head is cut off after the header timeout.
        let started = Date()
        let slow = rawExchange(port: setup.proxyPort, Array("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8), timeout: 10)
        let waited = Date().timeIntervalSince(started)
        #expect(slow.hasPrefix("HTTP/1.1 408"))
        #expect(waited >= 0.9 && waited < 5, "\(waited)")
        // An idle connection that sends nothing is closed too.
        let silent = rawExchange(port: setup.proxyPort, [], timeout: 10)
        #expect(silent.isEmpty)

        // Keep-alive: each head gets the full timeout from the end of the previous exchange,
        // even after the connection's first check came due in between.
        let fd = try #require(connectLoopback(port: setup.proxyPort, receiveTimeout: 10))
        defer { close(fd) }
        let started2 = Date()
        func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }
        usleep(500_000)
        send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(readAvailable(fd, quietMilliseconds: 200).hasPrefix("HTTP/1.1 200"))
        usleep(550_000)  // past the first check (1 s after connecting), within this head's time
        send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(readAvailable(fd, quietMilliseconds: 200).hasPrefix("HTTP/1.1 200"))
        send("GET /three HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        let partialSent = Date()
        let late = readAvailable(fd, quietMilliseconds: 3_000)
        #expect(late.hasPrefix("HTTP/1.1 408"))
        let waited2 = Date().timeIntervalSince(partialSent)
        #expect(waited2 > 0.5 && Date().timeIntervalSince(started2) < 6, "\(waited2)")
    }

    @Test func garbageNeverBringsItDown() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        var generator = SeededRandom(seed: TestSeed.value("proxy garbage"))
        let seeds = ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
                     "GET /\u{0}\u{1} HTTP/9.9\r\n\r\n", "\r\n\r\n\r\n", "HEAD / HTTP/1.0\r\n\r\n"]
        for round in 0..<150 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<Int.random(in: 0...8, using: &generator) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if round % 3 == 0 { bytes += (0..<Int.random(in: 0...2000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) } }
            _ = rawExchange(port: setup.proxyPort, bytes, timeout: 2, finishSending: true)
        }
        #expect(setup.proxy?.isRunning == true)
        let after = try curlResult(["-i", "http://127.0.0.1:\(setup.proxyPort)/still-alive"])
        #expect(after.stdout.hasPrefix("HTTP/1.1 200"))
    }

    @Test func backendDownGives502AtOnce() throws {
        let setup = try ProxySetup(startBackend: false)
        defer { setup.stop() }
        let started = Date()
        let result = try curlResult(["-i", "http://127.0.0.1:\(setup.proxyPort)/"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 502"))
        #expect(Date().timeIntervalSince(started) < 2)
    }
}

/// The deployment with blocking: Apache → diffai proxy → backend.
@Suite(.serialized) struct ApacheProxyTests {
    @Test(.enabled(if: ApacheMonitorTests.enabled))
    func throughApacheAttacksAreRefusedAndEverythingElsePassesUnchanged() throws {
        let apache = try #require(FileManager.default.isExecutableFile(atPath: "/usr/sbin/apache2") ? "/usr/sbin/apache2" : nil)
        let setup = try ProxySetup()
        defer { setup.stop() }
        let viaProxy = freePort()
        var direct = freePort()
        while direct == viaProxy { direct = freePort() }
        let server = try startApache(apache, directory: setup.directory, ports: [viaProxy, direct], proxying: """
        <VirtualHost 127.0.0.1:\(viaProxy)>
            ProxyPreserveHost On
            ProxyPass / http://localhost:\(setup.proxyPort)/
            ProxyPassReverse / http://localhost:\(setup.proxyPort)/
        </VirtualHost>
        <VirtualHost 127.0.0.1:\(direct)>
            ProxyPreserveHost On
            ProxyPass / http://localhost:\(setup.backendPort)/
            ProxyPassReverse / http://localhost:\(setup.backendPort)/
        </VirtualHost>
        """)
        defer { kill(server.processIdentifier, SIGTERM); server.waitUntilExit() }
        let deadline = Date().addingTimeInterval(10)
        while try !curlResult(["-i", "http://127.0.0.1:\(viaProxy)/chunked"]).stdout.hasPrefix("HTTP/1.1 200") {
            try #require(Date() < deadline, "Apache did not come up")
            usleep(100_000)
        }
        func strip(_ s: String) -> String {
            s.split(separator: "\r\n", omittingEmptySubsequences: false).filter { !$0.lowercased().hasPrefix("date:") }.joined(separator: "\r\n")
        }
        // Benign requests: the same answer through the proxy as straight to the backend
        // (X-Forwarded-For differs by design: the proxy appends the hop it saw).
        let bigViaProxy = setup.directory.appendingPathComponent("apache-big-1"), bigDirect = setup.directory.appendingPathComponent("apache-big-2")
        try curlResult(["-o", bigViaProxy.path, "-H", "Host: shop.test", "http://127.0.0.1:\(viaProxy)/big"])
        try curlResult(["-o", bigDirect.path, "-H", "Host: shop.test", "http://127.0.0.1:\(direct)/big"])
        #expect(try Data(contentsOf: bigViaProxy).count == 20 << 20)
        #expect(try Data(contentsOf: bigViaProxy) == Data(contentsOf: bigDirect))
        for target in ["/chunked", "/shop?q=madrid&page=2"] {
            let a = try curlResult(["-i", "-H", "Host: shop.test", "http://127.0.0.1:\(viaProxy)\(target)"]).stdout
            let b = try curlResult(["-i", "-H", "Host: shop.test", "http://127.0.0.1:\(direct)\(target)"]).stdout
            if target.hasPrefix("/shop") {
                let ja = try JSONSerialization.jsonObject(with: Data(a.components(separatedBy: "\r\n\r\n").last!.utf8)) as? [String: Any]
                #expect(ja?["path"] as? String == "/shop?q=madrid&page=2")
                #expect((ja?["headers"] as? [[String]])?.contains { $0[0] == "Host" && $0[1] == "shop.test" } == true)
            } else {
                #expect(strip(a) == strip(b), "\(target)")
            }
        }
        let attack = try curlResult(["-i", "-H", "Host: shop.test", "http://127.0.0.1:\(viaProxy)/x?cmd=;cat%20/etc/passwd"]).stdout
        #expect(attack.hasPrefix("HTTP/1.1 403"))
        let incident = try #require(attack.split(separator: "\r\n").first { $0.hasPrefix("X-Diffai-Incident: ") }?.dropFirst(19))
        #expect(eventually { setup.alertLog.contains("incident=\(incident)") })
        let lines = setup.alertLog.split(separator: "\n").filter { $0.contains("incident=\(incident)") }
        #expect(lines.allSatisfy { $0.contains("action=blocked") && $0.contains("url=http://shop.test/x?cmd=;cat") })
        // Apache's upload streamed through both proxies.
        let post = try curlResult(["-H", "Host: shop.test", "--data-binary", "user=alice&comment=great", "http://127.0.0.1:\(viaProxy)/form"]).stdout
        let echo = try JSONSerialization.jsonObject(with: Data(post.utf8)) as? [String: Any]
        #expect(echo?["body_length"] as? Int == 24)
    }
}


/// Just enough of a WebSocket client to read what the console streams (server frames are
/// unmasked; the client sends only the handshake).
final class WebSocketClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init?(port: Int, path: String) {
        guard let fd = connectLoopback(port: port, receiveTimeout: 5) else { return nil }
        self.fd = fd
        let handshake = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        _ = Array(handshake.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        let end: [UInt8] = [13, 10, 13, 10]
        while buffer.firstRange(of: end) == nil {
            guard fill(timeout: 5) else { close(fd); return nil }
        }
        let headEnd = buffer.firstRange(of: end)!.upperBound
        guard String(decoding: buffer[..<headEnd], as: UTF8.self).hasPrefix("HTTP/1.1 101") else { close(fd); return nil }
        buffer.removeFirst(headEnd)
    }

    deinit { close(fd) }

    private func fill(timeout: Double) -> Bool {
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, Int32(timeout * 1000)) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { return false }
        buffer += chunk[0..<n]
        return true
    }

    /// The next text message, or nil when none arrives in time.
    func nextText(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if buffer.count >= 2 {
                var length = Int(buffer[1] & 0x7F)
                var offset = 2
                if length == 126, buffer.count >= 4 {
                    length = Int(buffer[2]) << 8 | Int(buffer[3]); offset = 4
                } else if length == 127, buffer.count >= 10 {
                    length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }; offset = 10
                }
                if length < 126 || offset > 2, buffer.count >= offset + length {
                    let opcode = buffer[0] & 0x0F
                    let payload = Array(buffer[offset..<offset + length])
                    buffer.removeFirst(offset + length)
                    if opcode == 1 { return String(decoding: payload, as: UTF8.self) }
                    continue
                }
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0, fill(timeout: left) else { return nil }
        }
    }
}
