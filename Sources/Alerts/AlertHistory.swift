import Detection
import JSONOutput
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What View Logs asks for: a page of alerts, newest first, optionally filtered.
public struct AlertQuery: Sendable {
    public var limit = 50
    /// Byte offset in the alert file: only alerts whose line starts before it (the previous
    /// page's `next_before`); nil starts at the end.
    public var before: Int64?
    /// Case-insensitive text anywhere in the alert's fields.
    public var text: String?
    /// `low`, `medium`, `high`, `critical`.
    public var severity: String?
    /// `rule` or `ml`.
    public var source: String?

    public init(limit: Int = 50, before: Int64? = nil, text: String? = nil, severity: String? = nil, source: String? = nil) {
        self.limit = limit
        self.before = before
        self.text = text
        self.severity = severity
        self.source = source
    }
}

public struct AlertPage: Sendable {
    /// Each alert as an EVE JSON object, with where its line starts.
    public var alerts: [(offset: Int64, eve: [UInt8])] = []
    /// Pass as `before` for the next (older) page; nil when the start of the file was reached.
    public var nextBefore: Int64?
    /// Which file the alerts came from.
    public var file: String = ""
    /// The time allowed for one page ran out before `limit` matches were found: the page holds
    /// what was found, and `nextBefore` continues the search where it stopped.
    public var partial = false
    /// Lines passed over on the way: longer than `AlertHistory.maxLine`, or not an alert.
    public var skippedLines = 0
}

/// The alert history, read from the files the sensors append to, so it survives restarts
/// and covers what other diffai processes wrote. The EVE file is preferred (it has every
/// field); an alert.log in the original line format is read when there is no EVE file.
///
/// Files are read backwards in blocks from the end, so the newest page costs the same
/// whatever the file's size. A line longer than `maxLine` (damage, or something else writing
/// to the file) is skipped and counted, never the end of the history; bytes that are not
/// UTF-8 are escaped, so every answer is valid JSON. A page stops searching at its deadline
/// and says where to go on.
public struct AlertHistory: Sendable {
    public let evePath: String?
    public let alertLogPath: String?
    static let blockSize = 64 * 1024
    /// Longer lines are skipped: an alert line is a few kilobytes at most.
    public static let maxLine = 1 << 20
    /// How long one page may search (a full-text search over a large history stops here).
    public var pageSeconds = 2.0

    public init(evePath: String?, alertLogPath: String?) {
        self.evePath = evePath
        self.alertLogPath = alertLogPath
    }

    public enum Format: Sendable { case eve, alertLog }

    public var source: (path: String, format: Format)? {
        if let evePath, access(evePath, R_OK) == 0 { return (evePath, .eve) }
        if let alertLogPath, access(alertLogPath, R_OK) == 0 { return (alertLogPath, .alertLog) }
        return nil
    }

    public func page(_ query: AlertQuery) -> AlertPage {
        var page = AlertPage()
        guard let (path, format) = source else { return page }
        page.file = path
        let filter = AlertFilter(query)
        let limit = max(1, min(query.limit, 1000))
        let deadline = SystemClock.monotonicSeconds() + pageSeconds
        var examined = 0
        let outcome = Self.linesBackwards(path: path, before: query.before, withinTime: { SystemClock.monotonicSeconds() < deadline }) { offset, line in
            examined += 1
            if let eve = Self.eveJSON(line, format: format) {
                if filter.matches(eve.value) {
                    page.alerts.append((offset, eve.bytes))
                    if page.alerts.count == limit { return false }
                }
            } else {
                page.skippedLines += 1
            }
            // Checked after the line is done with, so going on from it loses nothing.
            if examined % 64 == 0, SystemClock.monotonicSeconds() >= deadline {
                page.partial = true
                return false
            }
            return true
        }
        page.skippedLines += outcome.oversizeLines
        if outcome.timedOut { page.partial = true }
        // Where the next page starts: just before the last line looked at, unless the file's
        // start was reached.
        if !outcome.reachedStart && outcome.resumeBefore > 0 { page.nextBefore = outcome.resumeBefore }
        return page
    }

    /// Every matching alert, oldest first, as EVE JSON lines (the export), in pieces of about
    /// `chunkBytes` so that a large history streams instead of being held whole.
    public func export(_ query: AlertQuery) -> AlertExport? {
        guard let (path, format) = source else { return nil }
        return AlertExport(path: path, format: format, filter: AlertFilter(query))
    }

