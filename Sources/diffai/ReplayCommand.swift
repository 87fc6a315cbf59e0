import Alerts
import ArgumentParser
import Capture
import Console
import Detection
import HTTP
import JSONOutput
import Pipeline

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the pipeline over .pcap/.pcapng files as fast as the disk allows.",
        discussion: """
        Files are read in the order given; connections continue from one file to the next. \
        A damaged file is reported (file, packet, byte offset) and replay carries on with the next. \
        A summary goes to stderr at the end. Exit status 2 when any file could not be read fully, \
        74 when alerts could not be written to an output (a full disk, say).
        """
    )

    enum Emit: String, ExpressibleByArgument, CaseIterable {
        case requests, alerts, none
    }

    @Option(help: "What to print: requests (one JSON object per HTTP request), alerts, or none.")
    var emit: Emit = .alerts

    @Option(help: "BPF filter applied while reading, e.g. 'tcp port 8080'.")
    var filter: String?

    @Option(name: .customLong("idle-timeout"), help: "Seconds of capture time after which an idle connection is closed.")
    var idleTimeout: Double = 120

    @Option(name: .customLong("max-flows"), help: "Connections tracked at once (default: what the memory budget holds); beyond it, flows that never carried data are evicted first, then the least recently active.")
    var maxFlows: Int?

    @Option(name: .customLong("max-pending-bytes"), help: "Out-of-order bytes buffered per connection direction (each held segment counts 64 bytes more).")
    var maxPendingBytes: Int = 1 << 20

    @OptionGroup var memory: MemoryBudgetOption

    @Option(name: .customLong("header-limit"), help: "Bytes of request line plus headers parsed per message.")
    var headerLimit: Int = 64 << 10

    @Option(name: .customLong("body-limit"), help: "Request body bytes kept for inspection (the rest is counted).")
    var bodyLimit: Int = 1 << 20

    @OptionGroup var detectionOptions: DetectionOptions

    @OptionGroup var keyLogs: KeyLogOptions

    @Flag(help: "Print alerts as EVE JSON lines instead of readable lines.")
    var json = false

    @Option(name: .customLong("alert-log"), help: "Append alerts to this file in alert.log format.")
    var alertLog: String?

    @Option(help: "Append alerts to this file as EVE JSON lines.")
    var eve: String?

    @Flag(name: .customLong("no-summary"), help: "Do not print the summary to stderr.")
    var noSummary = false

    @OptionGroup var console: ConsoleOptions

    @Flag(name: .customLong("keep-console"), help: "Keep the console open after the replay until interrupted (Ctrl-C).")
    var keepConsole = false

    @Argument(help: "Capture files (.pcap or .pcapng).")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one capture file") }
        guard idleTimeout > 0, (maxFlows ?? 1) > 0, maxPendingBytes > 0, headerLimit >= 256, bodyLimit >= 0 else {
            throw ValidationError("limits must be positive (header limit at least 256 bytes)")
        }
        if let filter {
            do { try PcapFilter.validate(filter) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        var options = PipelineOptions()
        let budget = try memory.budget
        budget.apply(to: &options)
        options.filter = filter
        options.reassembly.idleTimeoutSeconds = idleTimeout
        if let maxFlows { options.reassembly.maxFlows = maxFlows }
        options.reassembly.maxPendingBytesPerStream = maxPendingBytes
        options.http.maxHeaderBytes = headerLimit
        options.http.maxInspectedBodyBytes = bodyLimit
        options.keyLog = try keyLogs.load { printError("diffai: \($0)") }

        let output = BufferedFileOutput(descriptor: STDOUT_FILENO)
        let sink: HTTPTransactionSink
        var detection: DetectionSink?
        switch emit {
        case .requests: sink = RequestJSONEmitter(output: output)
        case .none: sink = DiscardingSink()
        case .alerts:
            let outputs = AlertOutputs()
            outputs.standardOutput = output
            outputs.eveToStandardOutput = json
            let report: (String) -> Void = { printError("diffai: \($0)") }
            if let alertLog { outputs.alertLog = AlertFile(path: alertLog, report: report) }
            if let eve { outputs.eveFile = AlertFile(path: eve, report: report) }
            detection = DetectionSink(detector: try detectionOptions.makeDetector(), outputs: outputs, waitForResponse: true)
            sink = detection!
        }
        let engine = ReplayEngine(options: options, sink: sink) { message in
            output.flush()
            printError("diffai: \(message)")
        }
        var bridge: ConsoleBridge?
        var server: ConsoleServer?
        if let detection {
            if !console.disabled {
                bridge = ConsoleBridge(detector: detection.detector, outputs: detection.outputs,
                                       rulesPath: detectionOptions.rules.path, threshold: detectionOptions.ml.threshold)
                server = console.start(mode: "replay", hooks: bridge!.hooks(mode: "replay"),
                                       history: AlertHistory(evePath: eve, alertLogPath: alertLog), feed: bridge!.feed,
                                       trainingAudit: detection.detector.benignAudit)
            }
            // SIGHUP: reopen alert files (log rotation) and reload the rules.
            Signals.installHangupFlag()
            let rulesPath = detectionOptions.rules.path
            engine.maintenance = {
                guard Signals.takeHangup() else { return }
                output.flush()
                detection.outputs.reopen()
                detection.reloadRules(from: rulesPath) { printError("diffai: \($0)") }
            }
        }
        var summary = engine.run(files: files)
        summary.pipeline.memoryBudgetBytes = budget.totalBytes
        output.flush()
        if let bridge, let detection {
            bridge.feed.publishStatistics(ConsoleBridge.statistics(
                summary.pipeline, requests: summary.requests, alerts: detection.alertsRaised,
                alertsNotWritten: detection.outputs.alertsNotWritten))
        }
        if !noSummary {
            printError(summary.description)
            if let detection {
                let policy = detection.detector.policy
                printError("detection: \(policy.rules.count) rules (\(policy.rules.enabledCount) enabled, paranoia \(policy.scoring.paranoiaLevel))\(policy.model == nil ? ", no ML model" : ", ML model"), \(detection.requestsInspected) requests inspected, \(detection.alertsRaised) incidents\(detection.outputs.alertsNotWritten > 0 ? " (\(detection.outputs.alertsNotWritten) not written)" : "")")
                if let limit = detection.detector.regexLimitSummary { printError("detection: \(limit)") }
            }
        }
        if let server {
            if keepConsole {
                Signals.installStopFlag()
                printError("diffai: replay finished; the console stays at \(server.url) until interrupted (Ctrl-C)")
                while !Signals.stopping { usleep(100_000) }
            }
            server.stop()
        }
        if let detection { try checkAlertOutputs(detection.outputs) }
        if summary.filesFailed > 0 { throw ExitCode(2) }
    }
}

func printError(_ message: String) {
    var line = message
    line.append("\n")
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
