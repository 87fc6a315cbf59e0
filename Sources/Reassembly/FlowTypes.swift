import NetworkTypes

public enum FlowDirection: UInt8, Sendable, Equatable {
    case fromInitiator
    case fromResponder

    public var reversed: FlowDirection { self == .fromInitiator ? .fromResponder : .fromInitiator }
}

/// What is known about a connection when it is first seen.
public struct FlowDescriptor: Sendable, Equatable {
    /// Unique per connection within one run (the same 4-tuple reused gets a new id).
    public let id: UInt64
    /// The side that sent the SYN, or the best guess when the capture started mid-connection.
    public let initiator: Endpoint
    public let responder: Endpoint
    /// False when the connection was picked up mid-stream: the first bytes may not start a message.
    public let sawHandshake: Bool
}

/// Oddities below HTTP that detection may want to know about.
public enum StreamAnomaly: UInt8, Sendable, Equatable {
    /// Overlapping segments carried different bytes for the same sequence range.
    case overlapConflict
    /// Data arrived in a segment rebuilt from IP fragments.
    case fragmented
    /// A segment lay outside the receiver's window and was not let into the stream.
    case outsideWindow
}

public enum HalfCloseReason: UInt8, Sendable, Equatable {
    case fin
    case reset
}

public enum FlowEndReason: UInt8, Sendable, Equatable {
    case closed
    case reset
    case idleTimeout
    /// Pushed out to stay within the flow limit.
    case evicted
    /// A new connection started on the same 4-tuple.
    case reused
    case captureEnded
}

public enum StreamVerdict: Sendable {
    case keepGoing
    /// The consumer does not understand this stream (not HTTP): stop buffering and delivering.
    case ignoreFlow
}

/// Receives one connection's reassembled byte streams, in sequence order per direction.
/// Bytes passed to `receive` are valid only during the call.
public protocol TCPFlowHandler: AnyObject {
    func receive(_ bytes: UnsafeRawBufferPointer, direction: FlowDirection, at time: Timestamp) -> StreamVerdict
    /// `length` bytes of this direction were never seen (capture loss, snaplen, or a bound).
    func gap(_ length: Int, direction: FlowDirection, at time: Timestamp)
    func anomaly(_ anomaly: StreamAnomaly, direction: FlowDirection, at time: Timestamp)
    func halfClosed(_ direction: FlowDirection, reason: HalfCloseReason, at time: Timestamp)
    func closed(reason: FlowEndReason, at time: Timestamp)
}

public protocol TCPFlowHandlerFactory: AnyObject {
    /// Returns nil when the connection is of no interest.
    func makeHandler(for flow: FlowDescriptor) -> TCPFlowHandler?
}
