import NetworkTypes
import Reassembly

/// TCP reassembly: segment sequences on a few 4-tuples (flags, sequence offsets, payloads),
/// under small bounds. The handler checks what every consumer relies on: bytes arrive in order,
/// nothing after close.
final class CheckingHandler: TCPFlowHandler {
    var closed = false
    func receive(_ bytes: UnsafeRawBufferPointer, direction: FlowDirection, at time: Timestamp) -> StreamVerdict {
        precondition(!closed, "no bytes after close")
        return bytes.first == 0x16 ? .ignoreFlow : .keepGoing
    }
    func gap(_ length: Int, direction: FlowDirection, at time: Timestamp) {
        precondition(length > 0 && !closed, "a gap is positive and comes before close")
    }
    func anomaly(_ anomaly: StreamAnomaly, direction: FlowDirection, at time: Timestamp) {}
    func halfClosed(_ direction: FlowDirection, reason: HalfCloseReason, at time: Timestamp) {}
    func closed(reason: FlowEndReason, at time: Timestamp) {
        precondition(!closed, "closed once")
        closed = true
    }
}

final class CheckingFactory: TCPFlowHandlerFactory {
    func makeHandler(for flow: FlowDescriptor) -> TCPFlowHandler? { flow.id % 7 == 3 ? nil : CheckingHandler() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTCP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    var limits = TCPReassembler.Limits()
    limits.maxFlows = 4
    limits.maxPendingBytesPerStream = 2048
    limits.maxPendingBytesTotal = 4096
    limits.idleTimeoutSeconds = 5
    let reassembler = TCPReassembler(limits: limits, factory: CheckingFactory())
    let hosts = [IPAddress("10.0.0.1")!, IPAddress("10.0.0.2")!, IPAddress("2001:db8::1")!]
    let isn: [UInt32] = [1000, 0xFFFF_FF00, 7]
    var time: Int64 = 1_000_000
    while !input.isAtEnd {
        let control = input.byte()
        let flags = TCPFlags(rawValue: input.byte() & 0x3F)
        let client = Endpoint(address: hosts[Int(control & 1)], port: 40000 + UInt16(control >> 1 & 3))
        let server = Endpoint(address: hosts[2], port: 80)
        let fromClient = control & 0x20 == 0
        let base = isn[Int(control >> 6) % isn.count]
        let sequence = base &+ UInt32(input.uint16()) &- 100
        let acknowledgment = isn[Int(control >> 3 & 1)] &+ UInt32(input.uint16())
        let payload = input.take(Int(input.byte()))
        let missing = UInt32(input.byte() & 0x0F)
        time += Int64(input.byte()) * 100_000
        payload.withUnsafeBytes { raw in
            reassembler.process(TCPSegment(timestamp: Timestamp(microseconds: time), source: fromClient ? client : server,
                                           destination: fromClient ? server : client, sequence: sequence, acknowledgment: acknowledgment,
                                           flags: flags, window: input.uint16(), windowScale: flags.contains(.syn) ? input.byte() % 16 : nil,
                                           payload: raw, missingPayloadBytes: missing))
        }
        precondition(reassembler.pendingBytesTotal >= 0 && reassembler.pendingBytesTotal <= limits.maxPendingBytesTotal,
                     "out-of-order bytes within their bound")
        precondition(reassembler.activeFlows <= limits.maxFlows, "flows within their bound")
    }
    reassembler.finish(at: Timestamp(microseconds: time + 1))
    precondition(reassembler.pendingBytesTotal == 0 && reassembler.activeFlows == 0, "finish releases everything")
    return 0
}
