import NetworkTypes

/// Turns TCP segments into ordered byte streams per connection and direction.
///
/// Overlap policy (the one Linux applies, so diffai inspects what the server really read):
/// bytes already delivered in order are never replaced; among out-of-order segments the one
/// queued first keeps its bytes, except that a new segment starting at or before a queued one
/// and covering it entirely replaces it. Conflicting overlaps are reported as anomalies.
///
/// Lost data becomes an explicit gap: when the peer acknowledged bytes the capture never showed,
/// when a bound forces it, or when the flow ends with holes. Consumers resynchronise after a gap.
///
/// Bounds, and who pays when one is reached (so that no set of connections can blind the
/// sensor to the next one):
/// - flows: beyond `maxFlows` the least recently active flow that never carried data goes
///   first (a SYN flood evicts its own half-open flows), then the least recently active one;
/// - out-of-order bytes: beyond `maxPendingBytesTotal` the flows that began holding earliest
///   are flushed past their holes (the held bytes are delivered after a gap, not dropped); a
///   segment that still finds no room is itself delivered past its hole.
public final class TCPReassembler {
    public struct Limits: Sendable {
        public var maxFlows = 1_000_000
        /// Per direction of one flow, counting `PendingSegment.overhead` per segment.
        public var maxPendingBytesPerStream = 1 << 20
        /// All flows together, counted the same way.
        public var maxPendingBytesTotal = 256 << 20
        public var idleTimeoutSeconds = 120.0
        public init() {}
    }

    /// What one tracked flow costs in this stage (the flow, its table slot, its handler),
    /// measured on replays of SYN-only floods; the memory budget divides by it.
    public static let flowOverhead = 512

    public struct Statistics: Sendable, Equatable {
        public var segments = 0
        public var payloadBytes = 0
        public var flowsCreated = 0
        public var flowsClosed = 0
        public var flowsExpired = 0
        public var flowsEvicted = 0
        public var flowsIgnored = 0
        /// Segments that could start no flow (bare ACKs, FIN or RST for unknown connections).
        public var segmentsWithoutFlow = 0
        public var segmentsAfterClose = 0
        public var outOfOrderSegments = 0
        /// Segments that carried only bytes already delivered.
        public var retransmissions = 0
        public var overlapConflicts = 0
        public var outsideWindow = 0
        public var resetsIgnored = 0
        public var gaps = 0
        public var gapBytes = 0
        /// Flows evicted at `maxFlows` that had never carried data (half-open, SYN floods).
        public var flowsEvictedWithoutData = 0
        /// Times held out-of-order data was delivered past its hole to stay within a bound
        /// (`maxPendingBytesPerStream` or `maxPendingBytesTotal`).
        public var pendingFlushes = 0
        /// The bytes those holes stood for: never seen, reported as gaps.
        public var pendingFlushGapBytes = 0
        public init() {}
    }

    public let limits: Limits
    public private(set) var statistics = Statistics()
    public var activeFlows: Int { flows.count }
    public private(set) var pendingBytesTotal = 0

    private let factory: TCPFlowHandlerFactory
    private var flows: [FlowKey: Flow] = [:]
    /// Flows that carried data, and flows that never did, each least recently active first.
    private var activity = FlowActivityList()
    private var withoutData = FlowActivityList()
    private var pendingHolders = PendingHolderList()
    /// Set while a bound forces gaps, so those gaps are counted as the bound's.
    private var flushingForBound = false
    private var nextFlowID: UInt64 = 1
    private var lastFlow: Flow?

    public init(limits: Limits = Limits(), factory: TCPFlowHandlerFactory) {
        self.limits = limits
        self.factory = factory
    }

    // MARK: - Segments

