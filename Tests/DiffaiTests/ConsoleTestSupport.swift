import Foundation
import TestSupport

/// One HTTP/1.1 exchange over a plain socket, so a test controls every header (Host, Origin,
/// Cookie), which URLSession would not let it set.
struct RawHTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
}

func rawHTTP(port: Int, method: String = "GET", path: String, host: String? = nil, headers: [String: String] = [:],
             body: Data = Data(), readUntilClose: Bool = true) -> RawHTTPResponse? {
    guard let fd = connectLoopback(port: port, receiveTimeout: 10) else { return nil }
    defer { close(fd) }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    if readUntilClose { request += "Connection: close\r\n" }
    if !body.isEmpty || method == "POST" { request += "Content-Length: \(body.count)\r\n" }
    request += "\r\n"
    let bytes = Array(request.utf8) + Array(body)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        sent += n
    }
    var received = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        received.append(contentsOf: buffer[0..<n])
        guard let headEnd = received.range(of: Data("\r\n\r\n".utf8)) else { continue }
        // An upgrade answer never closes: stop after its head.
        if !readUntilClose { break }
        // Some servers keep the connection despite `Connection: close`: stop at Content-Length.
        let head = String(decoding: received[..<headEnd.lowerBound], as: UTF8.self).lowercased()
        if let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)),
           received.count - headEnd.upperBound >= length {
            break
        }
    }
    guard let split = received.range(of: Data("\r\n\r\n".utf8)) else { return nil }
    let head = String(decoding: received[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
    guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2, let status = Int(statusLine.split(separator: " ")[1]) else { return nil }
    var fields: [(String, String)] = []
    for line in head.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
    var payload = Data(received[split.upperBound...])
    if fields.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
        payload = dechunk(payload)
    }
    return RawHTTPResponse(status: status, headers: fields, body: payload)
}

private func dechunk(_ data: Data) -> Data {
    var out = Data()
    var rest = data[...]
    while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
        let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
        guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
        let start = lineEnd.upperBound
        guard rest.distance(from: start, to: rest.endIndex) >= size else { break }
        out.append(rest[start..<rest.index(start, offsetBy: size)])
        rest = rest[rest.index(start, offsetBy: min(size + 2, rest.distance(from: start, to: rest.endIndex)))...]
    }
    return out
}

/// `diffai console` (or any mode with a console) started for a test, stopped with SIGTERM.
final class ConsoleProcess {
    let process: Process
    let port: Int
    let log: URL

    init(arguments: [String], port: Int, directory: URL) throws {
        self.port = port
        log = directory.appendingPathComponent("console-\(port).log")
        process = try launchWithCleanSignalMask([TestPaths.diffaiBinary] + arguments, output: log, directory: directory)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let answer = rawHTTP(port: port, path: "/api/stats"), answer.status == 200 || answer.status == 401 { return }
            if !process.isRunning { break }
            usleep(100_000)
        }
        stop()
        throw ConsoleTestError("the console did not come up: \(output)")
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

struct ConsoleTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Small training files: benign paths and attacks, enough for a model in a second or two.
func writeSmallDatasets(in folder: URL) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var good: [String] = [], bad: [String] = []
    let words = ["shop", "cart", "item", "news", "about", "help", "login", "images", "docs", "blog", "search", "account"]
    for i in 0..<400 {
        good.append("/\(words[i % words.count])/\(words[(i * 7) % words.count])\(i).html")
        good.append("/\(words[(i * 5) % words.count])?page=\(i % 17)&sort=name")
        // Values with the punctuation of ordinary text: what the model judges on benign traffic.
        good.append("/search?q=\(words[i % words.count])%27s+\(words[(i / 12) % words.count])%3F+(\(words[(i * 5) % words.count]))")
    }
    let attacks = ["' or 1=1--", "<script>alert(\(0))</script>", "../../../../etc/passwd", ";cat /etc/shadow", "1 union select password from users",
                   "<img src=x onerror=alert(1)>", "${jndi:ldap://x/a}", "|id", "' and sleep(5)#", "%3Cscript%3E"]
    for i in 0..<400 {
        // A word in each payload: digits fold to 0, and the model needs distinct texts to learn from.
        bad.append("/\(words[i % words.count])?q=\(attacks[i % attacks.count].replacingOccurrences(of: "0", with: String(i)))\(words[(i / 10) % words.count])")
    }
    try (good.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("good.txt"), atomically: true, encoding: .utf8)
    try (bad.joined(separator: "\r\n") + "\r\n").write(to: folder.appendingPathComponent("bad.txt"), atomically: true, encoding: .utf8)
}

