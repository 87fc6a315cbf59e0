import Classifier
import JSONOutput
import NetworkTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Training started from the Train page: one job at a time on its own thread (training uses
/// both cores for a few seconds), progress pushed to every page, the model written to the
/// models folder. Activating it is the host's business (the running detector switches).
public final class TrainingJobs: Sendable {
    public enum State: String, Sendable { case running, succeeded, failed }

    public struct Job: Sendable {
        public let id: Int
        public var state: State = .running
        public let benign: String
        public let malicious: String
        public var progress = 0.0
        public var stage = "starting"
        public let started: Double
        public var finished: Double?
        public var report: TrainingReport?
        public var error: String?
        public let modelPath: String
        public var active = false
        public var activationMessage: String?
    }

    private struct State_ {
        var jobs: [Job] = []
        var nextID = 1
    }

    private let state = Mutex(State_())
    private let feed: ConsoleFeed
    public let modelFolder: String
    public let options: TrainingOptions

    public init(modelFolder: String, feed: ConsoleFeed, options: TrainingOptions = TrainingOptions()) {
        self.modelFolder = modelFolder
        self.feed = feed
        self.options = options
    }

    public enum StartError: Error, Sendable { case busy(Int) }

    /// Starts training on two catalog entries; refused while another job runs.
    public func start(benign: DatasetCatalog.Entry, malicious: DatasetCatalog.Entry) throws(StartError) -> Job {
        let job: Job = try {
            () throws(StartError) -> Job in
            try state.withLock { state throws(StartError) -> Job in
                if let running = state.jobs.first(where: { $0.state == .running }) { throw .busy(running.id) }
                let id = state.nextID
                state.nextID += 1
                let started = SystemClock.now().secondsSinceEpoch
                let job = Job(id: id, benign: benign.id, malicious: malicious.id, started: started,
                              modelPath: modelFolder + "/model-\(Int(started))-\(id).bin")
                state.jobs.append(job)
                if state.jobs.count > 50 { state.jobs.removeFirst() }
                return job
            }
        }()
        let options = self.options
        let folder = modelFolder
        Threads.detach { [self] in
            do {
                update(job.id) { $0.stage = "reading \(benign.id) and \(malicious.id)"; $0.progress = 0.01 }
                let good = try Trainer.loadLines(path: benign.path)
                let bad = try Trainer.loadLines(path: malicious.path)
                var lastPublished = 0.0
                let (model, report) = try Trainer.train(good: good, bad: bad, options: options) { progress in
                    let (fraction, stage) = Self.describe(progress)
                    // Every step is cheap to report, but pages only need a few updates per second.
                    let now = SystemClock.now().secondsSinceEpoch
                    guard now - lastPublished >= 0.1 || fraction >= 0.95 else { return }
                    lastPublished = now
                    self.update(job.id) { $0.progress = fraction; $0.stage = stage }
                }
                Self.makeFolder(folder)
                try ModelFile.save(model, to: job.modelPath)
                update(job.id) {
                    $0.state = .succeeded
                    $0.progress = 1
                    $0.stage = "finished"
                    $0.report = report
                    $0.finished = SystemClock.now().secondsSinceEpoch
                }
            } catch let error as TrainingError {
                fail(job.id, error.description)
            } catch let error as ModelFile.LoadError {
                fail(job.id, error.description)
            } catch {
                fail(job.id, "\(error)")
            }
        }
        return job
    }

    private func fail(_ id: Int, _ message: String) {
        update(id) {
            $0.state = .failed
            $0.error = message
            $0.stage = "failed"
            $0.finished = SystemClock.now().secondsSinceEpoch
        }
    }

    static func describe(_ progress: TrainingProgress) -> (Double, String) {
        switch progress {
        case .preparing(let what): return (0.03, what)
        case .features(let done, let total): return (0.05 + 0.25 * Double(done) / Double(max(total, 1)), "features \(done)/\(total)")
        case .iteration(let i, let max, _): return (0.3 + 0.65 * Double(i) / Double(Swift.max(max, 1)), "training: iteration \(i) of at most \(max)")
        case .evaluating: return (0.96, "evaluating")
        }
    }

    public func update(_ id: Int, _ change: (inout Job) -> Void) {
        let json: [UInt8]? = state.withLock { state in
            guard let index = state.jobs.firstIndex(where: { $0.id == id }) else { return nil }
            change(&state.jobs[index])
            return ConsoleEvents.encoded(TrainingEvent(job: TrainingJobJSON(state.jobs[index])))
        }
        if let json { feed.publish(json) }
    }

    /// Marks `id` active (and no other).
    public func markActive(_ id: Int, message: String) {
        let others = state.withLock { $0.jobs.filter { $0.active && $0.id != id }.map(\.id) }
        for other in others { update(other) { $0.active = false } }
        update(id) { $0.active = true; $0.activationMessage = message }
    }

    public func job(_ id: Int) -> Job? { state.withLock { $0.jobs.first { $0.id == id } } }
    public var jobs: [Job] { state.withLock { $0.jobs } }

    static func makeFolder(_ path: String) {
        var partial = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            partial += (partial.isEmpty && path.hasPrefix("/") ? "" : (partial.isEmpty ? "" : "/")) + component
            if !partial.isEmpty { mkdir(partial, 0o755) }
        }
    }
}