    public func process(_ segment: TCPSegment) {
        statistics.segments += 1
        statistics.payloadBytes += segment.payload.count
        let now = segment.timestamp
        expireIdle(now: now)

        let key = FlowKey(segment.source, segment.destination)
        let isOpeningSYN = segment.flags.contains(.syn) && !segment.flags.contains(.ack)
        // Consecutive packets usually belong to one connection: skip the hash lookup then.
        var flow: Flow?
        if let cached = lastFlow, cached.key == key {
            flow = cached
        } else {
            flow = flows[key]
            lastFlow = flow
        }
        if let existing = flow {
            if isOpeningSYN && startsNewConnection(existing, segment) {
                retire(existing, reason: existing.isClosed ? .closed : .reused, at: now, notify: !existing.isClosed)
                flow = nil
            } else if existing.isClosed {
                statistics.segmentsAfterClose += 1
                return
            }
        }
        let current: Flow
        if let flow {
            current = flow
            if current.lastSeen < now { current.lastSeen = now }
        } else {
            let carriesData = !segment.payload.isEmpty || segment.missingPayloadBytes > 0
            guard !segment.flags.contains(.rst), segment.flags.contains(.syn) || carriesData else {
                statistics.segmentsWithoutFlow += 1
                return
            }
            current = startFlow(key: key, segment: segment)
        }

        let direction = current.direction(of: segment.source)
        if segment.flags.contains(.ack) {
            acknowledge(current, direction: direction.reversed, upTo: segment.acknowledgment, at: now)
            if current.isClosed { return }
        }
        current.withHalf(direction) { $0.advertisedWindow = UInt32(segment.window) }

        if segment.flags.contains(.rst) {
            handleReset(current, direction: direction, segment: segment)
            return
        }

        var dataStart = segment.sequence
        if segment.flags.contains(.syn) {
            dataStart = segment.sequence &+ 1
            current.withHalf(direction) { half in
                if !half.isSynchronized || half.nextSequence == half.initialSequence {
                    half.isSynchronized = true
                    half.initialSequence = dataStart
                    half.nextSequence = dataStart
                }
                half.windowScale = segment.windowScale
            }
        }

        let payloadLength = UInt32(segment.payload.count) &+ segment.missingPayloadBytes
        if payloadLength > 0 && !current.carriedData {
            current.carriedData = true
            withoutData.remove(current)
            activity.append(current)
        }
        if payloadLength > 0 && !current.ignored {
            if segment.fromFragments { current.handler?.anomaly(.fragmented, direction: direction, at: now) }
            current.withHalf(direction) { half in
                if !half.isSynchronized {
                    half.isSynchronized = true
                    half.initialSequence = dataStart
                    half.nextSequence = dataStart
                }
            }
            receive(current, direction: direction, sequence: dataStart, payload: segment.payload,
                    missing: segment.missingPayloadBytes, at: now)
        }
        if segment.flags.contains(.fin) && !current.isClosed {
            current.withHalf(direction) { half in
                if half.finSequence == nil { half.finSequence = dataStart &+ payloadLength }
            }
            deliverFINIfReached(current, direction: direction, at: now)
        }
    }

    /// A SYN on a known 4-tuple opens a new connection unless it merely repeats the first SYN.
    private func startsNewConnection(_ flow: Flow, _ segment: TCPSegment) -> Bool {
        if flow.isClosed { return true }
        let half = flow.direction(of: segment.source) == .fromInitiator ? flow.fromInitiator : flow.fromResponder
        return half.isSynchronized && half.initialSequence != segment.sequence &+ 1
    }

