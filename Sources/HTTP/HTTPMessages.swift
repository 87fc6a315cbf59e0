import NetworkTypes

public enum HTTPVersion: Hashable, Sendable {
    case http09
    case http10
    case http11
    /// Anything else that looked like `HTTP/x.y`, or garbage (flagged as an anomaly).
    case other(String)

    public var description: String {
        switch self {
        case .http09: "HTTP/0.9"
        case .http10: "HTTP/1.0"
        case .http11: "HTTP/1.1"
        case .other(let text): text
        }
    }
}

/// A request as the server received it: head exactly as on the wire, body de-chunked.
public struct HTTPRequest: Sendable {
    public internal(set) var head: HTTPMessageHead
    public internal(set) var version: HTTPVersion
    /// Inspected body bytes, de-chunked, at most the configured inspection limit.
    public internal(set) var body: [UInt8] = []
    /// Total de-chunked body length seen on the wire, inspected or not.
    public internal(set) var bodyLength = 0
    /// The body was longer than the inspection limit; `bodyTail` holds its last bytes.
    public internal(set) var bodyTruncated = false
    public internal(set) var bodyTail: [UInt8] = []
    /// Trailer fields of a chunked body, when there were any.
    public internal(set) var trailerHead: HTTPMessageHead?
    public var trailers: [(name: String, value: String)] { trailerHead?.headers ?? [] }
    public internal(set) var anomalies: HTTPAnomalies = []
    public internal(set) var startTime: Timestamp
    public internal(set) var endTime: Timestamp

    public var method: String { head.string(head.startLine.0) }
    /// Whether the method is exactly `name` (methods are case-sensitive), without a String.
    public func isMethod(_ name: StaticString) -> Bool {
        let range = head.startLine.0
        guard range.count == name.utf8CodeUnitCount else { return false }
        return head.storage.withUnsafeBytes { buffer in
            name.withUTF8Buffer { $0.elementsEqual(buffer[Int(range.start)..<Int(range.end)]) }
        }
    }
    public var target: String { head.string(head.startLine.1) }
    public var methodBytes: ArraySlice<UInt8> { head.bytes(head.startLine.0) }
    public var targetBytes: ArraySlice<UInt8> { head.bytes(head.startLine.1) }
    public var headers: [(name: String, value: String)] { head.headers }
    public var host: String? { head.firstValue(named: "host") }
    public func header(_ name: String) -> String? { head.firstValue(named: name) }
}

/// What diffai keeps of a response: enough to pair, report status and stay in sync.
/// `head.fields` holds only the framing headers; `headers` parses the rest when asked.
public struct HTTPResponse: Sendable {
    public internal(set) var head: HTTPMessageHead
    public internal(set) var version: HTTPVersion
    public internal(set) var status: Int
    public internal(set) var bodyLength = 0
    public internal(set) var anomalies: HTTPAnomalies = []
    public internal(set) var startTime: Timestamp
    public internal(set) var endTime: Timestamp

    public var reason: String { head.string(head.startLine.2) }
    public var headers: [(name: String, value: String)] { fullHead.headers }
    public func header(_ name: String) -> String? { fullHead.firstValue(named: name) }

    private var fullHead: HTTPMessageHead {
        head.storage.withUnsafeBytes { HTTPHeadParser.parse($0, isRequest: false, validate: false).head }
    }
}

/// Where an HTTP connection's bytes came from.
public struct HTTPConnectionInfo: Sendable, Equatable {
    public var id: UInt64
    public var client: Endpoint
    public var server: Endpoint
    /// Picked up mid-stream: the first bytes may sit in the middle of a message.
    public var midstream: Bool
    /// Set when the HTTP came out of a decrypted TLS session.
    public var tls: TLSConnectionInfo?

    public init(id: UInt64, client: Endpoint, server: Endpoint, midstream: Bool = false) {
        self.id = id
        self.client = client
        self.server = server
        self.midstream = midstream
    }
}

/// What an HTTP connection inside TLS says about its TLS session (EVE's `tls{sni, version}`).
public struct TLSConnectionInfo: Sendable, Equatable {
    public var serverName: String?
    /// As Suricata names it: "TLS 1.2", "TLS 1.3".
    public var version: String

    public init(serverName: String?, version: String) {
        self.serverName = serverName
        self.version = version
    }
}

/// One request and, once seen, its response.
public final class HTTPTransaction {
    public let connection: HTTPConnectionInfo
    /// Position of the request on its connection, from 0 (EVE `tx_id`).
    public let index: Int
    public var request: HTTPRequest
    public internal(set) var response: HTTPResponse?
    var requestDone = false
    var responseDone = false
    /// What the connection's memory account holds for this transaction.
    var accountedBytes = 0
    /// The transaction object, its request and response structs and their arrays' headers, as
    /// measured on floods of pipelined requests (bench/hostile.sh).
    public static let overhead = 512

    public init(connection: HTTPConnectionInfo, index: Int, request: HTTPRequest) {
        self.connection = connection
        self.index = index
        self.request = request
    }

    public var client: Endpoint { connection.client }
    public var server: Endpoint { connection.server }
    public var status: Int? { response?.status }
}

extension HTTPRequest {
    /// A request from its parsed head (a proxy builds its requests with the same parser).
    public init(parsed: ParsedHead) {
        self.init(head: parsed.head, version: parsed.version, anomalies: parsed.anomalies, startTime: parsed.startTime, endTime: parsed.startTime)
    }

    /// Counts body bytes and keeps the first `maxInspectedBodyBytes` of them, plus the last
    /// `bodyTailBytes` when the body is longer: filler then attack is the classic way past an
    /// inspection limit.
    public mutating func appendBody(_ bytes: UnsafeRawBufferPointer, limits: HTTPParserLimits) {
        bodyLength += bytes.count
        let room = limits.maxInspectedBodyBytes - body.count
        if room >= bytes.count {
            body.append(contentsOf: bytes)
            return
        }
        if room > 0 { body.append(contentsOf: bytes[0..<room]) }
        bodyTruncated = true
        let tailLimit = limits.bodyTailBytes
        guard tailLimit > 0 else { return }
        if bytes.count >= tailLimit {
            bodyTail = Array(bytes[(bytes.count - tailLimit)...])
        } else {
            bodyTail.append(contentsOf: bytes)
            if bodyTail.count > 2 * tailLimit { bodyTail.removeFirst(bodyTail.count - tailLimit) }
        }
    }

    public mutating func setTrailers(_ head: HTTPMessageHead) { trailerHead = head }

    /// Memory this request holds: head (bytes and field table), kept body, body tail, trailers,
    /// plus `HTTPTransaction.overhead` for the objects around them.
    public var heldBytes: Int {
        HTTPTransaction.overhead + head.heldBytes + body.capacity + bodyTail.capacity + (trailerHead?.heldBytes ?? 0)
    }

    /// The message ended (`complete` false: cut short).
    public mutating func finish(anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp, limits: HTTPParserLimits) {
        self.anomalies.formUnion(anomalies)
        if !complete { self.anomalies.insert(.incomplete) }
        if bodyTail.count > limits.bodyTailBytes { bodyTail.removeFirst(bodyTail.count - limits.bodyTailBytes) }
        endTime = time
    }
}
