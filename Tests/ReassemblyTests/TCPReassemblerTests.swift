import NetworkTypes
import Reassembly
import Testing
import TestSupport

/// Records what reassembly delivers, per direction.
final class RecordingHandler: TCPFlowHandler {
    var data: [FlowDirection: [UInt8]] = [.fromInitiator: [], .fromResponder: []]
    var events: [String] = []
    var gaps: [Int] = []
    var anomalies: [StreamAnomaly] = []
    var closedReason: FlowEndReason?
    var verdict: StreamVerdict = .keepGoing

    func receive(_ bytes: UnsafeRawBufferPointer, direction: FlowDirection, at time: Timestamp) -> StreamVerdict {
        data[direction, default: []].append(contentsOf: bytes)
        return verdict
    }
    func gap(_ length: Int, direction: FlowDirection, at time: Timestamp) { gaps.append(length); events.append("gap \(length)") }
    func anomaly(_ anomaly: StreamAnomaly, direction: FlowDirection, at time: Timestamp) { anomalies.append(anomaly) }
    func halfClosed(_ direction: FlowDirection, reason: HalfCloseReason, at time: Timestamp) { events.append("half \(direction) \(reason)") }
    func closed(reason: FlowEndReason, at time: Timestamp) { closedReason = reason; events.append("closed \(reason)") }

    var clientText: String { String(decoding: data[.fromInitiator]!, as: UTF8.self) }
}

final class RecordingFactory: TCPFlowHandlerFactory {
    var handlers: [RecordingHandler] = []
    var descriptors: [FlowDescriptor] = []
    func makeHandler(for flow: FlowDescriptor) -> TCPFlowHandler? {
        let handler = RecordingHandler()
        handlers.append(handler)
        descriptors.append(flow)
        return handler
    }
}

/// Builds segments for one connection without going through a capture file.
struct SegmentScript {
    let client = Endpoint(address: IPAddress("10.1.1.1")!, port: 40000)
    let server = Endpoint(address: IPAddress("10.1.1.2")!, port: 80)
    var time: Int64 = 1_000_000
    let clientISN: UInt32 = 0xFFFF_FF00  // wraps around 2^32 early: sequence arithmetic must cope
    let serverISN: UInt32 = 7000

    mutating func segment(fromClient: Bool = true, _ offset: UInt32, _ payload: String = "", flags: TCPFlags = [.ack],
                          ack: UInt32? = nil, into reassembler: TCPReassembler) {
        time += 10
        let isn = fromClient ? clientISN : serverISN
        let sequence = flags.contains(.syn) ? isn : isn &+ 1 &+ offset
        let acknowledgment = ack ?? (fromClient ? serverISN &+ 1 : clientISN &+ 1)
        let bytes = Array(payload.utf8)
        bytes.withUnsafeBytes { raw in
            reassembler.process(TCPSegment(
                timestamp: Timestamp(microseconds: time), source: fromClient ? client : server,
                destination: fromClient ? server : client, sequence: sequence, acknowledgment: acknowledgment,
                flags: flags, window: 65535, payload: raw))
        }
    }

    mutating func handshake(_ reassembler: TCPReassembler) {
        segment(0, flags: .syn, ack: 0, into: reassembler)
        segment(fromClient: false, 0, flags: [.syn, .ack], into: reassembler)
        segment(0, into: reassembler)
    }
}

@Suite struct TCPReassemblerTests {
    func make(_ configure: (inout TCPReassembler.Limits) -> Void = { _ in }) -> (TCPReassembler, RecordingFactory) {
        let factory = RecordingFactory()
        var limits = TCPReassembler.Limits()
        configure(&limits)
        return (TCPReassembler(limits: limits, factory: factory), factory)
    }