    public static func eveJSON(_ line: ArraySlice<UInt8>, format: Format) -> (bytes: [UInt8], value: JSONValue)? {
        switch format {
        case .eve:
            let bytes = Array(line)
            guard let value = try? JSONReader.parse(bytes), value["event_type"]?.stringValue == "alert" else { return nil }
            return (JSONWriter.escapingInvalidUTF8(bytes) ?? bytes, value)
        case .alertLog:
            guard let bytes = AlertLogLine.eveJSON(line), let value = try? JSONReader.parse(bytes) else { return nil }
            return (bytes, value)
        }
    }

    struct BackwardsOutcome {
        var reachedStart = false
        var timedOut = false
        /// `before` for going on: the start of the last line handed over (or skipped).
        var resumeBefore: Int64 = 0
        var oversizeLines = 0
    }

    /// Calls `body` with each complete line that starts before `before`, newest first, until
    /// it returns false. Lines longer than `maxLine` are counted, not handed over; while such a
    /// line is being passed, `withinTime` is asked once per block.
    @discardableResult
    static func linesBackwards(path: String, before: Int64?, withinTime: () -> Bool = { true },
                               _ body: (Int64, ArraySlice<UInt8>) -> Bool) -> BackwardsOutcome {
        var outcome = BackwardsOutcome()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return outcome }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return outcome }
        var position = max(0, min(before ?? Int64(info.st_size), Int64(info.st_size)))
        outcome.resumeBefore = position
        // The bytes after the last newline before `position` are dropped: at the end of the
        // file they are a line still being written; before `before` they are empty.
        var droppedTail = false
        // The line being assembled: its later pieces, in file order reversed (each block read
        // comes before the previous one).
        var pieces: [ArraySlice<UInt8>] = []
        var assembled = 0
        var oversize = false
        // No larger than what is there to read: most pages of a small file need one small read.
        let blockLength = Int(min(Int64(blockSize), max(position, 1)))
        var block = [UInt8](repeating: 0, count: blockLength)

        /// The line starting at `start` is complete: `head` is its first bytes.
        func complete(start: Int64, head: ArraySlice<UInt8>) -> Bool {
            defer {
                pieces.removeAll(keepingCapacity: true)
                assembled = 0
                oversize = false
            }
            guard droppedTail else {
                droppedTail = true
                return true
            }
            outcome.resumeBefore = start
            if oversize || assembled + head.count > maxLine {
                outcome.oversizeLines += 1
                return true
            }
            if head.count + assembled == 0 { return true }
            var line = Array(head)
            for piece in pieces.reversed() { line += piece }
            return body(start, line[...])
        }

        while position > 0 {
            let start = max(0, position - Int64(blockLength))
            let count = Int(position - start)
            let read = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(start)) }
            guard read == count else { return outcome }
            var end = count
            while let newline = block[0..<end].lastIndex(of: 0x0A) {
                if !complete(start: start + Int64(newline + 1), head: block[(newline + 1)..<end]) { return outcome }
                end = newline
            }
            // block[0..<end] continues a line that started in an earlier block.
            if !oversize {
                assembled += end
                if assembled > maxLine {
                    oversize = true
                    pieces.removeAll()
                } else {
                    pieces.append(block[0..<end])
                    // The slice keeps the block's storage: give the next read its own.
                    block = [UInt8](repeating: 0, count: blockLength)
                }
            }
            position = start
            if oversize && !withinTime() {
                // Inside a line that is skipped anyway: going on from here loses nothing.
                outcome.timedOut = true
                outcome.resumeBefore = position
                return outcome
            }
        }
        if complete(start: 0, head: []) { outcome.reachedStart = true }
        return outcome
    }
}

/// Splits bytes read forwards into lines, across reads; a line longer than
/// `AlertHistory.maxLine` is dropped up to its newline and counted (never cut into pieces that
/// would be read as lines of their own).
public struct AlertLineSplitter: Sendable {
    private var pending: [UInt8] = []
    private var skipping = false
    public private(set) var oversizeLines = 0

    public init() {}

