import NetworkTypes
import Reassembly

/// The analysing thread's end of the replay hand-off: decodes each batch and makes the calls
/// the reassembler made, in the same order, on the real handlers (the HTTP stage).
final class StreamEventDispatcher {
    private let factory: TCPFlowHandlerFactory
    private let diagnostics: (String) -> Void
    private var handlers: [TCPFlowHandler?] = []
    private var flowIDs: [UInt64] = []
    private var ignored: [StreamEventQueue.IgnoredFlow] = []
    /// Flows the HTTP stage declined (not HTTP). The reassembler hears of them a few batches
    /// later, or not at all when the capture ends first, so this is the count to report.
    private(set) var flowsIgnored = 0

    init(factory: TCPFlowHandlerFactory, diagnostics: @escaping (String) -> Void) {
        self.factory = factory
        self.diagnostics = diagnostics
    }

    /// Flows found not to be HTTP since the last call, for the reading side.
    func takeIgnored() -> [StreamEventQueue.IgnoredFlow] {
        defer { ignored.removeAll(keepingCapacity: true) }
        return ignored
    }

    func dispatch(_ batch: StreamEventQueue.Batch) {
        var offset = 0
        let base = batch.storage
        while offset < batch.used {
            // The writer lays records end to end, each a header and, for data, its bytes padded
            // to 8: a record that runs past what was written is a writer bug, not input.
            assert(offset & 7 == 0 && offset + StreamEventRecord.headerSize <= batch.used, "stream event record header past the batch at \(offset)")
            let p = base + offset
            let kind = StreamEventRecord.Kind(rawValue: p.load(as: UInt8.self))
            let direction = FlowDirection(rawValue: p.load(fromByteOffset: 1, as: UInt8.self)) ?? .fromInitiator
            let code = p.load(fromByteOffset: 2, as: UInt8.self)
            let slot = Int(p.load(fromByteOffset: 4, as: UInt32.self))
            let time = Timestamp(microseconds: p.load(fromByteOffset: 8, as: Int64.self))
            let value = Int(p.load(fromByteOffset: 16, as: Int64.self))
            offset += StreamEventRecord.headerSize
            switch kind {
            case .open:
                assert(value >= 0 && value < batch.descriptors.count, "stream event: open names descriptor \(value) of \(batch.descriptors.count)")
                let descriptor = batch.descriptors[value]
                while handlers.count <= slot {
                    handlers.append(nil)
                    flowIDs.append(0)
                }
                flowIDs[slot] = descriptor.id
                handlers[slot] = factory.makeHandler(for: descriptor)
                if handlers[slot] == nil {
                    flowsIgnored += 1
                    ignored.append(.init(slot: UInt32(slot), id: descriptor.id))
                }
            case .receive:
                assert(value >= 0 && offset + value <= batch.used, "stream event: \(value) data bytes past the batch at \(offset)")
                assert(slot < handlers.count, "stream event: data for slot \(slot) never opened")
                let bytes = UnsafeRawBufferPointer(start: p + StreamEventRecord.headerSize, count: value)
                offset += (value + 7) & ~7
                if let handler = handlers[slot], handler.receive(bytes, direction: direction, at: time) == .ignoreFlow {
                    // As the reassembler does: the handler is let go without a close.
                    handlers[slot] = nil
                    flowsIgnored += 1
                    ignored.append(.init(slot: UInt32(slot), id: flowIDs[slot]))
                }
            case .gap:
                handlers[slot]?.gap(value, direction: direction, at: time)
            case .anomaly:
                handlers[slot]?.anomaly(StreamAnomaly(rawValue: code) ?? .outsideWindow, direction: direction, at: time)
            case .halfClosed:
                handlers[slot]?.halfClosed(direction, reason: HalfCloseReason(rawValue: code) ?? .reset, at: time)
            case .closed:
                let handler = handlers[slot]
                handlers[slot] = nil
                handler?.closed(reason: FlowEndReason(rawValue: code) ?? .captureEnded, at: time)
            case .dropped:
                handlers[slot] = nil
            case .message:
                diagnostics(batch.messages[value])
            case nil:
                preconditionFailure("corrupt stream event batch at offset \(offset)")
            }
        }
    }
}
