import NetworkTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Follows key log files as the server appends to them (the monitor: new sessions' secrets
/// arrive while it runs), feeding complete lines to a `KeyLogStore` from a thread of its own.
/// A file that shrinks (rotated, truncated) is read again from its start; a file that does not
/// exist yet is waited for.
public final class KeyLogFollower: @unchecked Sendable {
    // Sendable because the files are read under their mutex, `stopping` is an atomic, and
    // `thread` is set in `init` and cleared by `stop`, which the owner calls once.
    private let store: KeyLogStore
    /// Polled by the follower thread, and by a decrypting thread through `KeyLogStore.refresh`.
    private let files: Mutex<[Followed]>
    private let stopping = Atomic<Bool>(false)
    private var thread: pthread_t?
    private let intervalMicroseconds: UInt32

    private struct Followed {
        let path: String
        var offset = 0
        /// A last line without its newline yet.
        var partial: [UInt8] = []
    }

    /// Reads what the files hold now (on the caller's thread, so secrets already written are
    /// there before the first packet), then follows them every `interval` seconds.
    public init(paths: [String], store: KeyLogStore, interval: Double = 0.05) {
        self.store = store
        files = Mutex(paths.map { Followed(path: $0) })
        intervalMicroseconds = UInt32(max(0.005, interval) * 1_000_000)
        poll()
        store.setRefresher { [weak self] in self?.poll() }
        thread = Threads.start { [self] in
            while !stopping.load(ordering: .relaxed) {
                usleep(intervalMicroseconds)
                poll()
            }
        }
    }

    public func stop() {
        store.setRefresher(nil)
        stopping.store(true, ordering: .relaxed)
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    private func poll() {
        files.withLock { files in
            for index in files.indices { poll(&files[index]) }
        }
    }

    private func poll(_ file: inout Followed) {
        var info = stat()
        guard stat(file.path, &info) == 0 else { return }
        if Int(info.st_size) < file.offset {
            file.offset = 0
            file.partial = []
        }
        guard Int(info.st_size) > file.offset else { return }
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var block = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(file.offset)) }
            guard count > 0 else { return }
            file.offset += count
            file.partial += block[0..<count]
            let consumed = store.read(file.partial)
            file.partial.removeFirst(consumed)
            // A line longer than any key log line is not one: let it go.
            if file.partial.count > 4096 { file.partial = [] }
        }
    }
}
