import Detection
import HTTP
import NetworkTypes

/// Where a verdict came from.
public enum VerdictSource: String, Sendable {
    case rule, ml
}

/// What happened to the request (EVE `alert.action`).
public enum AlertAction: String, Sendable {
    case allowed, blocked
}

/// One piece of evidence in an incident: a rule's match, or the model's score.
public struct AlertMatch: Sendable, Equatable {
    public var signatureID: Int
    public var revision: Int
    public var message: String
    public var severity: Severity
    public var category: String
    public var source: VerdictSource
    /// Points it added to the anomaly score.
    public var points: Int
    public var target: String
    public var snippet: [UInt8]

    public init(signatureID: Int, revision: Int, message: String, severity: Severity, category: String,
                source: VerdictSource, points: Int, target: String, snippet: [UInt8]) {
        self.signatureID = signatureID
        self.revision = revision
        self.message = message
        self.severity = severity
        self.category = category
        self.source = source
        self.points = points
        self.target = target
        self.snippet = snippet
    }
}

/// One alert: one incident, that is one request whose evidence reached the anomaly threshold
/// (or a request refused for its syntax). The top-level signature fields are those of the
/// evidence that added the most points; `matches` holds all of it. Fields that come from the
/// wire stay bytes until a formatter escapes them for its output.
public struct Alert: Sendable {
    public var timestamp: Timestamp
    public var flowID: UInt64
    public var transactionIndex: Int
    public var source: Endpoint
    public var destination: Endpoint
    public var method: [UInt8]
    public var host: [UInt8]?
    /// The request target exactly as on the wire.
    public var target: [UInt8]
    public var userAgent: [UInt8]?
    public var contentType: [UInt8]?
    public var httpVersion: String
    public var status: Int?
    public var responseLength: Int?
    public var signatureID: Int
    public var revision: Int
    public var message: String
    public var severity: Severity
    public var category: String
    public var verdictSource: VerdictSource
    public var score: Double?
    public var matchedTarget: String
    public var snippet: [UInt8]
    public var action: AlertAction
    public var anomalies: [String]
    /// Set by the blocking proxy: the id shown on the refusal page.
    public var incidentID: String?
    /// The request came out of a decrypted TLS session.
    public var tls: TLSConnectionInfo?
    /// Every piece of evidence, lead first then in rule-file order (the model last).
    public var matches: [AlertMatch] = []
    /// The total the evidence added up to.
    public var anomalyScore = 0

    public init(timestamp: Timestamp, flowID: UInt64, transactionIndex: Int, source: Endpoint, destination: Endpoint,
                method: [UInt8], host: [UInt8]?, target: [UInt8], userAgent: [UInt8]?, contentType: [UInt8]?,
                httpVersion: String, status: Int?, responseLength: Int?, signatureID: Int, revision: Int, message: String,
                severity: Severity, category: String, verdictSource: VerdictSource, score: Double?, matchedTarget: String,
                snippet: [UInt8], action: AlertAction, anomalies: [String], incidentID: String? = nil) {
        self.timestamp = timestamp
        self.flowID = flowID
        self.transactionIndex = transactionIndex
        self.source = source
        self.destination = destination
        self.method = method
        self.host = host
        self.target = target
        self.userAgent = userAgent
        self.contentType = contentType
        self.httpVersion = httpVersion
        self.status = status
        self.responseLength = responseLength
        self.signatureID = signatureID
        self.revision = revision
        self.message = message
        self.severity = severity
        self.category = category
        self.verdictSource = verdictSource
        self.score = score
        self.matchedTarget = matchedTarget
        self.snippet = snippet
        self.action = action
        self.anomalies = anomalies
        self.incidentID = incidentID
    }

    /// `http://` + Host + target: the URL as the original diffai reported it.
    public var url: [UInt8] { Array((tls == nil ? "http://" : "https://").utf8) + (host ?? []) + target }
}