    @Test func inOrderDataAcrossSequenceWrap() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "GET / HTTP/1.1\r\n", into: r)
        s.segment(16, "Host: a\r\n\r\n", into: r)
        #expect(f.handlers[0].clientText == "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(f.descriptors[0].initiator == s.client)
        #expect(f.descriptors[0].sawHandshake)
    }

    @Test func outOfOrderSegmentsAreReordered() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(6, "world", into: r)
        s.segment(11, "!", into: r)
        #expect(f.handlers[0].clientText.isEmpty)
        s.segment(0, "hello ", into: r)
        #expect(f.handlers[0].clientText == "hello world!")
        #expect(r.statistics.outOfOrderSegments == 2)
        #expect(r.pendingBytesTotal == 0)
    }

    @Test func identicalRetransmissionsAreDeliveredOnce() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "abc", into: r)
        s.segment(0, "abc", into: r)
        s.segment(3, "def", into: r)
        s.segment(0, "abcdef", into: r)
        #expect(f.handlers[0].clientText == "abcdef")
        #expect(r.statistics.retransmissions == 2)
        #expect(f.handlers[0].anomalies.isEmpty)
    }

    @Test func deliveredBytesAreNeverReplaced() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "abcd", into: r)
        s.segment(2, "XXYY", into: r)  // 2..<4 already delivered: the old bytes stay, "YY" is new
        #expect(f.handlers[0].clientText == "abcdYY")
    }

    @Test func queuedSegmentKeepsBytesAgainstPartialOverlap() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(4, "EFGH", into: r)   // queued first
        s.segment(6, "xxIJ", into: r)   // overlaps its tail: queued bytes win for 6..<8
        s.segment(0, "ABCD", into: r)
        #expect(f.handlers[0].clientText == "ABCDEFGHIJ")
        #expect(f.handlers[0].anomalies == [.overlapConflict])
    }

    @Test func coveringSegmentReplacesQueuedOne() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(6, "yy", into: r)       // queued
        s.segment(4, "EFGHIJ", into: r)   // starts earlier, covers it entirely: replaces it
        s.segment(0, "ABCD", into: r)
        #expect(f.handlers[0].clientText == "ABCDEFGHIJ")
        #expect(r.statistics.overlapConflicts == 1)
    }

    @Test func sameStartLongerSegmentReplacesQueuedOne() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(4, "zz", into: r)
        s.segment(4, "EFGH", into: r)
        s.segment(0, "ABCD", into: r)
        #expect(f.handlers[0].clientText == "ABCDEFGH")
    }

    @Test func inOrderBytesWinOverQueuedOnes() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(2, "zzEF", into: r)
        s.segment(0, "ABCD", into: r)
        #expect(f.handlers[0].clientText == "ABCDEF")
        #expect(f.handlers[0].anomalies == [.overlapConflict])
    }

    @Test func midstreamPickupGuessesClientByPort() {
        let (r, f) = make()
        var s = SegmentScript()
        s.segment(fromClient: false, 100, "HTTP/1.1 200 OK\r\n", into: r)
        s.segment(200, "GET /x HTTP/1.1\r\n", into: r)
        #expect(f.descriptors[0].initiator == s.client)
        #expect(!f.descriptors[0].sawHandshake)
        #expect(f.handlers[0].clientText == "GET /x HTTP/1.1\r\n")
    }

    @Test func bareAcksAndStrayResetsCreateNoFlow() {
        let (r, _) = make()
        var s = SegmentScript()
        s.segment(0, into: r)
        s.segment(0, flags: [.rst], into: r)
        s.segment(0, flags: [.fin, .ack], into: r)
        #expect(r.activeFlows == 0)
        #expect(r.statistics.segmentsWithoutFlow == 3)
    }

    @Test func peerAcknowledgementRevealsLostSegment() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "aaaa", into: r)
        s.segment(8, "cccc", into: r)   // 4..<8 never captured
        #expect(f.handlers[0].clientText == "aaaa")
        s.segment(fromClient: false, 0, ack: s.clientISN &+ 1 &+ 12, into: r)
        #expect(f.handlers[0].clientText == "aaaacccc")
        #expect(f.handlers[0].gaps == [4])
    }

    @Test func pendingLimitForcesGap() {
        // One 10-byte segment costs 10 + 64 (the per-segment overhead); a second one is over.
        let (r, f) = make { $0.maxPendingBytesPerStream = 10 + 64 }
        var s = SegmentScript()
        s.handshake(r)
        s.segment(100, "0123456789", into: r)
        #expect(f.handlers[0].clientText.isEmpty)
        s.segment(110, "A", into: r)
        #expect(f.handlers[0].gaps == [100])
        #expect(f.handlers[0].clientText == "0123456789A")
        #expect(r.pendingBytesTotal == 0)
    }

    /// A segment that cannot be held even with the pool empty is delivered past its hole:
    /// inspected after a gap, never dropped unseen.
    @Test func globalPendingLimitIsEnforced() {
        let (r, f) = make { $0.maxPendingBytesTotal = 8 }
        var s = SegmentScript()
        s.handshake(r)
        s.segment(100, "0123456789", into: r)
        #expect(r.statistics.pendingFlushes == 1)
        #expect(r.statistics.pendingFlushGapBytes == 100)
        #expect(r.pendingBytesTotal == 0)
        #expect(f.handlers[0].gaps == [100])
        #expect(f.handlers[0].clientText == "0123456789")
    }

    @Test func finClosesAfterAllDataDelivered() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(5, "world", flags: [.ack, .fin], into: r)
        #expect(f.handlers[0].closedReason == nil)
        s.segment(0, "hello", into: r)
        #expect(f.handlers[0].events.contains("half fromInitiator fin"))
        s.segment(fromClient: false, 0, flags: [.ack, .fin], into: r)
        #expect(f.handlers[0].closedReason == .closed)
        #expect(f.handlers[0].clientText == "helloworld")
    }

    @Test func resetMustHitTheExpectedSequence() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "abc", into: r)
        s.segment(500, flags: [.rst], into: r)  // forged: ignored as Linux would
        #expect(f.handlers[0].closedReason == nil)
        #expect(r.statistics.resetsIgnored == 1)
        s.segment(3, "def", into: r)
        s.segment(6, flags: [.rst], into: r)
        #expect(f.handlers[0].closedReason == .reset)
        #expect(f.handlers[0].clientText == "abcdef")
        s.segment(6, "late", into: r)  // after the reset: not part of any stream
        #expect(f.handlers[0].clientText == "abcdef")
        #expect(r.statistics.segmentsAfterClose == 1)
    }

    @Test func queuedDataIsDroppedOnReset() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "abc", into: r)
        s.segment(10, "never read", into: r)
        s.segment(3, flags: [.rst], into: r)
        #expect(f.handlers[0].clientText == "abc")
        #expect(f.handlers[0].closedReason == .reset)
        #expect(r.pendingBytesTotal == 0)
    }

    @Test func reusedFourTupleStartsNewFlow() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "one", into: r)
        // A new SYN with another ISN on an open flow: the old connection is gone.
        var t = SegmentScript()
        t.time = s.time + 100
        r.process(TCPSegment(timestamp: Timestamp(microseconds: t.time), source: t.client, destination: t.server,
                             sequence: 42, acknowledgment: 0, flags: .syn, window: 1024, payload: UnsafeRawBufferPointer(start: nil, count: 0)))
        #expect(f.handlers.count == 2)
        #expect(f.handlers[0].closedReason == .reused)
        #expect(f.descriptors[1].id != f.descriptors[0].id)
    }

    @Test func idleFlowsExpireByCaptureTime() {
        let (r, f) = make { $0.idleTimeoutSeconds = 1 }
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "abc", into: r)
        r.advanceTime(to: Timestamp(microseconds: s.time + 500_000))
        #expect(r.activeFlows == 1)
        r.advanceTime(to: Timestamp(microseconds: s.time + 1_500_000))
        #expect(r.activeFlows == 0)
        #expect(f.handlers[0].closedReason == .idleTimeout)
        #expect(r.statistics.flowsExpired == 1)
    }

    @Test func flowLimitEvictsLeastRecentlyActive() {
        let (r, f) = make { $0.maxFlows = 100 }
        for i in 0..<150 {
            let client = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: UInt16(10000 + i))
            let server = Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80)
            [UInt8]("GET".utf8).withUnsafeBytes { raw in
                r.process(TCPSegment(timestamp: Timestamp(microseconds: Int64(i)), source: client, destination: server,
                                     sequence: 1, acknowledgment: 1, flags: .ack, window: 100, payload: raw))
            }
        }
        #expect(r.activeFlows == 100)
        #expect(r.statistics.flowsEvicted == 50)
        #expect(f.handlers[0].closedReason == .evicted)
        #expect(f.handlers[149].closedReason == nil)
    }

    @Test func ignoredFlowStopsDelivery() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        f.handlers[0].verdict = .ignoreFlow
        s.segment(0, "\u{16}\u{03}\u{01}", into: r)
        s.segment(3, "more", into: r)
        #expect(f.handlers[0].data[.fromInitiator]!.count == 3)
        #expect(r.statistics.flowsIgnored == 1)
    }

    @Test func outOfWindowDataIsNotLetIn() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(10_000_000, "injected", into: r)
        #expect(r.statistics.outsideWindow == 1)
        #expect(f.handlers[0].anomalies == [.outsideWindow])
        #expect(r.pendingBytesTotal == 0)
    }

    @Test func finishFlushesHolesAsGaps() {
        let (r, f) = make()
        var s = SegmentScript()
        s.handshake(r)
        s.segment(0, "ab", into: r)
        s.segment(10, "kl", into: r)
        r.finish(at: Timestamp(microseconds: s.time + 1))
        #expect(f.handlers[0].clientText == "abkl")
        #expect(f.handlers[0].gaps == [8])
        #expect(f.handlers[0].closedReason == .captureEnded)
    }
}

