import Foundation
import Testing
import TestSupport

/// The console in a real headless Chromium (Debian's chromium + chromedriver, installed by
/// .ci/deps). Screenshots of each page land in test-artifacts/console/.
@Suite(.serialized, .enabled(if: WebDriver.available || ProcessInfo.processInfo.environment["CI"] == "true"))
struct ConsoleBrowserTests {
    func startConsole(directory: URL, eve: String, port: Int) throws -> ConsoleProcess {
        try ConsoleProcess(arguments: ["console", "--console", "127.0.0.1:\(port)", "--eve", eve,
                                       "--alert-log", directory.appendingPathComponent("alert.log").path,
                                       "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                       "--console-token-file", directory.appendingPathComponent("keys/console-token").path,
                                       "--install-model", directory.appendingPathComponent("installed.bin").path],
                           port: port, directory: directory)
    }

    @Test func liveAlertGlowsThenSurvivesARestartInViewLogs() throws {
        let directory = TestPaths.temporaryDirectory("browser")
        let eve = directory.appendingPathComponent("eve.json").path
        let port = freePort()
        var console = try startConsole(directory: directory, eve: eve, port: port)
        defer { console.stop() }
        let browser = try WebDriver()
        defer { browser.quit() }

        try browser.open("http://127.0.0.1:\(port)/#/home")
        #expect(try browser.wait(for: "return document.getElementById('connection').textContent === 'live'", timeout: 15) != nil)
        #expect(try browser.string("return document.getElementById('latest-title').textContent") == "No alerts yet")
        #expect(try browser.script("return document.getElementById('alarm').classList.contains('active')") as? Bool == false)

        try replayAttacks(eve: eve)
        let replayed = Date()
        let appeared = try browser.wait(for: "return document.getElementById('latest-title').textContent !== 'No alerts yet'", timeout: 5)
        let latency = Date().timeIntervalSince(replayed)
        #expect(appeared != nil && latency <= 1.0, "alert shown \(latency) s after the replay wrote it")
        #expect(try browser.script("return document.getElementById('alarm').classList.contains('active')") as? Bool == true)
        #expect(try browser.script("return getComputedStyle(document.getElementById('alarm')).animationName") as? String == "glow")
        #expect(try browser.wait(for: "return document.getElementById('elapsed').textContent.startsWith('00:00:0')", timeout: 3) != nil)
        // One entry per incident (9), not one per rule behind them (15).
        #expect(try browser.wait(for: "return document.querySelectorAll('#recent > li').length === 9", timeout: 3) != nil)
        // The replay's alerts arrive one by one: the latest is the last one once all are in.
        #expect(try browser.string("return document.getElementById('latest-title').textContent") == "Scanner or attack tool user agent")
        #expect(try browser.string("return document.getElementById('c-alerts').textContent") == "9")
        // The XSS incident unfolds to its four rules.
        let expanded = try browser.string("""
            const item = [...document.querySelectorAll('#recent > li')].find(li => li.textContent.includes('Possible XSS'));
            item.querySelector('details').open = true;
            return item.querySelector('.more').textContent + '|' + [...item.querySelectorAll('ul.matches li')].map(li => li.textContent).join('|');
            """)
        #expect(expanded.hasPrefix("+3|rule 3 +5"), "\(expanded)")
        #expect(expanded.contains("rule 2001 +5") && expanded.contains("rule 2005 +3") && expanded.contains("rule 2101 +5"), "\(expanded)")
        try browser.screenshot("home-alert")

        // Restart the console: the history comes from the EVE file, not from memory.
        console.stop()
        console = try startConsole(directory: directory, eve: eve, port: port)
        try browser.open("http://127.0.0.1:\(port)/#/logs")
        #expect(try browser.wait(for: "return document.querySelectorAll('#logs-rows tr').length === 9", timeout: 10) != nil)
        let rows = try browser.string("return document.getElementById('logs-rows').textContent")
        #expect(rows.contains("Log4Shell: JNDI lookup"))
        #expect(rows.contains("10.0.0.1:51000"))
        // Filter by text and open an alert's details.
        _ = try browser.script("document.getElementById('logs-text').value = 'jndi'; document.querySelector('#logs-filter button').click();")
        #expect(try browser.wait(for: "return document.querySelectorAll('#logs-rows tr').length === 1", timeout: 5) != nil)
        _ = try browser.script("document.querySelector('#logs-rows tr').click()")
        let details = try browser.string("return document.getElementById('logs-detail-list').textContent")
        #expect(details.contains("${jndi:ldap"))
        try browser.screenshot("view-logs")
    }

