import Alerts
import ArgumentParser
import Classifier
import Console
import Detection
import JSONOutput
import NetworkTypes
import Proxy

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Inline proxy: inspect each request before it reaches the backend, and refuse attacks with --block.",
        discussion: """
        Listens where the backend used to (Apache keeps `ProxyPass / http://localhost:8080/`) and \
        forwards to --upstream over pooled keep-alive connections. Requests are read with diffai's \
        own HTTP parser; ambiguous framing (Content-Length with Transfer-Encoding, bad chunk sizes, \
        obsolete folding...) gets 400, oversize headers 431, oversize bodies 413, a dead backend \
        502. Without --block requests are forwarded at once and inspected out of band; with \
        --block the head and up to --inspect-body-bytes of the body are inspected first, and every \
        incident (anomaly score at the threshold, or a rule with "action": "block") gets 403 with \
        an incident id that the alert carries too. SIGHUP reloads the rules and reopens the files.
        """
    )

    @Option(help: "Address to listen on (HOST:PORT).")
    var listen = "127.0.0.1:8080"
    @Option(help: "The backend (HOST:PORT).")
    var upstream = "127.0.0.1:8081"
    @Flag(help: "Refuse every incident (403) before it reaches the backend.")
    var block = false
    @Option(name: .customLong("block-threshold"), help: "ML score (0…1) at which the model alone makes an incident (default: the model's calibrated one).")
    var blockThreshold: Float?
    @Option(name: .customLong("inspect-body-bytes"), help: "Body bytes inspected before forwarding (with --block); the rest streams.")
    var inspectBodyBytes = 1 << 20
    @Option(name: .customLong("max-header-bytes"), help: "Request line plus headers; larger gets 431.")
    var maxHeaderBytes = 32 << 10
    @Option(name: .customLong("max-body-mb"), help: "Request body size limit; larger gets 413.")
    var maxBodyMB = 100
    @Option(name: .customLong("max-request-line"), help: "Request line bytes; longer gets 414 at once.")
    var maxRequestLine = 8 << 10
    @Option(name: .customLong("max-pipelined"), help: "Requests read ahead of their responses per connection; beyond it the client is not read until responses go out.")
    var maxPipelined = 16
    @Option(name: .customLong("body-timeout"), help: "Seconds a request body may take, extended by one second per --body-min-rate bytes received; then 408.")
    var bodyTimeout: Double = 20
    @Option(name: .customLong("body-min-rate"), help: "Bytes per second that extend the body timeout by a second.")
    var bodyMinRate = 500
    @Option(name: .customLong("header-timeout"), help: "Seconds a client has to send a request head.")
    var headerTimeout = 10.0
    @Option(name: .customLong("idle-timeout"), help: "Seconds without traffic before a connection is closed.")
    var idleTimeout = 60.0
    @Option(name: .customLong("upstream-timeout"), help: "Seconds to connect to the backend.")
    var upstreamTimeout = 3.0
    @Flag(name: .customLong("fail-closed"), help: "Refuse (503) a request that detection fails to judge, instead of forwarding it (--fail-open, the default).")
    var failClosed = false
    @Flag(name: .customLong("fail-open"), help: "Forward a request that detection fails to judge (the default).")
    var failOpen = false
    @Option(help: "Event loop threads (default: two per core; the proxy shares the machine with the backend).")
    var threads = 0
    @OptionGroup var detectionOptions: DetectionOptions
    @OptionGroup var files: AlertFileOptions
    @OptionGroup var console: ConsoleOptions
    @Flag(help: "Print alerts on stdout as EVE JSON instead of readable lines.")
    var json = false
    @Flag(help: "Do not print alerts on stdout.")
    var quiet = false

    func validate() throws {
        guard ConsoleOptions.parse(listen) != nil else { throw ValidationError("--listen: give HOST:PORT") }
        guard ConsoleOptions.parse(upstream) != nil else { throw ValidationError("--upstream: give HOST:PORT") }
        if failOpen && failClosed { throw ValidationError("choose one of --fail-open and --fail-closed") }
        if let blockThreshold, !(blockThreshold >= 0 && blockThreshold <= 1) { throw ValidationError("--block-threshold is between 0 and 1") }
        guard maxHeaderBytes >= 1024, maxRequestLine >= 256, inspectBodyBytes >= 0, maxBodyMB > 0, headerTimeout > 0, idleTimeout > 0,
              upstreamTimeout > 0, maxPipelined > 0, bodyTimeout > 0, bodyMinRate > 0 else {
            throw ValidationError("limits and timeouts must be positive (headers at least 1024 bytes, request line at least 256)")
        }
    }

    func run() throws {
        let (listenHost, listenPort) = ConsoleOptions.parse(listen)!
        let (upstreamHost, upstreamPort) = ConsoleOptions.parse(upstream)!
        var configuration = ProxyConfiguration()
        configuration.listenHost = listenHost
        configuration.listenPort = listenPort
        configuration.upstreamHost = upstreamHost
        configuration.upstreamPort = upstreamPort
        configuration.block = block
        configuration.blockThreshold = blockThreshold
        configuration.inspectBodyBytes = inspectBodyBytes
        configuration.maxHeaderBytes = maxHeaderBytes
        configuration.maxRequestLineBytes = maxRequestLine
        configuration.maxPipelinedRequests = maxPipelined
        configuration.bodyTimeoutSeconds = bodyTimeout
        configuration.bodyMinimumRate = bodyMinRate
        configuration.maxBodyBytes = maxBodyMB << 20
        configuration.headerTimeoutSeconds = headerTimeout
        configuration.idleTimeoutSeconds = idleTimeout
        configuration.upstreamConnectTimeoutSeconds = upstreamTimeout
        configuration.failOpen = !failClosed
        configuration.threads = threads

        let report: @Sendable (String) -> Void = { printError("diffai: \($0)") }
        let output = BufferedFileOutput(descriptor: STDOUT_FILENO)
        let outputs = files.makeOutputs(standardOutput: quiet ? nil : output, json: json, report: report)
        let detector = try detectionOptions.makeDetector(modelIncidentThreshold: blockThreshold)
        let bridge = ConsoleBridge(detector: detector, outputs: outputs, rulesPath: detectionOptions.rules.path,
                                   threshold: detectionOptions.ml.threshold)
        let inspector = RequestInspector(detector: detector, outputs: outputs)

        let server: ProxyServer
        do {
            server = try ProxyServer.start(configuration, inspector: inspector)
        } catch {
            printError("diffai: \(error.description)")
            throw ExitCode(69)
        }
        Signals.installStopFlag()
        Signals.installHangupFlag()
        let rulesPath = detectionOptions.rules.path
        let feed = bridge.feed
        let consoleServer = console.start(mode: "proxy", hooks: bridge.hooks(mode: "proxy"), history: files.history, feed: feed,
                                          trainingAudit: bridge.detector.benignAudit)
        printError("diffai: proxy on \(listenHost):\(server.port) → \(upstreamHost):\(upstreamPort), \(block ? "refusing incidents" : "detecting only (no --block)"), "
            + "\(DetectionOptions.describe(detector)); alerts to \(files.alertLog) and \(files.eve)")

        var lastStats = SystemClock.monotonicSeconds()
        while !Signals.stopping {
            // Standard output belongs to the alert writer's thread, which flushes it.
            usleep(50_000)
            if Signals.takeHangup() {
                inspector.reopenOutputs()
                switch detector.reloadRules(from: rulesPath) {
                case .success(let loaded): report("rules reloaded from \(rulesPath): \(loaded.count) rules")
                case .failure(let failure): report("rules not reloaded, the rules in force stay: \(failure.description)")
                }
            }
            if consoleServer != nil, SystemClock.monotonicSeconds() - lastStats >= 1 {
                lastStats = SystemClock.monotonicSeconds()
                let counters = inspector.counts
                feed.publishStatistics(ConsoleBridge.statistics(nil, requests: counters.inspected, alerts: counters.alerts,
                                                                alertsNotWritten: inspector.alertsNotWritten,
                                                                extra: [("blocked", String(counters.blocked))]))
            }
        }
        server.stop()
        inspector.finish()
        output.flush()
        consoleServer?.stop()
        let counters = inspector.counts
        printError("diffai: proxy stopped: \(counters.inspected) requests inspected, \(counters.alerts) alerts, \(counters.blocked) refused")
        if let limit = detector.regexLimitSummary { printError("diffai: \(limit)") }
        if let report = inspector.lossReport {
            printError("diffai: \(report)")
            throw ExitCode(74)
        }
    }
}
