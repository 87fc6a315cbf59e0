import Alerts
import ArgumentParser
import Capture
import Console
import Detection
import HTTP
import JSONOutput
import NetworkTypes
import Pipeline

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Watch live traffic (the Apache → backend link) and raise alerts out of band.",
        discussion: """
        Captures with libpcap on an interface; a capture thread only copies packets into a bounded \
        queue, analysis runs on another thread, so the web server is never delayed (when analysis \
        falls behind, packets are counted as dropped by diffai). SIGINT/SIGTERM: finish what is \
        queued, print final statistics, exit 0. SIGHUP: reload the rules (a bad file keeps the \
        rules in force) and reopen the alert files.
        """
    )

    @Option(help: "Interface to capture on.")
    var interface = "lo"
    @Option(help: "TCP port of the backend (the default filter is 'tcp port PORT').")
    var port: UInt16 = 8080
    @Option(help: "BPF filter instead of 'tcp port PORT'.")
    var filter: String?
    @OptionGroup var detectionOptions: DetectionOptions
    @OptionGroup var keyLogs: KeyLogOptions
    @OptionGroup var files: AlertFileOptions
    var alertLog: String { files.alertLog }
    var eve: String { files.eve }
    @Flag(help: "Print alerts on stdout as EVE JSON instead of readable lines.")
    var json = false
    @Option(help: "What to print on stdout: alerts, or requests (one JSON object per request).")
    var emit: ReplayCommand.Emit = .alerts
    @Option(name: .customLong("stats-interval"), help: "Seconds between statistics lines on stderr (0: only at exit).")
    var statsInterval: Double = 10
    @Option(name: .customLong("kernel-buffer-mb"), help: "libpcap kernel buffer.")
    var kernelBufferMB: Int32 = 64
    @Option(name: .customLong("queue-mb"), help: "Queue between capture and analysis (default: an eighth of the memory budget).")
    var queueMB: Int?
    @OptionGroup var memory: MemoryBudgetOption
    @Option(name: .customLong("analysis-nice"), parsing: .unconditional,
            help: "Nice value of the analysis thread. 0 (default): it competes like any thread, so on a saturated machine packets are dropped by diffai, never by the web server. Negative (e.g. -10; root or CAP_SYS_NICE): analysis keeps up at saturation at some cost to the web server's throughput (see README).")
    var analysisNice: Int32 = 0
    @OptionGroup var console: ConsoleOptions

    func run() throws {
        var options = PcapLiveSource.Options()
        options.interface = interface
        options.filter = filter ?? "tcp port \(port)"
        options.bufferBytes = kernelBufferMB << 20
        let report: @Sendable (String) -> Void = { printError("diffai: \($0)") }

        let output = BufferedFileOutput(descriptor: STDOUT_FILENO)
        let outputs = files.makeOutputs(standardOutput: emit == .alerts ? output : nil, json: json, report: report)
        let latency = LatencyRecorder()
        outputs.listeners.append { alert in latency.record(alert) }

        let requestEmitter = emit == .requests ? RequestJSONEmitter(output: output) : nil
        let detection = DetectionSink(detector: try detectionOptions.makeDetector(), outputs: outputs,
                                      waitForResponse: false, next: requestEmitter)
        let source = try AlertFileOptions.openCapture(options)
        Signals.installStopFlag()
        Signals.installHangupFlag()
        let budget = try memory.budget
        var pipelineOptions = PipelineOptions()
        budget.apply(to: &pipelineOptions)
        let keyLog = keyLogs.follow(report: report)
        defer { keyLog?.follower.stop() }
        pipelineOptions.keyLog = keyLog?.store
        let engine = MonitorEngine(options: pipelineOptions, sink: detection, memoryBudget: budget,
                                   queueBytes: queueMB.map { $0 << 20 }, diagnostics: report)
        engine.analysisNice = analysisNice
        let bridge = ConsoleBridge(detector: detection.detector, outputs: outputs, rulesPath: detectionOptions.rules.path,
                                   threshold: detectionOptions.ml.threshold)
        let server = console.start(mode: "monitor", hooks: bridge.hooks(mode: "monitor"), history: files.history, feed: bridge.feed,
                                   trainingAudit: bridge.detector.benignAudit)
        printError("diffai: monitoring \(interface) (filter '\(options.filter)'), \(DetectionOptions.describe(detection.detector)); alerts to \(alertLog) and \(eve)")

        var lastStats = SystemClock.monotonicSeconds()
        var lastPublished = 0.0
        engine.maintenance = {
            output.flush()
            if Signals.takeHangup() {
                detection.outputs.reopen()
                detection.reloadRules(from: detectionOptions.rules.path) { report($0) }
            }
            if server != nil, SystemClock.monotonicSeconds() - lastPublished >= 1 {
                lastPublished = SystemClock.monotonicSeconds()
                bridge.feed.publishStatistics(Self.consoleStatistics(engine, source, detection))
            }
            if statsInterval > 0, SystemClock.monotonicSeconds() - lastStats >= statsInterval {
                lastStats = SystemClock.monotonicSeconds()
                printError(Self.statistics(engine, source, detection, latency))
            }
        }
        engine.run(source: source) { Signals.stopping }
        output.flush()
        printError(Self.statistics(engine, source, detection, latency, final: true))
        server?.stop()
        try checkAlertOutputs(detection.outputs)
    }

    /// Every stage's counters, with the capture's drops.
    static func pipelineStatistics(_ engine: MonitorEngine, _ source: PcapLiveSource) -> PipelineStatistics {
        let kernel = source.statistics
        var statistics = engine.core.statistics
        statistics.kernelDrops = Int(kernel.droppedByKernel + kernel.droppedByInterface)
        statistics.queueDrops = engine.queue.droppedPackets
        statistics.memoryBudgetBytes = engine.memoryBudget.totalBytes
        return statistics
    }

    static func consoleStatistics(_ engine: MonitorEngine, _ source: PcapLiveSource, _ detection: DetectionSink) -> [UInt8] {
        ConsoleBridge.statistics(pipelineStatistics(engine, source), requests: engine.core.httpStatistics.requests,
                                 alerts: detection.alertsRaised, alertsNotWritten: detection.outputs.alertsNotWritten)
    }

    static func statistics(_ engine: MonitorEngine, _ source: PcapLiveSource, _ detection: DetectionSink,
                           _ latency: LatencyRecorder, final: Bool = false) -> String {
        let kernel = source.statistics
        let pipeline = pipelineStatistics(engine, source)
        let r = pipeline.reassembly
        return "\(final ? "final statistics" : "statistics"): packets received \(kernel.received), dropped by the kernel \(pipeline.kernelDrops), "
            + "dropped by diffai \(pipeline.queueDrops), analysed \(engine.packetsAnalysed), flows \(r.flowsCreated) (\(pipeline.activeFlows) open), "
            + "requests \(pipeline.requests), alerts \(detection.alertsRaised) (\(detection.outputs.alertsNotWritten) not written), alert latency \(latency.summary); "
            + "\(pipeline.lossSummary); \(pipeline.memorySummary)"
            + (detection.detector.regexLimitSummary.map { "; \($0)" } ?? "")
            + (pipeline.tls.summaryLine.map { "; \($0)" } ?? "")
    }
}

