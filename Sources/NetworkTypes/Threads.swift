#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain threads, for work that blocks (the capture loop in libpcap, the replay reader, a
/// training run, a demo backend's sockets) and so must not sit on a shared pool or an event loop.
public enum Threads {
    /// A thread to be joined. The few the program starts, it starts at the beginning of a run:
    /// a system that cannot make one cannot run it, and says so.
    public static func start(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let result = pthread_create(&thread, nil, Body.run, box)
        precondition(result == 0, "cannot start a thread: \(String(cString: strerror(result)))")
        return thread
    }

    /// A thread that cleans up after itself. When the system cannot make one (out of
    /// resources), the work runs on the caller's thread instead: late, but not lost.
    public static func detach(_ body: @escaping @Sendable () -> Void) {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        if pthread_create(&thread, nil, Body.run, box) == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Body>.fromOpaque(box).takeRetainedValue().body()
        }
    }

    private final class Body: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }

        static let run: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }
    }
}
