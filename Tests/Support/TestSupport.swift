import CZlib
import CaptureSynthesis
import Foundation
import HTTP
import NetworkTypes

#if canImport(Glibc)
import Glibc
#endif

// What tests of every module share: the package's paths and the built executable, temporary
// folders, seeds for randomised tests, waiting on a condition, running a process, and drivers
// for the HTTP stage.

public enum TestPaths {
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static var captures: URL { packageRoot.appendingPathComponent("captures") }
    /// How many rules the default rules.json has, and how many are enabled: tests that load it
    /// count from the file, so adding a rule does not break them.
    public static let defaultRules: (count: Int, enabled: Int) = {
        let data = (try? Data(contentsOf: packageRoot.appendingPathComponent("rules.json"))) ?? Data()
        let rules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? []
        return (rules.count, rules.filter { ($0["enabled"] as? Bool) != false }.count)
    }()
    public static func capture(_ name: String) -> String { captures.appendingPathComponent(name).path }

    /// The `diffai` executable built alongside the tests.
    public static var diffaiBinary: String {
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
    public static func temporaryDirectory(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("diffai-tests-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        TemporaryDirectories.register(url.path)
        return url
    }
}

/// Folders the tests made, removed at exit.
public enum TemporaryDirectories {
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var lock = pthread_mutex_t()
    nonisolated(unsafe) private static var registered = false

    public static func register(_ path: String) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        paths.append(path)
        guard !registered, ProcessInfo.processInfo.environment["DIFFAI_KEEP_TEST_DIRS"] == nil else { return }
        registered = true
        atexit { TemporaryDirectories.removeAll() }
    }

    public static func removeAll() {
        pthread_mutex_lock(&lock)
        let all = paths
        paths.removeAll()
        pthread_mutex_unlock(&lock)
        for path in all { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// Seeds for randomised tests: fixed per test (so a run repeats), overridable with
/// `DIFFAI_TEST_SEED`, and always printed so a failure can be replayed.
public enum TestSeed {
    public static func value(_ name: String) -> UInt64 {
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

/// Waits until `condition` holds, checking every 20 ms, for at most `timeout` seconds; true
/// when it held. Tests wait on what they then check (an alert reaching its file, a process
/// writing its banner) instead of sleeping a fixed time, which is too long on a quiet machine
/// and too short on a loaded one.
@discardableResult
public func eventually(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(20_000)
    }
}

public struct ProcessResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

@discardableResult
public func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> ProcessResult {
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

public func which(_ tool: String) -> String? {
    for directory in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let path = directory + "/" + tool
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Collects transactions in completion order.
public final class CollectingSink: HTTPTransactionSink {
    public init() {}
    public var requests: [HTTPTransaction] = []
    public var transactions: [HTTPTransaction] = []
    public func requestCompleted(_ transaction: HTTPTransaction) { requests.append(transaction) }
    public func transactionCompleted(_ transaction: HTTPTransaction) { transactions.append(transaction) }
}

/// Drives one HTTP connection directly, without TCP.
public final class ConnectionHarness {
    public let sink = CollectingSink()
    public let analyzer: HTTPConnectionAnalyzer
    public var clock: Int64 = 0

    public init(limits: HTTPParserLimits = .init(), midstream: Bool = false) {
        let info = HTTPConnectionInfo(id: 1, client: Endpoint(address: IPAddress("10.0.0.1")!, port: 5000),
                                      server: Endpoint(address: IPAddress("10.0.0.2")!, port: 80), midstream: midstream)
        analyzer = HTTPConnectionAnalyzer(connection: info, limits: limits, sink: sink)
    }

    @discardableResult
    public func client(_ text: String) -> Bool { feed(Array(text.utf8), fromClient: true) }
    @discardableResult
    public func server(_ text: String) -> Bool { feed(Array(text.utf8), fromClient: false) }

    @discardableResult
    public func feed(_ bytes: [UInt8], fromClient: Bool) -> Bool {
        clock += 1
        return bytes.withUnsafeBytes { analyzer.receive($0, fromClient: fromClient, at: Timestamp(microseconds: clock)) }
    }

    public func close() { analyzer.close(at: Timestamp(microseconds: clock + 1)) }

    public var requests: [HTTPRequest] { sink.requests.map(\.request) }
    public var targets: [String] { requests.map(\.target) }
}

/// The generator randomised tests draw from (seeded: see `TestSeed`).
public typealias SeededRandom = SeededGenerator

extension Array {
    public func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min(count, $0 + size)]) }
    }
}

/// Compressed bodies for the decoding tests.
public enum Deflate {
    /// gzip (windowBits 31), zlib (15) or raw deflate (-15), made with the system zlib.
    public static func compress(_ bytes: [UInt8], windowBits: Int32) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, 9, Z_DEFLATED, windowBits, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
        var input = bytes
        let written: Int = input.withUnsafeMutableBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = input.baseAddress
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return out.count - Int(stream.avail_out)
            }
        }
        return Array(output[..<written])
    }
}

/// EVE alert lines as diffai writes them, numbered, for the history and console tests.
public enum SampleEVE {
    public static func line(_ n: Int, signature: String = "probe") -> String {
        #"{"timestamp":"2026-12-01T00:00:00.000000+0000","event_type":"alert","src_ip":"10.0.0.1","src_port":\#(n),"dest_ip":"10.0.0.2","dest_port":80,"alert":{"signature_id":\#(n),"signature":"\#(signature) \#(n)","severity":2,"category":"x"},"http":{"url":"/n/\#(n)"},"diffai":{"severity":"medium","source":"rule"}}"#
    }
}
