#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only alert file. Each alert goes out in one `write(2)` on an `O_APPEND`
/// descriptor, so concurrent writers and log shippers never see half an alert. `reopen()`
/// follows log rotation (SIGHUP). A failing write is reported once, then detection carries on;
/// recovery is reported too.
public final class AlertFile {
    public let path: String
    private var descriptor: Int32 = -1
    private var failing = false
    private let report: (String) -> Void
    public private(set) var linesWritten = 0
    public private(set) var linesLost = 0

    public init(path: String, report: @escaping (String) -> Void) {
        self.path = path
        self.report = report
        open()
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    private func open() {
        descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor < 0 { fail("cannot open for appending") }
    }

    public func reopen() {
        if descriptor >= 0 { close(descriptor) }
        open()
    }

    public func append(_ line: [UInt8]) {
        if descriptor < 0 { reopen() }
        guard descriptor >= 0 else {
            linesLost += 1
            return
        }
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written == line.count {
            linesWritten += 1
            if failing {
                failing = false
                report("\(path): writing again")
            }
        } else {
            linesLost += 1
            fail("write failed")
        }
    }

    private func fail(_ what: String) {
        let reason = String(cString: strerror(errno))
        guard !failing else { return }
        failing = true
        report("\(path): \(what): \(reason); alerts are still detected and shown, but not written here until this recovers")
    }
}
