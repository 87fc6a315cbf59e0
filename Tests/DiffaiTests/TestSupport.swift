import Foundation
import HTTP
import NetworkTypes
import Pipeline
import TestSupport

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
/// `environment`: variables for Apache itself (SSLKEYLOGFILE, say).
func startApache(_ apache: String, directory: URL, ports: [Int], proxying: String, environment: [String: String] = [:]) throws -> Process {
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
    let variables = environment.isEmpty ? [] : ["/usr/bin/env"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    return try launchWithCleanSignalMask(variables + [apache, "-f", directory.appendingPathComponent("httpd.conf").path, "-DFOREGROUND"],
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

/// Every rule id behind an EVE alert: its lead and every match (an incident lists them all).
func alertRuleIDs(_ eve: [String: Any]) -> [Int] {
    let lead = (eve["alert"] as? [String: Any])?["signature_id"] as? Int
    let matches = ((eve["diffai"] as? [String: Any])?["matches"] as? [[String: Any]])?.compactMap { $0["signature_id"] as? Int } ?? []
    return matches.isEmpty ? lead.map { [$0] } ?? [] : matches
}