    private func startFlow(key: FlowKey, segment: TCPSegment) -> Flow {
        if flows.count >= limits.maxFlows, let (oldest, carriedData) = evictionCandidate() {
            statistics.flowsEvicted += 1
            if !carriedData { statistics.flowsEvictedWithoutData += 1 }
            retire(oldest, reason: .evicted, at: segment.timestamp, notify: !oldest.isClosed)
        }
        let initiator: Endpoint
        let sawHandshake = segment.flags.contains(.syn)
        if segment.flags.contains(.syn) {
            initiator = segment.flags.contains(.ack) ? segment.destination : segment.source
        } else {
            // Mid-stream: clients almost always use the ephemeral (higher) port.
            initiator = segment.source.port >= segment.destination.port ? segment.source : segment.destination
        }
        let responder = initiator == segment.source ? segment.destination : segment.source
        let descriptor = FlowDescriptor(id: nextFlowID, initiator: initiator, responder: responder, sawHandshake: sawHandshake)
        nextFlowID += 1
        let flow = Flow(key: key, descriptor: descriptor, lastSeen: segment.timestamp)
        flow.handler = factory.makeHandler(for: descriptor)
        if flow.handler == nil {
            flow.ignored = true
            statistics.flowsIgnored += 1
        }
        flows[key] = flow
        lastFlow = flow
        withoutData.append(flow)
        statistics.flowsCreated += 1
        return flow
    }

    // MARK: - Data

    private func receive(
        _ flow: Flow, direction: FlowDirection, sequence: UInt32, payload: UnsafeRawBufferPointer,
        missing: UInt32, at now: Timestamp
    ) {
        let end = sequence &+ UInt32(payload.count) &+ missing
        let (nextSequence, acknowledgedByPeer) = flow.withHalf(direction) { ($0.nextSequence, $0.acknowledgedByPeer) }
        if seqLessOrEqual(end, nextSequence) {
            statistics.retransmissions += 1
            return
        }
        if seqLessOrEqual(sequence, nextSequence) {
            let skip = Int(nextSequence &- sequence)
            let fresh = skip < payload.count
                ? UnsafeRawBufferPointer(rebasing: payload[skip...]) : UnsafeRawBufferPointer(start: nil, count: 0)
            let freshMissing = skip <= payload.count ? missing : missing - UInt32(skip - payload.count)
            checkConflicts(flow, direction: direction, sequence: nextSequence, bytes: fresh, at: now)
            deliver(flow, direction: direction, bytes: fresh, missing: freshMissing, at: now)
            drainPending(flow, direction: direction, at: now)
            return
        }

        // Future data: the receiver would drop it if it lies beyond the window it offered.
        let distance = seqDistance(from: nextSequence, to: sequence)
        if distance > maxWindow(flow, receiverOf: direction) {
            statistics.outsideWindow += 1
            flow.handler?.anomaly(.outsideWindow, direction: direction, at: now)
            return
        }
        if let acked = acknowledgedByPeer, seqLessOrEqual(sequence, acked) {
            // The peer already has the bytes before this segment: the capture lost them.
            declareGap(flow, direction: direction, upTo: sequence, at: now)
            receive(flow, direction: direction, sequence: sequence, payload: payload, missing: missing, at: now)
            return
        }
        statistics.outOfOrderSegments += 1
        let cost = payload.count + PendingSegment.overhead
        if pendingBytesTotal + cost > limits.maxPendingBytesTotal {
            makeRoomForPending(cost, sparing: flow, at: now)
            if pendingBytesTotal + cost > limits.maxPendingBytesTotal {
                // No room even so (this flow holds the rest, or the segment is larger than the
                // pool): deliver what this direction holds and this segment past their holes,
                // rather than drop bytes the server may have read.
                withBoundFlush {
                    while flow.withHalf(direction, { !$0.pending.isEmpty }) && !flow.ignored { forceGap(flow, direction: direction, at: now) }
                    declareGap(flow, direction: direction, upTo: sequence, at: now)
                }
                if !flow.ignored { receive(flow, direction: direction, sequence: sequence, payload: payload, missing: missing, at: now) }
                return
            }
        }
        insertPending(flow, direction: direction,
                      PendingSegment(sequence: sequence, bytes: [UInt8](payload), missingTail: missing), at: now)
        while flow.withHalf(direction, { $0.pendingBytes }) > limits.maxPendingBytesPerStream {
            withBoundFlush { forceGap(flow, direction: direction, at: now) }
        }
    }