    /// Calls `body` with each complete line in `bytes` (after what earlier calls left).
    public mutating func feed(_ bytes: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>) -> Void) {
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            if skipping {
                skipping = false
            } else if pending.isEmpty {
                if newline > start { body(bytes[start..<newline]) }
            } else {
                pending += bytes[start..<newline]
                if pending.count <= AlertHistory.maxLine { body(pending[...]) } else { oversizeLines += 1 }
            }
            pending.removeAll(keepingCapacity: true)
            start = newline + 1
        }
        guard !skipping else { return }
        pending += bytes[start...]
        if pending.count > AlertHistory.maxLine {
            oversizeLines += 1
            pending = []
            skipping = true
        }
    }

    /// The file was replaced or truncated: start afresh.
    public mutating func reset() {
        pending = []
        skipping = false
    }
}

/// The export, read forwards a piece at a time (each `next` reads until about `chunkBytes`
/// of alerts are ready), so the console streams it and never holds the whole history.
///
/// Sendable by how it is used: one response body owns it and calls `next` once at a time
/// (each call awaited before the next), so its state is never touched by two threads at once.
public final class AlertExport: @unchecked Sendable {
    let format: AlertHistory.Format
    let filter: AlertFilter
    private var descriptor: Int32 = -1
    private var splitter = AlertLineSplitter()
    private var finished = false
    /// One read buffer for the whole export, no larger than the file was when it opened.
    private var block: [UInt8] = []
    public var skippedLines: Int { splitter.oversizeLines }

    init(path: String, format: AlertHistory.Format, filter: AlertFilter) {
        self.format = format
        self.filter = filter
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            finished = true
            return
        }
        var status = stat()
        let size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : AlertHistory.blockSize
        block = [UInt8](repeating: 0, count: min(AlertHistory.blockSize, max(size, 1)))
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The next piece of EVE lines, or nil at the end of the file.
    public func next(chunkBytes: Int = 1 << 20) -> [UInt8]? {
        guard !finished else { return nil }
        var out: [UInt8] = []
        while out.count < chunkBytes {
            let capacity = block.count
            let read = block.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, capacity) }
            guard read > 0 else {
                finished = true
                close(descriptor)
                descriptor = -1
                break
            }
            splitter.feed(block[0..<read]) { line in
                if let eve = AlertHistory.eveJSON(line, format: format), filter.matches(eve.value) {
                    out += eve.bytes
                    out.append(0x0A)
                }
            }
        }
        return out.isEmpty && finished ? nil : out
    }
}

/// View Logs' filters over one alert.
struct AlertFilter {
    let text: [UInt8]?
    let severity: String?
    let source: String?

    init(_ query: AlertQuery) {
        let trimmed = query.text.map { $0.trimming(" ") }
        text = trimmed.flatMap { $0.isEmpty ? nil : Array($0.lowercased().utf8) }
        severity = query.severity.flatMap { $0.isEmpty ? nil : $0.lowercased() }
        source = query.source.flatMap { $0.isEmpty ? nil : $0.lowercased() }
    }

    func matches(_ alert: JSONValue) -> Bool {
        if let severity, alert["diffai"]?["severity"]?.stringValue != severity { return false }
        if let source, alert["diffai"]?["source"]?.stringValue != source { return false }
        if let text {
            var haystack: [UInt8] = []
            for path in Self.searchable {
                var value: JSONValue? = alert
                for key in path { value = value?[key] }
                switch value {
                case .string(let s): haystack += s.lowercased().utf8
                case .number(let n): haystack += (Int(exactly: n).map(String.init) ?? String(n)).utf8
                default: break
                }
                haystack.append(0x0A)
            }
            return haystack.firstIndex(ofBytes: text) != nil
        }
        return true
    }

    static let searchable: [[String]] = [
        ["src_ip"], ["dest_ip"], ["src_port"], ["dest_port"], ["alert", "signature"], ["alert", "signature_id"], ["alert", "category"],
        ["http", "hostname"], ["http", "url"], ["http", "http_method"], ["http", "http_user_agent"],
        ["diffai", "target"], ["diffai", "snippet"], ["diffai", "incident_id"],
    ]

}

extension JSONValue {
    /// An object's member by name (the first, when a name repeats).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    public var numberValue: Double? { if case .number(let n) = self { return n } else { return nil } }
}
