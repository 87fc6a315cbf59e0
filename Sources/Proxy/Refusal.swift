import HTTP

/// Every answer the proxy writes itself instead of the backend's, but for the verdict pages
/// (403 blocked, 503 fail-closed): the status, the page and what the alert says live here, in
/// one table, so a refusal cannot be spelled differently in two places. Each of these ends the
/// connection: the bytes after a refused request cannot be trusted to be in step.
enum Refusal: Equatable, Sendable {
    /// Framing or syntax that two HTTP implementations could read differently (RFC 9112 says
    /// a server must reject it; see `RequestSyntax.refused`), or an incomplete request.
    case malformed
    /// The first bytes of a request are not an HTTP request line.
    case notHTTP
    case requestLineTooLong
    case headersTooLarge
    case bodyTooLarge
    /// CONNECT: this is a reverse proxy, not a tunnel.
    case methodNotServed
    /// The body did not keep up the minimum rate (`ProxyConfiguration.bodyTimeoutSeconds`).
    case bodyTooSlow
    /// A head was begun and not finished within the header timeout.
    case headTooSlow
    /// Nothing either way for the idle timeout while a request was still arriving.
    case requestTooSlow
    case upstreamUnreachable
    /// The backend closed its connection before answering.
    case upstreamClosedEarly

    var status: Int {
        switch self {
        case .malformed, .notHTTP: 400
        case .methodNotServed: 405
        case .bodyTooSlow, .headTooSlow, .requestTooSlow: 408
        case .bodyTooLarge: 413
        case .requestLineTooLong: 414
        case .headersTooLarge: 431
        case .upstreamUnreachable, .upstreamClosedEarly: 502
        }
    }

    var reason: String {
        switch self {
        case .malformed, .notHTTP: "Bad Request"
        case .methodNotServed: "Method Not Allowed"
        case .bodyTooSlow, .headTooSlow, .requestTooSlow: "Request Timeout"
        case .bodyTooLarge: "Content Too Large"
        case .requestLineTooLong: "URI Too Long"
        case .headersTooLarge: "Request Header Fields Too Large"
        case .upstreamUnreachable, .upstreamClosedEarly: "Bad Gateway"
        }
    }

    var explanation: String {
        switch self {
        case .malformed: "The request is malformed."
        case .notHTTP: "The request is not HTTP."
        case .methodNotServed: "CONNECT is not served here."
        case .bodyTooSlow: "The request body took too long to arrive."
        case .headTooSlow: "The request head took too long to arrive."
        case .requestTooSlow: "The request took too long to arrive."
        case .bodyTooLarge: "The request body is larger than this site accepts."
        case .requestLineTooLong: "The request line is longer than this site accepts."
        case .headersTooLarge: "The request headers are larger than this site accepts."
        case .upstreamUnreachable: "The site's server cannot be reached."
        case .upstreamClosedEarly: "The site's server closed the connection without answering."
        }
    }

    /// The alert's signature; nil for answers that say nothing about the client's intent (an
    /// idle client, a backend that is down), which are not alerted.
    var signature: Int? {
        switch self {
        case .malformed, .notHTTP, .methodNotServed: ProxySignatures.malformed
        case .requestLineTooLong: ProxySignatures.oversizeRequestLine
        case .headersTooLarge: ProxySignatures.oversizeHeaders
        case .bodyTooLarge: ProxySignatures.oversizeBody
        case .bodyTooSlow: ProxySignatures.bodyTimeout
        case .headTooSlow, .requestTooSlow, .upstreamUnreachable, .upstreamClosedEarly: nil
        }
    }

    /// What a request that the parser could not hand over whole records about itself (the
    /// anomaly of its placeholder in the alert).
    var anomaly: HTTPAnomalies {
        switch self {
        case .requestLineTooLong: .oversizeStartLine
        case .headersTooLarge: .oversizeHeaders
        default: .invalidStartLine
        }
    }

    /// The alert's message. `forwarded`: the request's head had already gone to the backend,
    /// so no page could be sent and both connections were cut instead.
    func alertMessage(for request: HTTPRequest, forwarded: Bool) -> String {
        switch (self, forwarded) {
        case (.bodyTooSlow, _): return "Request body too slow (timeout)"
        case (_, true): return "Malformed request body (connection closed)"
        case (_, false):
            let names = request.anomalies.names.joined(separator: ", ")
            return "Request refused (\(status)): \(names.isEmpty ? reason : names)"
        }
    }

    /// The page, naming the incident when there is an alert for it.
    func page(incident: String?) -> [UInt8] {
        ProxyResponse.page(status: status, reason: reason, explanation: explanation, incident: incident, close: true)
    }
}

/// The signature ids of the proxy's own alerts (the 900,1xx range is the proxy's).
enum ProxySignatures {
    static let malformed = 900_100
    static let oversizeHeaders = 900_101
    static let oversizeBody = 900_102
    static let detectionFailed = 900_103
    static let oversizeRequestLine = 900_104
    static let bodyTimeout = 900_105
}