    /// Flushes the flows that began holding out-of-order bytes earliest (other than `sparing`)
    /// until `cost` more fits with an eighth of the pool to spare.
    private func makeRoomForPending(_ cost: Int, sparing: Flow, at now: Timestamp) {
        let target = limits.maxPendingBytesTotal - limits.maxPendingBytesTotal / 8
        var candidate = pendingHolders.oldest
        while pendingBytesTotal + cost > target, let flow = candidate {
            // Read before flushing: a flushed flow leaves the list.
            candidate = flow.pendingNewer
            if flow === sparing { continue }
            flushAll(flow, at: now)
        }
    }

    /// Delivers everything a flow holds, both directions, past its holes.
    private func flushAll(_ flow: Flow, at now: Timestamp) {
        withBoundFlush {
            for side in [FlowDirection.fromInitiator, .fromResponder] {
                while !flow.ignored, flow.withHalf(side, { !$0.pending.isEmpty }) {
                    forceGap(flow, direction: side, at: now)
                }
            }
        }
        if flow.ignored { releasePending(flow) }
        updatePendingListing(flow)
    }

    private func withBoundFlush(_ body: () -> Void) {
        let outer = flushingForBound
        if !outer { statistics.pendingFlushes += 1 }
        flushingForBound = true
        body()
        flushingForBound = outer
    }

    /// Keeps a flow listed among the holders exactly while it holds out-of-order bytes.
    private func updatePendingListing(_ flow: Flow) {
        let holds = flow.pendingBytes > 0
        if holds && !flow.isPendingListed { pendingHolders.append(flow) }
        if !holds && flow.isPendingListed { pendingHolders.remove(flow) }
    }

    /// The largest forward distance the receiver of `direction` would accept.
    private func maxWindow(_ flow: Flow, receiverOf direction: FlowDirection) -> Int64 {
        let (window, receiverScale) = flow.withHalf(direction.reversed) { ($0.advertisedWindow, $0.windowScale) }
        let senderScales = flow.withHalf(direction) { $0.windowScale != nil }
        // Scaling applies only when both SYNs offered it (RFC 7323).
        let shift = senderScales ? Int64(receiverScale ?? 0) : 0
        // Slack for window updates the capture may have missed.
        return max(Int64(window) << shift, 65535) + 65535
    }

    /// Linux `tcp_data_queue_ofo` rules for the out-of-order queue. The queue is changed in
    /// place (a local copy would make every insertion copy the whole queue).
    private func insertPending(_ flow: Flow, direction: FlowDirection, _ segment: PendingSegment, at now: Timestamp) {
        var conflict = false
        let added: Int = flow.withHalf(direction) { half in
            var index = Self.insertionIndex(half.pending, segment.sequence)
            var delta = 0
            if index > 0 {
                let previous = half.pending[index - 1]
                if seqLess(segment.sequence, previous.end) {
                    conflict = conflict || Self.differs(previous, segment)
                    if seqLessOrEqual(segment.end, previous.end) {
                        return 0  // already queued: the older copy stays
                    }
                    if previous.sequence == segment.sequence {
                        half.pending.remove(at: index - 1)
                        delta -= previous.cost
                        index -= 1
                    }
                }
            }
            half.pending.insert(segment, at: index)
            delta += segment.cost
            while index + 1 < half.pending.count, seqLess(half.pending[index + 1].sequence, segment.end) {
                let next = half.pending[index + 1]
                conflict = conflict || Self.differs(segment, next)
                guard seqLessOrEqual(next.end, segment.end) else { break }
                half.pending.remove(at: index + 1)
                delta -= next.cost
            }
            half.pendingBytes += delta
            return delta
        }
        pendingBytesTotal += added
        updatePendingListing(flow)
        if conflict { reportConflict(flow, direction: direction, at: now) }
    }

