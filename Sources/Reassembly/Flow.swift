import NetworkTypes

/// A tracked connection. Flows form an intrusive list so that idle expiry and eviction look
/// only at the oldest flow, never scan the table. The list is ordered by `listedAt`, which lags
/// `lastSeen`: a packet only stamps the time, and a flow is moved to the end when it reaches the
/// front still active. That keeps list surgery off the per-packet path; every flow is still
/// expired exactly when its `lastSeen` falls behind the cutoff.
final class Flow {
    let key: FlowKey
    let descriptor: FlowDescriptor
    var handler: TCPFlowHandler?
    var ignored = false
    var fromInitiator = HalfStream()
    var fromResponder = HalfStream()
    var lastSeen: Timestamp
    var listedAt: Timestamp
    /// Closed by FIN/FIN or RST; kept briefly so late retransmissions do not start a bogus flow.
    var isClosed = false

    var newer: Flow?
    unowned(unsafe) var older: Flow?

    init(key: FlowKey, descriptor: FlowDescriptor, lastSeen: Timestamp) {
        self.key = key
        self.descriptor = descriptor
        self.lastSeen = lastSeen
        listedAt = lastSeen
    }

    func direction(of source: Endpoint) -> FlowDirection {
        source == descriptor.initiator ? .fromInitiator : .fromResponder
    }

    /// Applies `body` to one direction's state in place.
    @inline(__always)
    func withHalf<R>(_ direction: FlowDirection, _ body: (inout HalfStream) -> R) -> R {
        direction == .fromInitiator ? body(&fromInitiator) : body(&fromResponder)
    }
}

/// Least-recently-active first.
struct FlowActivityList {
    private(set) var oldest: Flow?
    private unowned(unsafe) var newest: Flow?

    mutating func append(_ flow: Flow) {
        flow.older = newest
        flow.newer = nil
        if let newest { newest.newer = flow } else { oldest = flow }
        newest = flow
    }

    mutating func remove(_ flow: Flow) {
        if let older = flow.older { older.newer = flow.newer } else { oldest = flow.newer }
        if let newer = flow.newer { newer.older = flow.older } else { newest = flow.older }
        flow.newer = nil
        flow.older = nil
    }

    /// Moves a flow that turned out to be active since it was listed to the end.
    mutating func relist(_ flow: Flow) {
        flow.listedAt = flow.lastSeen
        guard newest !== flow else { return }
        remove(flow)
        append(flow)
    }
}