/// The bounds are enforced on whoever has held the longest, never on the next connection.
@Suite struct TCPReassemblerFairnessTests {
    let server = Endpoint(address: IPAddress("10.1.1.2")!, port: 80)

    func send(_ r: TCPReassembler, port: UInt16, sequence: UInt32, _ payload: String = "", flags: TCPFlags = [.ack], time: Int64) {
        Array(payload.utf8).withUnsafeBytes { raw in
            r.process(TCPSegment(timestamp: Timestamp(microseconds: time), source: Endpoint(address: IPAddress("10.1.1.1")!, port: port),
                                 destination: server, sequence: sequence, acknowledgment: 1, flags: flags, window: 65535, payload: raw))
        }
    }

    /// Other connections fill the out-of-order pool; an attack whose segments then arrive out
    /// of order is still reassembled whole (the hostile review saw it dropped unseen).
    @Test func outOfOrderPoolFullOfOthersStillTakesTheNextAttack() {
        let factory = RecordingFactory()
        var limits = TCPReassembler.Limits()
        limits.maxPendingBytesTotal = 20_000
        let r = TCPReassembler(limits: limits, factory: factory)
        var time: Int64 = 1
        for port in UInt16(2000)..<2100 {
            send(r, port: port, sequence: 100, flags: .syn, time: time)
            // Byte 0 never comes: 500 bytes wait behind it, forever.
            send(r, port: port, sequence: 101 + 10, String(repeating: "x", count: 500), time: time + 1)
            time += 2
        }
        #expect(r.pendingBytesTotal <= limits.maxPendingBytesTotal)
        let attack = "GET /?q=1 UNION SELECT password FROM users HTTP/1.1\r\n\r\n"
        let bytes = Array(attack.utf8)
        send(r, port: 9000, sequence: 500, flags: .syn, time: time)
        for offset in stride(from: 16, to: bytes.count, by: 16).reversed() {
            send(r, port: 9000, sequence: 501 + UInt32(offset), String(decoding: bytes[offset..<min(bytes.count, offset + 16)], as: UTF8.self), time: time + 1)
        }
        send(r, port: 9000, sequence: 501, String(decoding: bytes[0..<16], as: UTF8.self), time: time + 2)
        let attacker = factory.handlers.last!
        #expect(attacker.clientText == attack)
        #expect(attacker.gaps.isEmpty)
        // The flood paid: its oldest holds were flushed past their holes.
        #expect(r.statistics.pendingFlushes > 0)
        #expect(factory.handlers.first!.gaps == [10])
    }

    /// A SYN flood at the flow limit evicts its own half-open flows, not a connection that
    /// carries data, however long that one has been quiet.
    @Test func synFloodEvictsHalfOpenFlowsFirst() {
        let factory = RecordingFactory()
        var limits = TCPReassembler.Limits()
        limits.maxFlows = 50
        let r = TCPReassembler(limits: limits, factory: factory)
        send(r, port: 1000, sequence: 10, flags: .syn, time: 1)
        send(r, port: 1000, sequence: 11, "GET /slow", time: 2)
        for port in UInt16(2000)..<2500 { send(r, port: port, sequence: 1, flags: .syn, time: 10 + Int64(port)) }
        send(r, port: 1000, sequence: 20, "?q=<script>alert(1)</script> HTTP/1.1\r\n\r\n", time: 5000)
        #expect(factory.handlers[0].closedReason == nil)
        #expect(factory.handlers[0].clientText == "GET /slow?q=<script>alert(1)</script> HTTP/1.1\r\n\r\n")
        #expect(r.statistics.flowsEvicted == 451)
        #expect(r.statistics.flowsEvictedWithoutData == 451)
        #expect(r.activeFlows == 50)
    }
}
