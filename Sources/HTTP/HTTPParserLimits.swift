/// Bounds that keep one connection from costing unbounded memory or time.
public struct HTTPParserLimits: Sendable {
    /// Start line plus headers kept for inspection. A longer head is still parsed to its end
    /// and inspected: its first three quarters and its last quarter are kept, the middle is
    /// skipped, and the message is flagged `oversize_headers`.
    public var maxHeaderBytes = 64 << 10
    /// A start line longer than this is flagged `oversize_start_line` (Apache and nginx refuse
    /// such lines with 414); it is inspected all the same, within `maxHeaderBytes`.
    public var maxStartLineBytes = 8 << 10
    /// Request body bytes kept for detection; the rest is counted, not stored.
    public var maxInspectedBodyBytes = 1 << 20
    /// When a body is cut, its last bytes are kept too: attacks padded past the limit sit there.
    public var bodyTailBytes = 4 << 10
    /// Requests waiting for responses on one connection before the oldest is given up.
    public var maxPipelinedRequests = 512
    /// A stream picked up mid-connection is given up as not HTTP after this many bytes without a request line.
    public var midstreamSearchBytes = 1 << 20

    public init() {}
}