    /// The first queued segment that starts after `sequence` (binary search: the queue is
    /// sorted, and a hostile sender can make it long).
    private static func insertionIndex(_ pending: [PendingSegment], _ sequence: UInt32) -> Int {
        var low = 0, high = pending.count
        while low < high {
            let middle = (low + high) / 2
            if seqLess(sequence, pending[middle].sequence) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Compares the bytes two segments both carry.
    private static func differs(_ a: PendingSegment, _ b: PendingSegment) -> Bool {
        let start = seqLess(a.sequence, b.sequence) ? b.sequence : a.sequence
        let aEnd = a.sequence &+ UInt32(a.bytes.count), bEnd = b.sequence &+ UInt32(b.bytes.count)
        let end = seqLess(aEnd, bEnd) ? aEnd : bEnd
        guard seqLess(start, end) else { return false }
        let length = Int(end &- start)
        let aOffset = Int(start &- a.sequence), bOffset = Int(start &- b.sequence)
        return !a.bytes[aOffset..<aOffset + length].elementsEqual(b.bytes[bOffset..<bOffset + length])
    }

    /// In-order bytes about to be delivered win over queued ones; note when they disagree.
    private func checkConflicts(
        _ flow: Flow, direction: FlowDirection, sequence: UInt32, bytes: UnsafeRawBufferPointer, at now: Timestamp
    ) {
        let pending = flow.withHalf(direction) { $0.pending }
        guard !pending.isEmpty, !bytes.isEmpty else { return }
        let end = sequence &+ UInt32(bytes.count)
        for queued in pending {
            guard seqLess(queued.sequence, end) else { break }
            let queuedDataEnd = queued.sequence &+ UInt32(queued.bytes.count)
            let start = seqLess(queued.sequence, sequence) ? sequence : queued.sequence
            let stop = seqLess(queuedDataEnd, end) ? queuedDataEnd : end
            guard seqLess(start, stop) else { continue }
            let length = Int(stop &- start)
            let a = Int(start &- sequence), b = Int(start &- queued.sequence)
            if !bytes[a..<a + length].elementsEqual(queued.bytes[b..<b + length]) {
                reportConflict(flow, direction: direction, at: now)
                return
            }
        }
    }

    private func reportConflict(_ flow: Flow, direction: FlowDirection, at now: Timestamp) {
        statistics.overlapConflicts += 1
        flow.handler?.anomaly(.overlapConflict, direction: direction, at: now)
    }

    private func deliver(_ flow: Flow, direction: FlowDirection, bytes: UnsafeRawBufferPointer, missing: UInt32, at now: Timestamp) {
        flow.withHalf(direction) { $0.nextSequence = $0.nextSequence &+ UInt32(bytes.count) &+ missing }
        if !bytes.isEmpty, let handler = flow.handler,
           handler.receive(bytes, direction: direction, at: now) == .ignoreFlow {
            ignore(flow)
            return
        }
        if missing > 0 {
            statistics.gaps += 1
            statistics.gapBytes += Int(missing)
            flow.handler?.gap(Int(missing), direction: direction, at: now)
        }
    }

    private func ignore(_ flow: Flow) {
        flow.ignored = true
        flow.handler = nil
        statistics.flowsIgnored += 1
        releasePending(flow)
    }

    private func releasePending(_ flow: Flow) {
        pendingBytesTotal -= flow.fromInitiator.pendingBytes + flow.fromResponder.pendingBytes
        assert(pendingBytesTotal >= 0, "out-of-order byte count went negative")
        flow.fromInitiator.pending = []
        flow.fromInitiator.pendingBytes = 0
        flow.fromResponder.pending = []
        flow.fromResponder.pendingBytes = 0
        pendingHolders.remove(flow)
    }

    /// Delivers queued segments that the stream has now reached.
    private func drainPending(_ flow: Flow, direction: FlowDirection, at now: Timestamp) {
        while !flow.ignored {
            let next: PendingSegment? = flow.withHalf(direction) { half in
                guard let first = half.pending.first, seqLessOrEqual(first.sequence, half.nextSequence) else { return nil }
                half.pending.removeFirst()
                half.pendingBytes -= first.cost
                return first
            }
            guard let next else { break }
            pendingBytesTotal -= next.cost
            let nextSequence = flow.withHalf(direction) { $0.nextSequence }
            guard seqLess(nextSequence, next.end) else { continue }
            let skip = Int(nextSequence &- next.sequence)
            next.bytes.withUnsafeBytes { raw in
                let fresh = skip < raw.count ? UnsafeRawBufferPointer(rebasing: raw[skip...]) : UnsafeRawBufferPointer(start: nil, count: 0)
                let missing = skip <= raw.count ? next.missingTail : next.missingTail - UInt32(skip - raw.count)
                deliver(flow, direction: direction, bytes: fresh, missing: missing, at: now)
            }
        }
        updatePendingListing(flow)
        deliverFINIfReached(flow, direction: direction, at: now)
    }

    /// Skips the stream forward to `sequence`, reporting the skipped bytes as lost.
    private func declareGap(_ flow: Flow, direction: FlowDirection, upTo sequence: UInt32, at now: Timestamp) {
        let length = flow.withHalf(direction) { half -> Int in
            guard seqLess(half.nextSequence, sequence) else { return 0 }
            let length = Int(sequence &- half.nextSequence)
            half.nextSequence = sequence
            return length
        }
        guard length > 0 else { return }
        statistics.gaps += 1
        statistics.gapBytes += length
        if flushingForBound { statistics.pendingFlushGapBytes += length }
        flow.handler?.gap(length, direction: direction, at: now)
    }

    /// Gives up on the hole before the first queued segment.
    private func forceGap(_ flow: Flow, direction: FlowDirection, at now: Timestamp) {
        guard let first = flow.withHalf(direction, { $0.pending.first }) else { return }
        declareGap(flow, direction: direction, upTo: first.sequence, at: now)
        drainPending(flow, direction: direction, at: now)
    }

    /// The peer acknowledged `ack`: every byte of `direction` before it reached the peer.
    private func acknowledge(_ flow: Flow, direction: FlowDirection, upTo ack: UInt32, at now: Timestamp) {
        let half = flow.withHalf(direction) { half -> HalfStream in
            if let previous = half.acknowledgedByPeer, !seqLess(previous, ack) { return half }
            half.acknowledgedByPeer = ack
            return half
        }
        guard half.isSynchronized, !flow.ignored, seqLess(half.nextSequence, ack) else { return }
        // Act only when something is waiting behind the hole; a bare early ACK may just mean
        // the capture reordered data and its acknowledgment.
        if let first = half.pending.first, seqLessOrEqual(first.sequence, ack) {
            while let first = flow.withHalf(direction, { $0.pending.first }), seqLessOrEqual(first.sequence, ack) {
                forceGap(flow, direction: direction, at: now)
            }
        }
        let current = flow.withHalf(direction) { $0 }
        if let fin = current.finSequence, !current.finished, seqLess(fin, ack), seqLess(current.nextSequence, fin) {
            declareGap(flow, direction: direction, upTo: fin, at: now)
            deliverFINIfReached(flow, direction: direction, at: now)
        }
    }

    private func deliverFINIfReached(_ flow: Flow, direction: FlowDirection, at now: Timestamp) {
        let reached = flow.withHalf(direction) { half -> Bool in
            guard !half.finished, let fin = half.finSequence, seqLessOrEqual(fin, half.nextSequence) else { return false }
            half.finished = true
            half.nextSequence = fin &+ 1
            return true
        }
        guard reached else { return }
        flow.handler?.halfClosed(direction, reason: .fin, at: now)
        if flow.fromInitiator.finished && flow.fromResponder.finished {
            close(flow, reason: .closed, at: now)
        }
    }

    private func handleReset(_ flow: Flow, direction: FlowDirection, segment: TCPSegment) {
        // Linux (RFC 5961) honours a RST only at exactly the next expected sequence number;
        // anything else draws a challenge ACK. Trusting other RSTs would let an attacker blind us.
        let half = flow.withHalf(direction) { $0 }
        let exact = !half.isSynchronized || segment.sequence == half.nextSequence
            || (half.finished && segment.sequence == half.nextSequence &- 1)
        guard exact else {
            statistics.resetsIgnored += 1
            return
        }
        // Out-of-order data still queued never reached the server: it is dropped with the
        // connection (close() releases it), not inspected.
        flow.handler?.halfClosed(direction, reason: .reset, at: segment.timestamp)
        close(flow, reason: .reset, at: segment.timestamp)
    }

    // MARK: - Lifetime

    private func close(_ flow: Flow, reason: FlowEndReason, at now: Timestamp) {
        guard !flow.isClosed else { return }
        flow.isClosed = true
        statistics.flowsClosed += 1
        releasePending(flow)
        let handler = flow.handler
        flow.handler = nil
        handler?.closed(reason: reason, at: now)
    }

    /// Flushes what can be delivered (holes become gaps), tells the handler, forgets the flow.
    private func retire(_ flow: Flow, reason: FlowEndReason, at now: Timestamp, notify: Bool) {
        if notify && !flow.isClosed {
            for side in [FlowDirection.fromInitiator, .fromResponder] {
                while !flow.ignored, flow.withHalf(side, { !$0.pending.isEmpty }) {
                    forceGap(flow, direction: side, at: now)
                }
            }
            close(flow, reason: reason, at: now)
        }
        releasePending(flow)
        flows[flow.key] = nil
        if lastFlow === flow { lastFlow = nil }
        if flow.carriedData { activity.remove(flow) } else { withoutData.remove(flow) }
    }

    private func expireIdle(now: Timestamp) {
        let cutoff = now.adding(seconds: -limits.idleTimeoutSeconds)
        expireIdle(withData: false, cutoff: cutoff, now: now)
        expireIdle(withData: true, cutoff: cutoff, now: now)
    }

    /// The lists are reached through `withData` rather than passed inout: `retire` unlinks
    /// from them, which an inout access held across the loop would forbid.
    private func expireIdle(withData: Bool, cutoff: Timestamp, now: Timestamp) {
        while let oldest = withData ? activity.oldest : withoutData.oldest, oldest.listedAt < cutoff {
            if oldest.lastSeen >= cutoff {
                if withData { activity.relist(oldest) } else { withoutData.relist(oldest) }
                continue
            }
            if !oldest.isClosed { statistics.flowsExpired += 1 }
            retire(oldest, reason: .idleTimeout, at: now, notify: true)
        }
    }

    /// Who makes room at `maxFlows`: the least recently active flow that never carried data,
    /// else the least recently active one. Whether it carried data comes back too.
    private func evictionCandidate() -> (Flow, Bool)? {
        if let flow = leastRecentlyActive(withData: false) { return (flow, false) }
        if let flow = leastRecentlyActive(withData: true) { return (flow, true) }
        return nil
    }

    /// The front of a list once flows active since they were listed have moved back.
    private func leastRecentlyActive(withData: Bool) -> Flow? {
        while let oldest = withData ? activity.oldest : withoutData.oldest {
            if oldest.lastSeen == oldest.listedAt { return oldest }
            if withData { activity.relist(oldest) } else { withoutData.relist(oldest) }
        }
        return nil
    }

    /// Moves capture time forward without a packet (live capture on a quiet link).
    public func advanceTime(to now: Timestamp) {
        expireIdle(now: now)
    }

    /// End of input: every open flow is flushed and closed.
    public func finish(at now: Timestamp) {
        while let oldest = withoutData.oldest {
            retire(oldest, reason: .captureEnded, at: now, notify: true)
        }
        while let oldest = activity.oldest {
            retire(oldest, reason: .captureEnded, at: now, notify: true)
        }
    }
}
