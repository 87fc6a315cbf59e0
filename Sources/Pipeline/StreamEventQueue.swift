import Reassembly

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replay's hand-off between its two threads: the reading thread (libpcap, decoding, TCP
/// reassembly) fills batches with stream events in capture order; the analysing thread (HTTP,
/// detection, output) takes them in the same order. A fixed set of batches circulates, so
/// memory is bounded and nothing is lost: a reader that gets ahead waits for a free batch.
///
/// The only message going back is which flows the analysing side found not to be HTTP, so the
/// reassembler can stop buffering them; it rides on the batches returned.
///
/// Sendable because its free and full lists are read and written under `mutex`, and a
/// batch belongs to one side at a time (taken from one list, put on the other).
final class StreamEventQueue: @unchecked Sendable {
    /// One batch of encoded events (see `StreamEventRecord`), plus the few values that are
    /// not bytes: descriptors of flows that opened and diagnostics, referenced by index.
    final class Batch {
        let capacity: Int
        let storage: UnsafeMutableRawPointer
        var used = 0
        var descriptors: [FlowDescriptor] = []
        var messages: [String] = []

        init(capacity: Int) {
            self.capacity = capacity
            storage = .allocate(byteCount: capacity, alignment: 8)
        }

        deinit { storage.deallocate() }

        var isEmpty: Bool { used == 0 }

        func reset() {
            used = 0
            descriptors.removeAll(keepingCapacity: true)
            messages.removeAll(keepingCapacity: true)
        }
    }

    /// A flow the analysing side gave up on: its slot and its id (slots are reused).
    struct IgnoredFlow {
        var slot: UInt32
        var id: UInt64
    }

    private var free: [Batch]
    private var full: [Batch] = []
    private var fullHead = 0
    private var finished = false
    private var ignored: [IgnoredFlow] = []
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()

    /// A few batches of a few hundred kilobytes: enough to keep both threads busy, small
    /// enough that the bytes are still in cache when the analysing thread reads them.
    init(batchBytes: Int = 256 << 10, batches: Int = 8) {
        free = (0..<max(2, batches)).map { _ in Batch(capacity: max(4096, batchBytes)) }
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&changed)
    }

    /// Reading side: hands over a filled batch (if any) and waits for an empty one. Also
    /// returns the flows the analysing side ignored since the last call.
    func exchange(_ filled: Batch?) -> (Batch, [IgnoredFlow]) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let filled {
            full.append(filled)
            pthread_cond_broadcast(&changed)
        }
        while free.isEmpty { pthread_cond_wait(&changed, &mutex) }
        let batch = free.removeLast()
        let news = ignored
        ignored.removeAll(keepingCapacity: true)
        return (batch, news)
    }

    /// Reading side: the last batch; nothing follows.
    func finish(_ last: Batch) {
        pthread_mutex_lock(&mutex)
        if !last.isEmpty { full.append(last) } else { free.append(last) }
        finished = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// Analysing side: gives back the batch it is done with, reports flows to ignore, and
    /// waits for the next batch. Nil once the reading side finished and everything was taken.
    func next(returning done: Batch?, ignoring flows: [IgnoredFlow]) -> Batch? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let done {
            done.reset()
            free.append(done)
        }
        if !flows.isEmpty { ignored.append(contentsOf: flows) }
        if done != nil || !flows.isEmpty { pthread_cond_broadcast(&changed) }
        while fullHead == full.count && !finished { pthread_cond_wait(&changed, &mutex) }
        guard fullHead < full.count else { return nil }
        let batch = full[fullHead]
        fullHead += 1
        if fullHead == full.count {
            full.removeAll(keepingCapacity: true)
            fullHead = 0
        }
        return batch
    }
}

/// The layout of one event in a batch: a 24-byte header, then for `receive` the stream bytes
/// padded to 8. Header: kind (1), direction (1), code (1), unused (1), slot (4), time in
/// microseconds (8), value (8: byte count, gap length, or an index into the batch's arrays).
/// Direction and code are the raw values of the Reassembly enums.
enum StreamEventRecord {
    static let headerSize = 24

    enum Kind: UInt8 {
        case open = 1, receive, gap, anomaly, halfClosed, closed, dropped, message
    }

    static func paddedSize(_ count: Int) -> Int { headerSize + ((count + 7) & ~7) }
}
