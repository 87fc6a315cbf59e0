import Alerts
import ArgumentParser
import Classifier
import Console
import Detection
import JSONOutput
import Pipeline
import Synchronization
import TLS

/// `--console HOST:PORT` / `--no-console` for every mode that shows the console.
struct ConsoleOptions: ParsableArguments {
    @Option(name: .customLong("console"), help: "Address of the web console (HOST:PORT; the port alone means 127.0.0.1).")
    var address = "127.0.0.1:5000"
    @Flag(name: .customLong("no-console"), help: "Do not start the web console.")
    var disabled = false
    @Option(name: .customLong("static"), help: "Folder of the console's page files (default: static/ of the project).")
    var staticFolder: String?
    @Option(name: .customLong("console-token-file"), help: "Access token file (made when absent).")
    var tokenFile = "keys/console-token"

    /// `HOST:PORT`, `[v6]:PORT`, `:PORT` or `PORT`.
    static func parse(_ address: String) -> (host: String, port: Int)? {
        if let port = Int(address), (0...65535).contains(port) { return ("127.0.0.1", port) }
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (0...65535).contains(port) else { return nil }
            return (host, port)
        }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        let host = String(address[..<colon])
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    func validate() throws {
        if !disabled, Self.parse(address) == nil { throw ValidationError("--console: give HOST:PORT, e.g. 127.0.0.1:5000") }
    }

    /// Starts the console, or explains on stderr why not and returns nil: the console is never
    /// a reason for a sensor to stop watching traffic.
    /// `trainingAudit`: what tells the benign lines a training job drops as attacks (the rules).
    func start(mode: String, hooks: ConsoleHooks, history: AlertHistory, feed: ConsoleFeed, follow: Bool = false,
               trainingAudit: (@Sendable ([UInt8]) -> Bool)? = nil) -> ConsoleServer? {
        guard !disabled, let (host, port) = Self.parse(address) else { return nil }
        guard let folder = StaticAssets.locate(explicit: staticFolder) else {
            printError("diffai: console not started: its page files (static/) were not found; run from the project folder or give --static FOLDER")
            return nil
        }
        let token: String
        do {
            let (value, created) = try ConsoleToken.loadOrCreate(path: tokenFile)
            token = value
            if created {
                printError("diffai: console access token (shown once; kept in \(tokenFile)): \(value)")
            }
        } catch {
            printError("diffai: console not started: \(error.description)")
            return nil
        }
        var configuration = ConsoleConfiguration(host: host, port: port, staticFolder: folder, token: token, history: history)
        configuration.followAlertFile = follow
        configuration.trainingOptions.benignAudit = trainingAudit
        do {
            let server = try ConsoleServer.start(configuration, hooks: hooks, feed: feed)
            if configuration.isLoopback {
                printError("diffai: console at \(server.url)")
            } else {
                printError("diffai: console at \(server.url) (every request needs the token: open \(server.url)login?token=<token from \(tokenFile)>)")
            }
            return server
        } catch {
            printError("diffai: console not started: \(error.description)")
            return nil
        }
    }
}

/// Connects the console to the running detector, whichever mode runs it: the detector is
/// safe to change from the console's threads (reloads and model switches take effect for the
/// next request judged).
final class ConsoleBridge: Sendable {
    let feed = ConsoleFeed()
    let detector: Detector
    private let rulesPath: String
    private let threshold: Float?

    init(detector: Detector, outputs: AlertOutputs, rulesPath: String, threshold: Float?) {
        self.detector = detector
        self.rulesPath = rulesPath
        self.threshold = threshold
        let feed = self.feed
        let sensor = outputs.sensorName
        outputs.listeners.append { alert in
            feed.publishAlert(eveLine: AlertFormat.eveLine(alert, sensor: sensor))
        }
    }