    @Test func attackerMarkupShowsAsTextAndNeverRuns() throws {
        let directory = TestPaths.temporaryDirectory("browser")
        let eve = directory.appendingPathComponent("eve.json").path
        let port = freePort()
        let console = try startConsole(directory: directory, eve: eve, port: port)
        defer { console.stop() }
        let browser = try WebDriver()
        defer { browser.quit() }
        try browser.open("http://127.0.0.1:\(port)/#/home")
        #expect(try browser.wait(for: "return document.getElementById('connection').textContent === 'live'", timeout: 15) != nil)

        let payload = "<img src=x onerror=alert(1)>"
        let capture = directory.appendingPathComponent("xss.pcap").path
        try writeRequestCapture(["/search?q=\(payload)"], to: capture)
        try replayAttacks(eve: eve, capture: capture)
        #expect(try browser.wait(for: "return document.getElementById('latest-title').textContent !== 'No alerts yet'", timeout: 5) != nil)
        #expect(try browser.string("return document.getElementById('latest-detail').textContent").contains(payload))
        #expect(try browser.script("return document.querySelectorAll('img[src=\"x\"]').length") as? Int == 0)
        #expect(!browser.dialogIsOpen)

        try browser.open("http://127.0.0.1:\(port)/#/logs")
        #expect(try browser.wait(for: "return document.querySelectorAll('#logs-rows tr').length >= 1", timeout: 10) != nil)
        #expect(try browser.string("return document.getElementById('logs-rows').textContent").contains(payload))
        _ = try browser.script("document.querySelector('#logs-rows tr').click()")
        #expect(try browser.string("return document.getElementById('logs-detail-list').textContent").contains(payload))
        #expect(try browser.script("return document.querySelectorAll('img[src=\"x\"]').length") as? Int == 0)
        usleep(300_000)
        #expect(!browser.dialogIsOpen)
        try browser.screenshot("xss-as-text")
    }

    @Test func trainingShowsProgressAndCompletion() throws {
        let directory = TestPaths.temporaryDirectory("browser")
        try writeSmallDatasets(in: directory.appendingPathComponent("Dataset"))
        let port = freePort()
        let console = try startConsole(directory: directory, eve: directory.appendingPathComponent("eve.json").path, port: port)
        defer { console.stop() }
        let browser = try WebDriver()
        defer { browser.quit() }
        try browser.open("http://127.0.0.1:\(port)/#/train")
        #expect(try browser.wait(for: "return document.querySelectorAll('#train-benign option').length >= 2", timeout: 10) != nil)
        _ = try browser.script("""
            document.getElementById('train-benign').value = 'Dataset/good.txt';
            document.getElementById('train-malicious').value = 'Dataset/bad.txt';
            window.__progressSeen = [];
            const bar = document.getElementById('train-progress');
            new MutationObserver(() => {}).observe(bar, { attributes: true });
            window.__poll = setInterval(() => window.__progressSeen.push(bar.value), 20);
            document.getElementById('train-start').click();
            """)
        #expect(try browser.wait(for: "return !document.getElementById('train-job').hidden", timeout: 5) != nil)
        #expect(try browser.wait(for: "return !document.getElementById('train-done').hidden", timeout: 120) != nil)
        let done = try browser.string("return document.getElementById('train-done').textContent")
        #expect(done.contains("Training finished"))
        #expect(try browser.script("return document.getElementById('train-progress').value") as? Double == 1)
        let seen = try browser.script("clearInterval(window.__poll); return window.__progressSeen") as? [Double] ?? []
        #expect(seen.contains { $0 > 0 && $0 < 1 }, "progress between 0 and 1 was shown")
        let metrics = try browser.string("return document.getElementById('train-metrics').textContent")
        for name in ["Accuracy", "Precision", "Recall", "False-positive rate"] { #expect(metrics.contains(name)) }
        try browser.screenshot("train-finished")
        _ = try browser.script("document.getElementById('train-activate').click()")
        #expect(try browser.wait(for: "return document.getElementById('train-activation').textContent.includes('installed as')", timeout: 10) != nil)
    }

    @Test func rulesPageListsRulesAndReloads() throws {
        let directory = TestPaths.temporaryDirectory("browser")
        let port = freePort()
        let console = try startConsole(directory: directory, eve: directory.appendingPathComponent("eve.json").path, port: port)
        defer { console.stop() }
        let browser = try WebDriver()
        defer { browser.quit() }
        try browser.open("http://127.0.0.1:\(port)/#/rules")
        #expect(try browser.wait(for: "return document.querySelectorAll('#rules-rows tr').length === \(TestPaths.defaultRules.count)", timeout: 10) != nil)
        let text = try browser.string("return document.getElementById('rules-rows').textContent")
        #expect(text.contains("Log4Shell"))
        _ = try browser.script("document.getElementById('rules-reload').click()")
        #expect(try browser.wait(for: "return document.getElementById('rules-result').textContent.includes('\(TestPaths.defaultRules.count) rules loaded')", timeout: 10) != nil)
        try browser.screenshot("rules")
        try browser.open("http://127.0.0.1:\(port)/#/train")
        _ = try browser.wait(for: "return document.querySelectorAll('#train-benign option').length >= 0", timeout: 2)
        try browser.screenshot("train")
    }
}
