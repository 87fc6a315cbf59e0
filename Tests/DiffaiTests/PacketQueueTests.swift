import Capture
import Foundation
import NetworkTypes
import Pipeline
import Testing
import TestSupport

/// The monitor's hand-off from the capture thread: the consumer is woken once per batch of
/// packets (`publish`), and a full queue drops instead of waiting.
@Suite struct PacketQueueTests {
    private func push(_ queue: PacketQueue, _ bytes: [UInt8], number: Int = 1) {
        bytes.withUnsafeBytes {
            queue.push(CapturedFrame(number: number, timestamp: Timestamp(microseconds: 7), wireLength: bytes.count, bytes: $0))
        }
    }

    @Test func publishWakesASleepingConsumerWithTheWholeBatch() throws {
        let queue = PacketQueue(capacityBytes: 1 << 16)
        let received = Received()
        let started = Date()
        let consumer = Thread {
            // A long timeout: only `publish` can end the wait early.
            _ = queue.drain(timeoutMilliseconds: 5_000) { received.add($0.bytes.count) }
            received.finish(after: Date().timeIntervalSince(started))
        }
        consumer.start()
        usleep(200_000)  // the consumer is asleep now
        for n in 1...3 { push(queue, [UInt8](repeating: 1, count: 100 * n), number: n) }
        queue.publish()
        let waited = try #require(received.waitForFinish())
        #expect(waited < 2.5)
        #expect(received.sizes == [100, 200, 300])
    }

    @Test func aFullQueueDropsAndCounts() {
        let queue = PacketQueue(capacityBytes: 1 << 16)
        for _ in 0..<100 { push(queue, [UInt8](repeating: 2, count: 1_000)) }
        #expect(queue.enqueuedPackets + queue.droppedPackets == 100)
        #expect(queue.droppedPackets > 0)
        var count = 0
        _ = queue.drain(timeoutMilliseconds: 10) { _ in count += 1 }
        #expect(count == queue.enqueuedPackets)
    }
}

private final class Received: @unchecked Sendable {
    private let lock = NSCondition()
    private(set) var sizes: [Int] = []
    private var elapsed: Double?

    func add(_ size: Int) { lock.withLock { sizes.append(size) } }

    func finish(after seconds: Double) {
        lock.withLock {
            elapsed = seconds
            lock.broadcast()
        }
    }

    func waitForFinish() -> Double? {
        lock.withLock {
            let deadline = Date().addingTimeInterval(10)
            while elapsed == nil && lock.wait(until: deadline) {}
            return elapsed
        }
    }
}