    func hooks(mode: String) -> ConsoleHooks {
        ConsoleHooks(
            mode: mode, rulesFile: rulesPath,
            rules: { [detector] in detector.rules.rules.map(RuleSummary.init) },
            reloadRules: { [detector, rulesPath] in
                detector.reloadRules(from: rulesPath).map(\.count).mapError { ConsoleFailure($0.description) }
            },
            activateModel: { [detector, threshold] path in
                detector.activateModel(path: path, threshold: threshold)
                    .map { _ in "detection now uses \(path)" }
                    .mapError { ConsoleFailure($0.description) }
            })
    }

    /// The counters the Home page shows, as a JSON object. `pipeline` is nil for the proxy,
    /// which has no capture stages.
    static func statistics(_ pipeline: PipelineStatistics?, requests: Int, alerts: Int, alertsNotWritten: Int,
                           extra: [(String, String)] = []) -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        let stats = pipeline ?? PipelineStatistics()
        json.key("packets"); json.number(stats.decoder.packets)
        json.key("kernel_drops"); json.number(stats.kernelDrops)
        json.key("diffai_drops"); json.number(stats.queueDrops)
        json.key("drops"); json.number(stats.kernelDrops + stats.queueDrops)
        json.key("flows"); json.number(stats.activeFlows)
        json.key("requests"); json.number(requests)
        json.key("alerts"); json.number(alerts)
        json.key("alerts_not_written"); json.number(alertsNotWritten)
        // Everything not inspected (or inspected early), by reason.
        json.key("not_inspected"); json.number(stats.losses.filter { $0.key != "out_of_order_hole_bytes" }.reduce(0) { $0 + $1.count })
        json.key("losses"); stats.writeLosses(into: &json)
        json.key("memory")
        json.beginObject()
        json.key("budget_bytes"); json.number(stats.memoryBudgetBytes)
        json.key("peak_resident_bytes"); json.number(PipelineStatistics.peakResidentBytes())
        json.endObject()
        // TLS sessions decrypted, and the others by reason (only when key logs are given).
        if stats.tls.sessions > 0 {
            json.key("tls")
            json.beginObject()
            json.key("sessions"); json.number(stats.tls.sessions)
            json.key("decrypted"); json.number(stats.tls.decrypted)
            json.key("not_decrypted")
            json.beginObject()
            for reason in TLSSession.Undecryptable.allCases { json.key(reason.rawValue); json.number(stats.tls.undecryptable[reason] ?? 0) }
            json.endObject()
            json.endObject()
        }
        for (key, value) in extra { json.key(key); json.string(value) }
        json.endObject()
        return json.bytes
    }
}

extension AlertFileOptions {
    var history: AlertHistory { AlertHistory(evePath: eve, alertLogPath: alertLog) }
}

/// The end of a run that wrote alerts: an output that lost any makes the exit status 74
/// (EX_IOERR), so a service manager or a script sees that alerts are missing.
func checkAlertOutputs(_ outputs: AlertOutputs) throws {
    if let report = outputs.lossReport {
        printError("diffai: \(report)")
        throw ExitCode(74)
    }
}

/// `--memory-budget`: one bound for what a sensor holds for the traffic it watches.
struct MemoryBudgetOption: ParsableArguments {
    @Option(name: .customLong("memory-budget"),
            help: "Memory for flows, out-of-order bytes, heads and bodies held for inspection, IP fragments and the capture queue, e.g. 512M or 2G (default 512M; divided among the stages as the README's \"Limits and the memory budget\" says).")
    var text: String?

    var budget: MemoryBudget {
        get throws {
            guard let text else { return MemoryBudget() }
            guard let bytes = MemoryBudget.parseSize(text), bytes >= MemoryBudget.minimumTotalBytes else {
                throw ValidationError("--memory-budget: \(text) is not a size of at least \(MemoryBudget.minimumTotalBytes >> 20)M (e.g. 512M, 2G)")
            }
            return MemoryBudget(totalBytes: bytes)
        }
    }

    func validate() throws { _ = try budget }
}
