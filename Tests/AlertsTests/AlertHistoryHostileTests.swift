@testable import Alerts
import Foundation
import CaptureSynthesis
import Testing
import TestSupport

/// Alert files are written by diffai, but read from disk: damaged, hand-edited or hostile
/// content must never end the history, make the API's JSON invalid, or stall the console.
@Suite struct AlertHistoryHostileTests {
    /// Every alert, paging back from the end 7 at a time.
    func pageAll(_ history: AlertHistory, text: String? = nil) -> (ids: [Int], skipped: Int, pages: Int) {
        var ids: [Int] = []
        var skipped = 0
        var before: Int64?
        var pages = 0
        repeat {
            let page = history.page(AlertQuery(limit: 7, before: before, text: text))
            pages += 1
            skipped += page.skippedLines
            for alert in page.alerts {
                let object = (try? JSONSerialization.jsonObject(with: Data(alert.eve))) as? [String: Any]
                ids.append(object?["src_port"] as? Int ?? -1)
            }
            before = page.nextBefore
        } while before != nil && pages < 1000
        return (ids, skipped, pages)
    }

    @Test func oversizedAndBrokenLinesAreSkippedAndCounted() throws {
        let directory = TestPaths.temporaryDirectory("history-hostile")
        let path = directory.appendingPathComponent("eve.json").path
        var text = ""
        for n in 1...20 { text += SampleEVE.line(n) + "\n" }
        // A 10 MB line (one giant string), a truncated line, garbage, an empty line.
        text += #"{"event_type":"alert","x":""# + String(repeating: "A", count: 10 << 20) + "\"}\n"
        text += #"{"event_type":"alert","src_port":"# + "\n"
        text += "\u{1}\u{2}garbage\n\n"
        for n in 21...40 { text += SampleEVE.line(n) + "\n" }
        text += String(repeating: "B", count: 3 << 20) + "\n"
        for n in 41...45 { text += SampleEVE.line(n) + "\n" }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let history = AlertHistory(evePath: path, alertLogPath: nil)
        let all = pageAll(history)
        #expect(all.ids == Array((1...45).reversed()))
        #expect(all.skipped == 4, "two oversize lines and two broken ones")
        // A search reaches the alerts older than the giant line.
        let found = pageAll(history, text: "probe 3")
        #expect(found.ids == [39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 3])
        // The export passes over them too.
        let export = try #require(history.export(AlertQuery()))
        var exported = 0
        while let piece = export.next(chunkBytes: 1000) { exported += piece.split(separator: 0x0A).count }
        #expect(exported == 45)
        #expect(export.skippedLines == 2)
    }

    @Test func invalidUTF8IsEscapedIntoValidJSON() throws {
        let directory = TestPaths.temporaryDirectory("history-utf8")
        let path = directory.appendingPathComponent("eve.json").path
        var bytes = Array(SampleEVE.line(1, signature: "bad").utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "b"))!  // inside the signature string
        bytes.insert(contentsOf: [0xFF, 0xC3, 0x28, 0xE9], at: at)
        bytes.append(0x0A)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let page = AlertHistory(evePath: path, alertLogPath: nil).page(AlertQuery())
        #expect(page.alerts.count == 1)
        let eve = try #require(page.alerts.first?.eve)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(eve)) as? [String: Any])
        let signature = (object["alert"] as? [String: Any])?["signature"] as? String
        #expect(signature == "\u{FF}\u{C3}(\u{E9}bad 1")
        #expect(String(decoding: eve, as: UTF8.self).contains("\\u00ff\\u00c3(\\u00e9bad"))
    }

    /// A search that cannot finish within the page's time returns what it has, marked
    /// partial, and the next page goes on from where it stopped: nothing is skipped.
    @Test func slowSearchesStopInTimeAndResume() throws {
        let directory = TestPaths.temporaryDirectory("history-deadline")
        let path = directory.appendingPathComponent("eve.json").path
        var text = SampleEVE.line(0, signature: "needle") + "\n"
        for n in 1...30_000 { text += SampleEVE.line(n) + "\n" }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        var history = AlertHistory(evePath: path, alertLogPath: nil)
        history.pageSeconds = 0.02
        var before: Int64?
        var pages = 0, partial = 0
        var found: [Int] = []
        repeat {
            let page = history.page(AlertQuery(limit: 5, before: before, text: "needle"))
            pages += 1
            if page.partial { partial += 1 }
            found += page.alerts.map { _ in 0 }
            before = page.nextBefore
        } while before != nil && pages < 100_000
        #expect(found == [0])
        #expect(partial > 1, "30,000 lines in 20 ms pages take several pages")
    }

    /// Lines cut anywhere across reads come out whole; an oversize one is dropped to its
    /// newline, never read as lines of its own (the follower and the export share this).
    @Test func lineSplitterAcrossReads() {
        let seed = TestSeed.value("line splitter")
        var generator = SeededGenerator(seed: seed)
        var text: [UInt8] = []
        var expected: [[UInt8]] = []
        for n in 0..<300 {
            if n % 50 == 7 {
                text += [UInt8](repeating: 0x7B, count: AlertHistory.maxLine + 10) + [0x0A]
            } else {
                let line = Array("{\"n\":\(n)}".utf8)
                text += line + [0x0A]
                expected.append(line)
            }
        }
        var splitter = AlertLineSplitter()
        var seen: [[UInt8]] = []
        var start = 0
        while start < text.count {
            let end = min(text.count, start + Int.random(in: 1...200_000, using: &generator))
            splitter.feed(text[start..<end]) { seen.append(Array($0)) }
            start = end
        }
        #expect(seen == expected, "seed \(seed)")
        #expect(splitter.oversizeLines == 6)
    }
}
