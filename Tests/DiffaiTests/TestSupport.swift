import Foundation
import HTTP
import NetworkTypes
import Pipeline

enum TestPaths {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var captures: URL { packageRoot.appendingPathComponent("captures") }
    /// How many rules the default rules.json has, and how many are enabled: tests that load it
    /// count from the file, so adding a rule does not break them.
    static let defaultRules: (count: Int, enabled: Int) = {
        let data = (try? Data(contentsOf: packageRoot.appendingPathComponent("rules.json"))) ?? Data()
        let rules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? []
        return (rules.count, rules.filter { ($0["enabled"] as? Bool) != false }.count)
    }()
    static func capture(_ name: String) -> String { captures.appendingPathComponent(name).path }

    /// The `diffai` executable built alongside the tests.
    static var diffaiBinary: String {
        let candidates = [".build/debug/diffai", ".build/x86_64-unknown-linux-gnu/debug/diffai",
                          ".build/aarch64-unknown-linux-gnu/debug/diffai"]
        for candidate in candidates {
            let path = packageRoot.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/diffai").path
    }

    /// A fresh folder under /tmp, removed when the test process exits (set
    /// DIFFAI_KEEP_TEST_DIRS=1 to keep them for a post-mortem).
    static func temporaryDirectory(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("diffai-tests-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        TemporaryDirectories.register(url.path)
        return url
    }
}

/// Collects transactions in completion order.
final class CollectingSink: HTTPTransactionSink {
    var requests: [HTTPTransaction] = []
    var transactions: [HTTPTransaction] = []
    func requestCompleted(_ transaction: HTTPTransaction) { requests.append(transaction) }
    func transactionCompleted(_ transaction: HTTPTransaction) { transactions.append(transaction) }
}

struct ReplayResult {
    var transactions: [HTTPTransaction]
    var requestsInDetectionOrder: [HTTPTransaction]
    var summary: ReplaySummary
    var diagnostics: [String]
}

func replay(_ files: [String], options: PipelineOptions = PipelineOptions()) -> ReplayResult {
    let sink = CollectingSink()
    var diagnostics: [String] = []
    let engine = ReplayEngine(options: options, sink: sink) { diagnostics.append($0) }
    let summary = engine.run(files: files)
    return ReplayResult(transactions: sink.transactions, requestsInDetectionOrder: sink.requests,
                        summary: summary, diagnostics: diagnostics)
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

@discardableResult
func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    // Output goes to files, so a chatty child can never block on a full pipe.
    let directory = TestPaths.temporaryDirectory("process")
    let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
    try? out.close()
    try? err.close()
    let outData = (try? Data(contentsOf: outURL)) ?? Data()
    let errData = (try? Data(contentsOf: errURL)) ?? Data()
    try? FileManager.default.removeItem(at: directory)
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

func which(_ tool: String) -> String? {
    for directory in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let path = directory + "/" + tool
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

extension HTTPTransaction {
    var summaryLine: String { "\(request.method) \(request.target) \(status.map(String.init) ?? "-")" }
}

/// Starts a program with a clean signal mask: the test runner blocks some signals and children
/// inherit the mask, so without this SIGTERM/SIGINT would never reach them.
func launchWithCleanSignalMask(_ arguments: [String], output: URL? = nil, standardError: Pipe? = nil, directory: URL? = nil) throws -> Process {
    let process = Process()
    if let directory { process.currentDirectoryURL = directory }
    process.executableURL = URL(fileURLWithPath: which("python3") ?? "/usr/bin/python3")
    process.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"] + arguments
    if let output {
        FileManager.default.createFile(atPath: output.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = process.standardOutput
    } else {
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
    }
    if let standardError { process.standardError = standardError }
    try process.run()
    return process
}

/// Python's HTTP/1.1 file server on 127.0.0.1:`port`, serving `root`. Stop it with SIGKILL.
func startHTTPServer(port: Int, root: URL) throws -> Process {
    try launchWithCleanSignalMask([which("python3") ?? "/usr/bin/python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1",
                                   "--protocol", "HTTP/1.1", "--directory", root.path])
}

/// A TCP port on 127.0.0.1 that the OS reports free right now (suites run in parallel, so
/// fixed or pid-derived ports collide).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A private Apache (event MPM, mod_proxy_http) run in the foreground from `directory`,
/// listening on 127.0.0.1 at `ports`; `proxying` holds its ProxyPass lines or virtual hosts.
/// Stop it with SIGTERM.
func startApache(_ apache: String, directory: URL, ports: [Int], proxying: String) throws -> Process {
    let listen = ports.map { "Listen 127.0.0.1:\($0)\n" }.joined()
    let config = "ServerRoot \(directory.path)\n" + listen + """
        PidFile \(directory.path)/apache.pid
        ErrorLog \(directory.path)/error.log
        Mutex file:\(directory.path) default
        LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
        LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
        LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
        LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
        User www-data
        Group www-data
        ServerName localhost

        """ + proxying
    try Data(config.utf8).write(to: directory.appendingPathComponent("httpd.conf"))
    return try launchWithCleanSignalMask([apache, "-f", directory.appendingPathComponent("httpd.conf").path, "-DFOREGROUND"],
                                         output: directory.appendingPathComponent("apache.out"))
}

/// A TCP connection to 127.0.0.1:`port` whose reads give up after `receiveTimeout` seconds;
/// nil when nothing listens there. The caller closes it.
func connectLoopback(port: Int, receiveTimeout: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        return nil
    }
    return fd
}

/// Folders the tests made, removed at exit.
enum TemporaryDirectories {
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var lock = pthread_mutex_t()
    nonisolated(unsafe) private static var registered = false

    static func register(_ path: String) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        paths.append(path)
        guard !registered, ProcessInfo.processInfo.environment["DIFFAI_KEEP_TEST_DIRS"] == nil else { return }
        registered = true
        atexit { TemporaryDirectories.removeAll() }
    }

    static func removeAll() {
        pthread_mutex_lock(&lock)
        let all = paths
        paths.removeAll()
        pthread_mutex_unlock(&lock)
        for path in all { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// Seeds for randomised tests: fixed per test (so a run repeats), overridable with
/// `DIFFAI_TEST_SEED`, and always printed so a failure can be replayed.
/// Waits until `condition` holds, checking every 20 ms, for at most `timeout` seconds; true
/// when it held. Tests wait on what they then check (an alert reaching its file, a process
/// writing its banner) instead of sleeping a fixed time, which is too long on a quiet machine
/// and too short on a loaded one.
@discardableResult
func eventually(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(20_000)
    }
}

enum TestSeed {
    static func value(_ name: String) -> UInt64 {
        let seed: UInt64
        if let text = ProcessInfo.processInfo.environment["DIFFAI_TEST_SEED"], let value = UInt64(text) {
            seed = value
        } else {
            // FNV-1a of the name: stable across runs and platforms, unlike Hasher.
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            seed = hash
        }
        FileHandle.standardError.write(Data("random test '\(name)': seed \(seed) (DIFFAI_TEST_SEED=\(seed) repeats it)\n".utf8))
        return seed
    }
}

/// Every rule id behind an EVE alert: its lead and every match (an incident lists them all).
func alertRuleIDs(_ eve: [String: Any]) -> [Int] {
    let lead = (eve["alert"] as? [String: Any])?["signature_id"] as? Int
    let matches = ((eve["diffai"] as? [String: Any])?["matches"] as? [[String: Any]])?.compactMap { $0["signature_id"] as? Int } ?? []
    return matches.isEmpty ? lead.map { [$0] } ?? [] : matches
}
