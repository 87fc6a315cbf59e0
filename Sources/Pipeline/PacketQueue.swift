import Capture
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The hand-off between the capture thread and analysis: a byte ring holding copies of
/// packets. The capture thread never waits: when the ring is full the packet is counted as
/// dropped by diffai, so a slow analysis can never push back on the kernel or the web server.
/// One producer, one consumer; the consumer takes everything written so far in one go. The
/// producer wakes the consumer once per batch of packets (`publish`), never per packet.
/// Sendable because every mutable property is read and written under `mutex`, and each side
/// touches only its own region of the ring between taking and releasing it.
public final class PacketQueue: @unchecked Sendable {
    private let capacity: Int
    private let storage: UnsafeMutableRawPointer
    private var writeOffset = 0     // producer's, under the lock
    private var readOffset = 0      // consumer's, under the lock
    private var used = 0
    private var closed = false
    private var consumerWaiting = false
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    public private(set) var droppedPackets = 0
    public private(set) var droppedBytes = 0
    public private(set) var enqueuedPackets = 0

    /// Record: timestamp µs (8), wire length (4), captured length (4), bytes padded to 8. A
    /// record never wraps: where the next one does not fit before the end, a wire length of -1
    /// (or a tail shorter than a header) marks the rest of the ring as skipped.
    ///
    /// Invariants (under the lock): `0 <= used <= capacity`; offsets are multiples of 8 below
    /// `capacity`; the consumer reads only `[readOffset, readOffset + used)`, the producer writes
    /// only outside it.
    static let headerSize = 16

    public init(capacityBytes: Int) {
        capacity = max(1 << 16, capacityBytes) & ~7
        storage = .allocate(byteCount: capacity, alignment: 8)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        storage.deallocate()
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&condition)
    }

    private static func recordSize(_ length: Int) -> Int { headerSize + ((length + 7) & ~7) }

    /// Producer: copies the frame in, or counts it dropped. Never blocks on the consumer.
    public func push(_ frame: CapturedFrame) {
        let size = Self.recordSize(frame.bytes.count)
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        // A record never wraps: if it does not fit before the end, the tail is skipped.
        let tail = capacity - writeOffset
        let needed = tail >= size ? size : tail + size
        guard size <= capacity, used + needed <= capacity else {
            droppedPackets += 1
            droppedBytes += frame.wireLength
            return
        }
        if tail < size {
            if tail >= Self.headerSize { storage.storeBytes(of: Int32(-1), toByteOffset: writeOffset + 8, as: Int32.self) }
            used += tail
            writeOffset = 0
        }
        storage.storeBytes(of: frame.timestamp.microseconds, toByteOffset: writeOffset, as: Int64.self)
        storage.storeBytes(of: Int32(frame.wireLength), toByteOffset: writeOffset + 8, as: Int32.self)
        storage.storeBytes(of: Int32(frame.bytes.count), toByteOffset: writeOffset + 12, as: Int32.self)
        if let base = frame.bytes.baseAddress {
            (storage + writeOffset + Self.headerSize).copyMemory(from: base, byteCount: frame.bytes.count)
        }
        writeOffset = (writeOffset + size) % capacity
        used += size
        assert(used <= capacity && writeOffset & 7 == 0, "PacketQueue: ring accounting broken (used \(used) of \(capacity))")
        enqueuedPackets += 1
    }

    /// Producer: wakes the consumer if it sleeps and packets are waiting.
    public func publish() {
        pthread_mutex_lock(&mutex)
        if consumerWaiting && used > 0 { pthread_cond_signal(&condition) }
        pthread_mutex_unlock(&mutex)
    }

    /// Producer: no more packets will come.
    public func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Consumer: waits up to `timeoutMilliseconds` for packets, then hands each queued one to
    /// `body` (bytes valid during the call). Returns false once closed and empty.
    public func drain(timeoutMilliseconds: Int, _ body: (CapturedFrame) -> Void) -> Bool {
        pthread_mutex_lock(&mutex)
        if used == 0 && !closed {
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_nsec += timeoutMilliseconds % 1000 * 1_000_000
            deadline.tv_sec += timeoutMilliseconds / 1000 + deadline.tv_nsec / 1_000_000_000
            deadline.tv_nsec %= 1_000_000_000
            consumerWaiting = true
            pthread_cond_timedwait(&condition, &mutex, &deadline)
            consumerWaiting = false
        }
        let available = used
        let start = readOffset
        let finished = closed && used == 0
        pthread_mutex_unlock(&mutex)
        if finished { return false }

        // The region [start, start + available) is ours until we release it below.
        var offset = start
        var consumed = 0
        var number = 0
        while consumed < available {
            let tail = capacity - offset
            if tail < Self.headerSize || storage.load(fromByteOffset: offset + 8, as: Int32.self) == -1 {
                consumed += tail
                offset = 0
                continue
            }
            let micros = storage.load(fromByteOffset: offset, as: Int64.self)
            let wire = Int(storage.load(fromByteOffset: offset + 8, as: Int32.self))
            let length = Int(storage.load(fromByteOffset: offset + 12, as: Int32.self))
            assert(length >= 0 && offset + Self.recordSize(length) <= capacity && consumed + Self.recordSize(length) <= available,
                   "PacketQueue: record of \(length) bytes at \(offset) runs past what was written")
            number += 1
            body(CapturedFrame(number: number, timestamp: Timestamp(microseconds: micros), wireLength: wire,
                               bytes: UnsafeRawBufferPointer(start: storage + offset + Self.headerSize, count: length)))
            let size = Self.recordSize(length)
            consumed += size
            offset = (offset + size) % capacity
        }
        assert(consumed == available, "PacketQueue: consumed \(consumed) of the \(available) bytes taken")
        pthread_mutex_lock(&mutex)
        readOffset = offset
        used -= consumed
        pthread_mutex_unlock(&mutex)
        return true
    }
}