// MARK: WebDriver

/// The W3C WebDriver protocol spoken to Debian's chromedriver, which drives a real headless
/// Chromium.
final class WebDriver {
    let driver: Process
    let port: Int
    var session = ""

    static var available: Bool { which("chromedriver") != nil && (which("chromium") != nil || which("chromium-browser") != nil) }

    init() throws {
        port = freePort()
        driver = try launchWithCleanSignalMask([which("chromedriver")!, "--port=\(port)"])
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let status = try? call("GET", "/status"), (status["value"] as? [String: Any])?["ready"] as? Bool == true { break }
            usleep(100_000)
        }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": [
                "binary": which("chromium") ?? which("chromium-browser")!,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--no-first-run", "--user-data-dir=\(TestPaths.temporaryDirectory("chromium").path)"],
            ],
        ]]]
        let created = try call("POST", "/session", capabilities)
        guard let value = created["value"] as? [String: Any], let id = value["sessionId"] as? String else {
            throw ConsoleTestError("chromedriver did not start a session: \(created)")
        }
        session = id
    }

    func quit() {
        _ = try? call("DELETE", "/session/\(session)")
        kill(driver.processIdentifier, SIGKILL)
        driver.waitUntilExit()
    }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> [String: Any] {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        guard let answer = rawHTTP(port: port, method: method, path: path,
                                   headers: body == nil ? [:] : ["Content-Type": "application/json; charset=utf-8"], body: payload) else {
            throw ConsoleTestError("chromedriver did not answer \(method) \(path)")
        }
        return answer.json ?? [:]
    }

    func open(_ url: String) throws {
        try call("POST", "/session/\(session)/url", ["url": url])
    }

    /// Runs JavaScript in the page and returns its value.
    func script(_ source: String, _ arguments: [Any] = []) throws -> Any? {
        let answer = try call("POST", "/session/\(session)/execute/sync", ["script": source, "args": arguments])
        if let value = answer["value"] as? [String: Any], let error = value["error"] as? String {
            throw ConsoleTestError("script failed: \(error): \(value["message"] ?? "")")
        }
        return answer["value"]
    }

    func string(_ source: String) throws -> String { (try script(source) as? String) ?? "" }

    /// Polls `source` until it returns true; the time it took, or nil on timeout.
    @discardableResult
    func wait(for source: String, timeout: Double) throws -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if (try script(source) as? Bool) == true { return Date().timeIntervalSince(start) }
            usleep(25_000)
        }
        return nil
    }

    /// Whether a JavaScript dialog (alert(), confirm()) is open: injected script would open one.
    var dialogIsOpen: Bool {
        guard let answer = try? call("GET", "/session/\(session)/alert/text") else { return false }
        if let value = answer["value"] as? [String: Any], value["error"] != nil { return false }
        return true
    }

    /// Saves a PNG of the page under test-artifacts/console/.
    func screenshot(_ name: String) throws {
        let answer = try call("GET", "/session/\(session)/screenshot")
        guard let base64 = answer["value"] as? String, let png = Data(base64Encoded: base64) else { throw ConsoleTestError("no screenshot") }
        let folder = TestPaths.packageRoot.appendingPathComponent("test-artifacts/console")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try png.write(to: folder.appendingPathComponent(name + ".png"))
    }
}
