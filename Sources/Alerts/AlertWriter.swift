import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Alert writing on a thread of its own, for threads that must not wait on a disk (the proxy's
/// event loops): `submit` queues the alert and returns; the writer thread writes what is
/// queued to the outputs and flushes them. A slow or stalled disk then slows the writer, not
/// the traffic. The queue is bounded: beyond `capacity` alerts waiting, a new alert is counted
/// as not written (it shows in `alertsNotWritten` and in the end-of-run loss report) rather
/// than held without limit.
///
/// Sendable because `pending`, `lost` and the flags are read and written under `mutex` only,
/// and the outputs are used by the writer thread, or by `withOutputs` while the writer is
/// held off by `outputsMutex`.
public final class AlertWriter: @unchecked Sendable {
    private let outputs: AlertOutputs
    private let capacity: Int
    private var pending: [Alert] = []
    private var lost = 0
    private var reopenRequested = false
    private var stopping = false
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var outputsMutex = pthread_mutex_t()
    private var thread: pthread_t?

    public init(outputs: AlertOutputs, capacity: Int = 1 << 16) {
        self.outputs = outputs
        self.capacity = max(1, capacity)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
        pthread_mutex_init(&outputsMutex, nil)
        thread = Threads.start { [self] in run() }
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&outputsMutex)
    }

    /// Queues an alert; never waits for the disk.
    public func submit(_ alert: Alert) {
        pthread_mutex_lock(&mutex)
        if stopping || pending.count >= capacity {
            lost += 1
        } else {
            pending.append(alert)
            if pending.count == 1 { pthread_cond_signal(&changed) }
        }
        pthread_mutex_unlock(&mutex)
    }

    /// Log rotation: the files are reopened by name before the next alert is written.
    public func reopen() {
        pthread_mutex_lock(&mutex)
        reopenRequested = true
        pthread_cond_signal(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// Writes what is queued and stops the thread; alerts submitted afterwards are counted as
    /// lost. Safe to call more than once.
    public func finish() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_signal(&changed)
        let joining = thread
        thread = nil
        pthread_mutex_unlock(&mutex)
        if let joining { pthread_join(joining, nil) }
    }

    /// Alerts not written to at least one output: the outputs' own losses plus those the full
    /// queue turned away.
    public var alertsNotWritten: Int {
        let turnedAway = locked { lost }
        return withOutputs { $0.alertsNotWritten } + turnedAway
    }

    /// One line for the end of a run, nil when every alert was written.
    public var lossReport: String? {
        let turnedAway = locked { lost }
        var parts: [String] = []
        if let report = withOutputs({ $0.lossReport }) { parts.append(report) }
        if turnedAway > 0 { parts.append("\(turnedAway) alerts were turned away (the writer's queue was full: the disk did not keep up)") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The outputs, while the writer thread does not touch them (for their counters and the
    /// end-of-run checks).
    public func withOutputs<R>(_ body: (AlertOutputs) throws -> R) rethrows -> R {
        pthread_mutex_lock(&outputsMutex)
        defer { pthread_mutex_unlock(&outputsMutex) }
        return try body(outputs)
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    private func run() {
        var batch: [Alert] = []
        while true {
            pthread_mutex_lock(&mutex)
            while pending.isEmpty && !reopenRequested && !stopping { pthread_cond_wait(&changed, &mutex) }
            swap(&batch, &pending)
            let reopening = reopenRequested
            reopenRequested = false
            let done = stopping && batch.isEmpty
            pthread_mutex_unlock(&mutex)
            pthread_mutex_lock(&outputsMutex)
            if reopening { outputs.reopen() }
            for alert in batch { outputs.emit(alert) }
            if !batch.isEmpty { outputs.flush() }
            pthread_mutex_unlock(&outputsMutex)
            batch.removeAll(keepingCapacity: true)
            if done { return }
        }
    }
}
