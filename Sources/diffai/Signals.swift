import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGHUP arrives asynchronously; the handler only raises a flag that the pipeline polls
/// between packets (nothing else is async-signal-safe).
let hangupRequested = Atomic<Bool>(false)
/// SIGINT or SIGTERM: finish what is queued and exit.
let stopRequested = Atomic<Bool>(false)

enum Signals {
    static func installHangupFlag() {
        signal(SIGHUP) { _ in hangupRequested.store(true, ordering: .relaxed) }
        unblock(SIGHUP)
    }

    /// A process inherits its parent's blocked-signal mask (supervisors and test runners block
    /// some); a signal diffai handles must be deliverable.
    static func unblock(_ signalNumber: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signalNumber)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static func installStopFlag() {
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        unblock(SIGINT)
        unblock(SIGTERM)
    }

    static var stopping: Bool { stopRequested.load(ordering: .relaxed) }

    /// True once per SIGHUP received.
    static func takeHangup() -> Bool {
        hangupRequested.exchange(false, ordering: .relaxed)
    }
}
