#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The two clocks the program reads: wall time for what it reports (when a request arrived,
/// when an alert or a model was made) and monotonic time for durations, rates and deadlines,
/// which must not jump when the wall clock is stepped.
public enum SystemClock {
    /// Wall-clock time now.
    public static func now() -> Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(seconds: Int64(time.tv_sec), microseconds: Int64(time.tv_nsec / 1000))
    }

    /// Seconds on the monotonic clock (an arbitrary origin: only differences mean anything).
    public static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
