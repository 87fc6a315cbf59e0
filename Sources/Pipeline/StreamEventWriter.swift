import NetworkTypes
import Reassembly

/// The reading thread's end of the replay hand-off: stands in for the HTTP stage as the
/// reassembler's handler factory and writes every handler call into the current batch.
///
/// Each open flow holds a small slot number, reused after the flow closes, so the analysing
/// side finds its handler by index instead of hashing.
final class StreamEventWriter: TCPFlowHandlerFactory {
    private let queue: StreamEventQueue
    private var batch: StreamEventQueue.Batch
    // The current batch's memory, kept here: going through the batch object on every write
    // costs a retain and a release each time.
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    private var slots: [QueuedFlowHandler?] = []
    private var freeSlots: [UInt32] = []

    init(queue: StreamEventQueue) {
        self.queue = queue
        batch = queue.exchange(nil).0
        storage = batch.storage
        capacity = batch.capacity
    }

    func makeHandler(for flow: FlowDescriptor) -> TCPFlowHandler? {
        let slot: UInt32
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            slot = UInt32(slots.count)
            slots.append(nil)
        }
        let handler = QueuedFlowHandler(slot: slot, id: flow.id, writer: self)
        slots[Int(slot)] = handler
        makeRoom(payload: 0)
        let index = batch.descriptors.count
        batch.descriptors.append(flow)
        writeHeader(.open, slot: slot, value: Int64(index))
        return handler
    }

    /// A diagnostic, delivered in order with the traffic around it.
    func message(_ text: String) {
        makeRoom(payload: 0)
        let index = batch.messages.count
        batch.messages.append(text)
        writeHeader(.message, slot: 0, value: Int64(index))
    }

    /// No more events: hands over the last batch.
    func finish() {
        batch.used = used
        queue.finish(batch)
    }

    // MARK: - Handler calls

    fileprivate func receive(_ handler: QueuedFlowHandler, _ bytes: UnsafeRawBufferPointer, _ direction: FlowDirection, _ time: Timestamp) {
        var rest = bytes
        // Stream bytes can be split anywhere: a delivery larger than the room left in a batch
        // continues in the next one.
        while !rest.isEmpty {
            makeRoom(payload: min(rest.count, 1024))
            let room = capacity - used - StreamEventRecord.headerSize
            let n = min(rest.count, room & ~7)
            writeHeader(.receive, slot: handler.slot, direction: direction, time: time, value: Int64(n))
            (storage + used).copyMemory(from: rest.baseAddress!, byteCount: n)
            used += (n + 7) & ~7
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    fileprivate func event(_ kind: StreamEventRecord.Kind, _ handler: QueuedFlowHandler, direction: FlowDirection = .fromInitiator,
                           code: UInt8 = 0, time: Timestamp, value: Int64 = 0) {
        makeRoom(payload: 0)
        writeHeader(kind, slot: handler.slot, direction: direction, code: code, time: time, value: value)
        if kind == .closed || kind == .dropped { release(handler) }
    }

    private func release(_ handler: QueuedFlowHandler) {
        slots[Int(handler.slot)] = nil
        freeSlots.append(handler.slot)
    }

    // MARK: - Batches

    /// Exchanges the current batch for an empty one when the record would not fit.
    @inline(__always)
    private func makeRoom(payload: Int) {
        if used + StreamEventRecord.paddedSize(payload) > capacity { exchangeBatch() }
    }

    private func exchangeBatch() {
        batch.used = used
        let (fresh, ignored) = queue.exchange(batch)
        batch = fresh
        storage = fresh.storage
        capacity = fresh.capacity
        used = 0
        for flow in ignored {
            if Int(flow.slot) < slots.count, let handler = slots[Int(flow.slot)], handler.id == flow.id {
                handler.ignored = true
            }
        }
    }

    private func writeHeader(_ kind: StreamEventRecord.Kind, slot: UInt32, direction: FlowDirection = .fromInitiator,
                             code: UInt8 = 0, time: Timestamp = .zero, value: Int64) {
        let p = storage + used
        p.storeBytes(of: kind.rawValue, as: UInt8.self)
        p.storeBytes(of: direction.rawValue, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: code, toByteOffset: 2, as: UInt8.self)
        p.storeBytes(of: slot, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: time.microseconds, toByteOffset: 8, as: Int64.self)
        p.storeBytes(of: value, toByteOffset: 16, as: Int64.self)
        used += StreamEventRecord.headerSize
    }
}

/// What the reassembler holds for each flow during a threaded replay.
private final class QueuedFlowHandler: TCPFlowHandler {
    let slot: UInt32
    let id: UInt64
    /// The writer outlives every handler it made.
    unowned(unsafe) let writer: StreamEventWriter
    /// The analysing side found the stream is not HTTP.
    var ignored = false

    init(slot: UInt32, id: UInt64, writer: StreamEventWriter) {
        self.slot = slot
        self.id = id
        self.writer = writer
    }

    func receive(_ bytes: UnsafeRawBufferPointer, direction: FlowDirection, at time: Timestamp) -> StreamVerdict {
        if ignored {
            // The reassembler forgets this handler now; the analysing side forgets the slot.
            writer.event(.dropped, self, time: time)
            return .ignoreFlow
        }
        writer.receive(self, bytes, direction, time)
        return .keepGoing
    }

    func gap(_ length: Int, direction: FlowDirection, at time: Timestamp) {
        writer.event(.gap, self, direction: direction, time: time, value: Int64(length))
    }

    func anomaly(_ anomaly: StreamAnomaly, direction: FlowDirection, at time: Timestamp) {
        writer.event(.anomaly, self, direction: direction, code: anomaly.rawValue, time: time)
    }

    func halfClosed(_ direction: FlowDirection, reason: HalfCloseReason, at time: Timestamp) {
        writer.event(.halfClosed, self, direction: direction, code: reason.rawValue, time: time)
    }

    func closed(reason: FlowEndReason, at time: Timestamp) {
        writer.event(.closed, self, code: reason.rawValue, time: time)
    }
}
