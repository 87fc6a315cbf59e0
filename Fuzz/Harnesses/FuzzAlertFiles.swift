import Alerts
import Detection
import Glibc
import JSONOutput

enum JSONValidator {
    /// Parses, and is UTF-8 throughout (JSON text is).
    static func isValid(_ bytes: [UInt8]) -> Bool {
        (try? JSONReader.parse(bytes)) != nil && JSONWriter.escapingInvalidUTF8(bytes) == nil
    }
}

/// The console's alert-file reader: the input is an alert file (EVE or alert.log); every page
/// of it, newest first, with a search, then the export. Pages must never repeat or skip an
/// alert, and every alert handed out must be valid JSON.
nonisolated(unsafe) let fuzzFolder: String = {
    var template = Array("/dev/shm/diffai-fuzz-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return made.map { String(cString: $0) } ?? "/tmp"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAlertFiles(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let asAlertLog = data[0] & 1 == 1
    let path = fuzzFolder + (asAlertLog ? "/alert.log" : "/eve.json")
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    _ = write(fd, data + 1, size - 1)
    close(fd)
    let history = AlertHistory(evePath: asAlertLog ? nil : path, alertLogPath: asAlertLog ? path : nil)
    var before: Int64?
    var offsets: [Int64] = []
    // Pages of 1 to 64: small pages cross many page boundaries, large ones finish quickly.
    for _ in 0..<256 {
        let page = history.page(AlertQuery(limit: 1 << Int(data[0] >> 1 & 7) % 64 + Int(data[0] >> 5), before: before, text: data[0] & 0x10 == 0 ? nil : "a"))
        for alert in page.alerts {
            // Parsing again is the costly half of the check: the first alerts get it, all get UTF-8.
            precondition(offsets.count > 16 ? JSONWriter.escapingInvalidUTF8(alert.eve) == nil : JSONValidator.isValid(alert.eve),
                         "every alert handed out is valid JSON")
            if let last = offsets.last { precondition(alert.offset < last, "pages go strictly backwards") }
            offsets.append(alert.offset)
        }
        guard let next = page.nextBefore else { break }
        precondition(before.map { next < $0 } ?? true, "paging always moves on")
        before = next
    }
    if let export = history.export(AlertQuery()) {
        while let piece = export.next(chunkBytes: 512) {
            for line in piece.split(separator: 0x0A) { precondition(JSONWriter.escapingInvalidUTF8(Array(line)) == nil, "exported lines are UTF-8") }
        }
    }
    return 0
}
