import Alerts
import Classifier
import Detection
import Dispatch
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import JSONOutput
import Logging
import NetworkTypes
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loaded rule as the Rules page lists it.
public struct RuleSummary: Sendable {
    public let id: Int, message: String, severity: String, action: String, category: String, enabled: Bool

    public init(_ rule: Rule) {
        id = rule.id
        message = rule.message
        severity = rule.severity.rawValue
        action = rule.action.rawValue
        category = rule.category
        enabled = rule.enabled
    }
}

public struct ConsoleFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What the console may ask of the process it runs in. Detection lives on the analysis
/// thread, so these hand work to it and wait for the answer; the console never touches the
/// detector itself.
public struct ConsoleHooks: Sendable {
    /// `monitor`, `replay`, `proxy`, `demo` or `console`.
    public var mode: String
    public var rulesFile: String
    public var rules: @Sendable () -> [RuleSummary]
    /// Reloads the rule file; the number of rules now loaded, or why the old ones stay.
    public var reloadRules: @Sendable () async -> Result<Int, ConsoleFailure>
    /// Switches detection to the model at the path; a sentence saying what happened.
    public var activateModel: @Sendable (String) async -> Result<String, ConsoleFailure>

    public init(mode: String, rulesFile: String, rules: @escaping @Sendable () -> [RuleSummary],
                reloadRules: @escaping @Sendable () async -> Result<Int, ConsoleFailure>,
                activateModel: @escaping @Sendable (String) async -> Result<String, ConsoleFailure>) {
        self.mode = mode
        self.rulesFile = rulesFile
        self.rules = rules
        self.reloadRules = reloadRules
        self.activateModel = activateModel
    }
}

public struct ConsoleConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 5000
    public var staticFolder: String
    public var token: String
    public var history: AlertHistory
    public var datasets = DatasetCatalog.standard
    public var modelFolder = "Dataset/models"
    public var trainingOptions = TrainingOptions()
    /// Read new alerts from the end of the alert file (standalone console).
    public var followAlertFile = false

    public init(host: String = "127.0.0.1", port: Int = 5000, staticFolder: String, token: String, history: AlertHistory) {
        self.host = host
        self.port = port
        self.staticFolder = staticFolder
        self.token = token
        self.history = history
    }

    /// Bound to 127.0.0.0/8, ::1 or localhost; anything else needs the token for every request.
    public var isLoopback: Bool { ConsoleAccess.isLoopbackHost(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host) }
}

/// The console's HTTP and WebSocket server (Hummingbird on its own event loops, beside the
/// capture and analysis threads, which it never blocks).
public final class ConsoleServer: Sendable {
    public let feed: ConsoleFeed
    public let jobs: TrainingJobs
    public let port: Int
    public let configuration: ConsoleConfiguration
    private let task: Mutex<Task<Void, Never>?>
    private let stopped: DispatchSemaphore

    /// Starts listening; returns once the socket is bound (or throws why it could not be).
    public static func start(_ configuration: ConsoleConfiguration, hooks: ConsoleHooks, feed: ConsoleFeed) throws(ConsoleFailure) -> ConsoleServer {
        let assets: StaticAssets
        do {
            assets = try StaticAssets(folder: configuration.staticFolder)
        } catch {
            throw ConsoleFailure(error.description)
        }
        let jobs = TrainingJobs(modelFolder: configuration.modelFolder, feed: feed, options: configuration.trainingOptions)
        let access = ConsoleAccess(token: configuration.token, loopbackOnly: configuration.isLoopback)
        let started = SystemClock.monotonicSeconds()
        let bound = StartOutcome()
        let ready = DispatchSemaphore(value: 0)
        let stopped = DispatchSemaphore(value: 0)
        // The router and application are built on the task that runs them (they are not Sendable).
        @Sendable func makeApplication() -> some ApplicationProtocol {
            let router = Router(context: BasicWebSocketRequestContext.self)
            router.middlewares.add(ConsoleAccessMiddleware(access: access))
            ConsoleRoutes(configuration: configuration, hooks: hooks, feed: feed, jobs: jobs, access: access, assets: assets,
                          started: started).register(on: router)
            var logger = Logger(label: "diffai.console")
            logger.logLevel = .critical
            return Application(
                router: router,
                server: .http1WebSocketUpgrade(webSocketRouter: router),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
                onServerRunning: { channel in
                    bound.value.withLock { $0 = .success(channel.localAddress?.port ?? configuration.port) }
                    ready.signal()
                },
                logger: logger
            )
        }
        let follower = configuration.followAlertFile ? AlertFileFollower(history: configuration.history, feed: feed) : nil
        let task = Task.detached {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await makeApplication().run()
                    } catch {
                        bound.value.withLock { if $0 == nil { $0 = .failure(ConsoleFailure(Self.explain(error, configuration))) } }
                        ready.signal()
                    }
                }
                if let follower { group.addTask { await follower.run() } }
                _ = await group.next()
                group.cancelAll()
            }
            feed.finishAll()
            stopped.signal()
        }
        if ready.wait(timeout: .now() + 15) == .timedOut {
            task.cancel()
            throw ConsoleFailure("the console did not start within 15 s")
        }
        switch bound.value.withLock({ $0 })! {
        case .success(let port):
            return ConsoleServer(feed: feed, jobs: jobs, port: port, configuration: configuration, task: task, stopped: stopped)
        case .failure(let failure):
            throw failure
        }
    }

    private init(feed: ConsoleFeed, jobs: TrainingJobs, port: Int, configuration: ConsoleConfiguration, task: Task<Void, Never>, stopped: DispatchSemaphore) {
        self.feed = feed
        self.jobs = jobs
        self.port = port
        self.configuration = configuration
        self.task = Mutex(task)
        self.stopped = stopped
    }

    static func explain(_ error: any Error, _ configuration: ConsoleConfiguration) -> String {
        let text = "\(error)"
        if text.contains("Address already in use") || text.contains("EADDRINUSE") {
            return "cannot listen on \(configuration.host):\(configuration.port): the address is in use (another diffai console?); choose another with --console HOST:PORT"
        }
        return "cannot listen on \(configuration.host):\(configuration.port): \(text)"
    }

    public var url: String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "http://\(host):\(port)/"
    }

    /// Closes the listener and every page's connection; waits a few seconds at most.
    public func stop() {
        guard let task = task.withLock({ task in defer { task = nil }; return task }) else { return }
        task.cancel()
        _ = stopped.wait(timeout: .now() + 5)
    }
}


/// Whether the listener came up (its port) or why not; set once by the server task.
final class StartOutcome: Sendable {
    let value = Mutex<Result<Int, ConsoleFailure>?>(nil)
}
