import Detection
import JSONOutput

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
}

/// The alert history, read from the files the sensors append to, so it survives restarts
/// and covers what other diffai processes wrote. The EVE file is preferred (it has every
/// field); an alert.log in the original line format is read when there is no EVE file.
///
/// Files are read backwards in blocks from the end, so the newest page costs the same
/// whatever the file's size.
public struct AlertHistory: Sendable {
    public let evePath: String?
    public let alertLogPath: String?
    static let blockSize = 64 * 1024
    /// Longer lines are skipped: an alert line is a few kilobytes at most.
    static let maxLine = 1 << 20

    public init(evePath: String?, alertLogPath: String?) {
        self.evePath = evePath
        self.alertLogPath = alertLogPath
    }

    enum Format { case eve, alertLog }

    var source: (path: String, format: Format)? {
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
        var reachedStart = true
        Self.linesBackwards(path: path, before: query.before) { offset, line in
            guard let eve = Self.eveJSON(line, format: format), filter.matches(eve.value) else { return true }
            page.alerts.append((offset, eve.bytes))
            if page.alerts.count == limit {
                reachedStart = offset == 0
                return false
            }
            return true
        }
        if page.alerts.count == limit, !reachedStart { page.nextBefore = page.alerts.last!.offset }
        return page
    }

    /// Every matching alert, oldest first, as EVE JSON lines (the export).
    public func export(_ query: AlertQuery, write: ([UInt8]) -> Void) {
        guard let (path, format) = source else { return }
        let filter = AlertFilter(query)
        Self.linesForwards(path: path) { line in
            guard let eve = Self.eveJSON(line, format: format), filter.matches(eve.value) else { return }
            write(eve.bytes + [0x0A])
        }
    }

    static func eveJSON(_ line: ArraySlice<UInt8>, format: Format) -> (bytes: [UInt8], value: JSONValue)? {
        switch format {
        case .eve:
            let bytes = Array(line)
            guard let value = try? JSONReader.parse(bytes), value["event_type"]?.stringValue == "alert" else { return nil }
            return (bytes, value)
        case .alertLog:
            guard let bytes = AlertLogLine.eveJSON(line), let value = try? JSONReader.parse(bytes) else { return nil }
            return (bytes, value)
        }
    }

    /// Calls `body` with each complete line that starts before `before`, newest first, until
    /// it returns false.
    static func linesBackwards(path: String, before: Int64?, _ body: (Int64, ArraySlice<UInt8>) -> Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        var position = min(before ?? Int64(info.st_size), Int64(info.st_size))
        // Bytes after the last newline at the end of the file are a line still being written.
        var skippingPartialTail = before == nil
        var firstBlock = true
        // `carry` starts at file offset `position`; it holds at most one incomplete line.
        var carry: [UInt8] = []
        var block = [UInt8](repeating: 0, count: blockSize)
        while position > 0 {
            let start = max(0, position - Int64(blockSize))
            let count = Int(position - start)
            let read = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(start)) }
            guard read == count else { return }
            carry = Array(block[0..<count]) + carry
            position = start
            var lineEnd = carry.count
            if skippingPartialTail {
                guard let newline = carry.lastIndex(of: 0x0A) else { carry.removeAll(); continue }
                lineEnd = newline + 1
                skippingPartialTail = false
                firstBlock = true
            }
            if firstBlock {
                if lineEnd > 0, carry[lineEnd - 1] == 0x0A { lineEnd -= 1 }
                firstBlock = false
            }
            while let newline = carry[0..<lineEnd].lastIndex(of: 0x0A) {
                let line = carry[(newline + 1)..<lineEnd]
                if !line.isEmpty, !body(position + Int64(newline + 1), line) { return }
                lineEnd = newline
            }
            carry.removeSubrange(lineEnd...)
            if carry.count > maxLine { return }
        }
        if !carry.isEmpty { _ = body(0, carry[...]) }
    }

    static func linesForwards(path: String, _ body: (ArraySlice<UInt8>) -> Void) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var pending: [UInt8] = []
        var block = [UInt8](repeating: 0, count: blockSize)
        while true {
            let read = block.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, blockSize) }
            guard read > 0 else { break }
            pending += block[0..<read]
            var start = 0
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                if newline > start { body(pending[start..<newline]) }
                start = newline + 1
            }
            pending.removeSubrange(0..<start)
            if pending.count > maxLine { pending.removeAll() }
        }
    }
}

/// View Logs' filters over one alert.
struct AlertFilter {
    let text: [UInt8]?
    let severity: String?
    let source: String?

    init(_ query: AlertQuery) {
        let trimmed = query.text.map { String($0.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
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
            return haystack.firstRange(of: text) != nil
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
