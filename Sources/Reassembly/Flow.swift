import NetworkTypes

/// A tracked connection. Flows form an intrusive list ordered by last activity so that
/// idle expiry and eviction look only at the oldest flow, never scan the table.
final class Flow {
    let key: FlowKey
    let descriptor: FlowDescriptor
    var handler: TCPFlowHandler?
    var ignored = false
    var fromInitiator = HalfStream()
    var fromResponder = HalfStream()
    var lastSeen: Timestamp
    /// Closed by FIN/FIN or RST; kept briefly so late retransmissions do not start a bogus flow.
    var isClosed = false

    var newer: Flow?
    unowned(unsafe) var older: Flow?

    init(key: FlowKey, descriptor: FlowDescriptor, lastSeen: Timestamp) {
        self.key = key
        self.descriptor = descriptor
        self.lastSeen = lastSeen
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

    mutating func touch(_ flow: Flow) {
        guard newest !== flow else { return }
        remove(flow)
        append(flow)
    }
}
