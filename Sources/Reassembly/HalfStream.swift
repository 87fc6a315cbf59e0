import NetworkTypes

/// Out-of-order data waiting for the hole before it to fill.
struct PendingSegment {
    var sequence: UInt32
    var bytes: [UInt8]
    /// Bytes the segment announced but the capture cut off (snaplen); a gap after `bytes`.
    var missingTail: UInt32

    var end: UInt32 { sequence &+ UInt32(bytes.count) &+ missingTail }

    /// What holding a segment costs beyond its bytes (the entry, the array's header, malloc's
    /// bookkeeping), so that a flood of one-byte segments is bounded too.
    static let overhead = 64
    var cost: Int { bytes.count + Self.overhead }
}

/// One direction of a connection: where the stream stands and what waits to be delivered.
struct HalfStream {
    /// `nextSequence` is meaningful: a SYN or the first data segment fixed it.
    var isSynchronized = false
    var initialSequence: UInt32 = 0
    var nextSequence: UInt32 = 0
    var finSequence: UInt32?
    var finished = false
    var windowScale: UInt8?
    /// Last window this side advertised (unscaled) for the bytes it receives.
    var advertisedWindow: UInt32 = 65535
    /// Highest ACK the peer sent for this direction's bytes: everything before it reached the peer.
    var acknowledgedByPeer: UInt32?
    /// Sorted by sequence; no segment is fully covered by another (Linux out-of-order queue rules).
    var pending: [PendingSegment] = []
    /// What `pending` costs: its bytes plus `PendingSegment.overhead` each.
    var pendingBytes = 0
}
