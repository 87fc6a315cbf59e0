public struct TCPFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    // Computed and inlinable: a stored static would be a lazily initialised global, checked on
    // every access from another module, several times per packet.

    @inlinable public static var fin: TCPFlags { TCPFlags(rawValue: 0x01) }
    @inlinable public static var syn: TCPFlags { TCPFlags(rawValue: 0x02) }
    @inlinable public static var rst: TCPFlags { TCPFlags(rawValue: 0x04) }
    @inlinable public static var psh: TCPFlags { TCPFlags(rawValue: 0x08) }
    @inlinable public static var ack: TCPFlags { TCPFlags(rawValue: 0x10) }
    @inlinable public static var urg: TCPFlags { TCPFlags(rawValue: 0x20) }
}

/// A decoded TCP segment handed from Capture to Reassembly.
///
/// `payload` points into the capture buffer and is valid only for the duration of the call that
/// delivers it: reassembly copies only what it must keep (out-of-order data), so in-order traffic
/// travels from libpcap's buffer to the HTTP parser without a copy.
public struct TCPSegment {
    public var timestamp: Timestamp
    public var source: Endpoint
    public var destination: Endpoint
    public var sequence: UInt32
    public var acknowledgment: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    /// Window-scale shift from the SYN options, when present.
    public var windowScale: UInt8?
    public var payload: UnsafeRawBufferPointer
    /// Payload bytes the IP header announced but the capture did not keep (snaplen cut).
    /// Reassembly treats them as lost: a gap, not a hole to wait for.
    public var missingPayloadBytes: UInt32
    /// The segment was rebuilt from IP fragments (rare for TCP, often an evasion attempt).
    public var fromFragments: Bool

    public init(
        timestamp: Timestamp, source: Endpoint, destination: Endpoint,
        sequence: UInt32, acknowledgment: UInt32, flags: TCPFlags, window: UInt16,
        windowScale: UInt8? = nil, payload: UnsafeRawBufferPointer,
        missingPayloadBytes: UInt32 = 0, fromFragments: Bool = false
    ) {
        self.timestamp = timestamp
        self.source = source
        self.destination = destination
        self.sequence = sequence
        self.acknowledgment = acknowledgment
        self.flags = flags
        self.window = window
        self.windowScale = windowScale
        self.payload = payload
        self.missingPayloadBytes = missingPayloadBytes
        self.fromFragments = fromFragments
    }
}

/// Sequence-space arithmetic modulo 2^32 (RFC 793 comparisons).
@inlinable public func seqLess(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inlinable public func seqLessOrEqual(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) <= 0 }
@inlinable public func seqDistance(from a: UInt32, to b: UInt32) -> Int64 { Int64(Int32(bitPattern: b &- a)) }