/// Time from the capture of a request's last packet to its alert being written.
final class LatencyRecorder {
    private var samples: [Double] = []

    func record(_ alert: Alert) {
        let now = SystemClock.now()
        samples.append(Double(now.microseconds - alert.timestamp.microseconds) / 1000)
        if samples.count > 100_000 { samples.removeFirst(50_000) }
    }

    var summary: String {
        guard !samples.isEmpty else { return "n/a" }
        let sorted = samples.sorted()
        func ms(_ v: Double) -> String { (v / 100).fixed(2) }
        let p50 = sorted[sorted.count / 2], p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        return "p50 \(ms(p50 * 100)) ms, p99 \(ms(p99 * 100)) ms, max \(ms(sorted.last! * 100)) ms"
    }
}

extension CaptureError {
    var isPermissionProblem: Bool { description.contains("permission denied") }
}

/// Where live modes write alerts (monitor, demo).
struct AlertFileOptions: ParsableArguments {
    @Option(name: .customLong("alert-log"), help: "Alert file in the original alert.log format.")
    var alertLog = "alert.log"
    @Option(help: "EVE JSON alert file.")
    var eve = "eve.json"

    /// alert.log and EVE files, plus readable (or EVE) lines on `standardOutput` when given.
    func makeOutputs(standardOutput: BufferedFileOutput?, json: Bool = false, report: @escaping @Sendable (String) -> Void) -> AlertOutputs {
        let outputs = AlertOutputs()
        outputs.standardOutput = standardOutput
        outputs.eveToStandardOutput = json
        outputs.alertLog = AlertFile(path: alertLog, report: report)
        outputs.eveFile = AlertFile(path: eve, report: report)
        return outputs
    }

    /// Opens the live capture, or stops the program with why it cannot (exit 77: no rights).
    static func openCapture(_ options: PcapLiveSource.Options) throws -> PcapLiveSource {
        do {
            return try PcapLiveSource(options: options)
        } catch {
            printError("diffai: \(error.description)")
            throw ExitCode(error.isPermissionProblem ? 77 : 66)
        }
    }
}

