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
    /// Payload was seen in either direction. Flows that never carried any (a SYN flood's) are
    /// listed apart and evicted first.
    var carriedData = false

    var newer: Flow?
    unowned(unsafe) var older: Flow?
    /// Links in the list of flows holding out-of-order bytes, oldest holder first.
    var pendingNewer: Flow?
    unowned(unsafe) var pendingOlder: Flow?
    var isPendingListed = false

    var pendingBytes: Int { fromInitiator.pendingBytes + fromResponder.pendingBytes }

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

/// The links of a flow's two lists.
enum FlowActivityLinks: IntrusiveListLinks {
    static func newer(of flow: Flow) -> Flow? { flow.newer }
    static func setNewer(of flow: Flow, to newer: Flow?) { flow.newer = newer }
    static func older(of flow: Flow) -> Flow? { flow.older }
    static func setOlder(of flow: Flow, to older: Flow?) { flow.older = older }
}

enum PendingHolderLinks: IntrusiveListLinks {
    static func newer(of flow: Flow) -> Flow? { flow.pendingNewer }
    static func setNewer(of flow: Flow, to newer: Flow?) { flow.pendingNewer = newer }
    static func older(of flow: Flow) -> Flow? { flow.pendingOlder }
    static func setOlder(of flow: Flow, to older: Flow?) { flow.pendingOlder = older }
}

/// Least-recently-active first.
struct FlowActivityList {
    private var list = IntrusiveList<FlowActivityLinks>()

    var oldest: Flow? { list.oldest }

    mutating func append(_ flow: Flow) { list.append(flow) }

    mutating func remove(_ flow: Flow) { list.remove(flow) }

    /// Moves a flow that turned out to be active since it was listed to the end.
    mutating func relist(_ flow: Flow) {
        flow.listedAt = flow.lastSeen
        guard list.newest !== flow else { return }
        list.remove(flow)
        list.append(flow)
    }
}

/// Flows that hold out-of-order bytes, in the order they began to hold them: the pool's
/// bound is enforced on the oldest holder first, so a flood of held segments costs the flooder's
/// flows, not the next connection's.
struct PendingHolderList {
    private var list = IntrusiveList<PendingHolderLinks>()

    var oldest: Flow? { list.oldest }

    mutating func append(_ flow: Flow) {
        assert(!flow.isPendingListed, "a flow is listed once")
        list.append(flow)
        flow.isPendingListed = true
    }

    mutating func remove(_ flow: Flow) {
        guard flow.isPendingListed else { return }
        list.remove(flow)
        flow.isPendingListed = false
    }
}
