import Alerts
import Detection
import HTTP
import NIOCore
import NIOEmbedded
import NetworkTypes
import Synchronization
import Testing

@testable import Proxy

/// Alerts as the writer thread hands them to the outputs' listeners.
final class AlertCollector: Sendable {
    private let alerts = Mutex<[Alert]>([])
    func add(_ alert: Alert) { alerts.withLock { $0.append(alert) } }
    var all: [Alert] { alerts.withLock { $0 } }
}

/// The channel handler on NIO's embedded channel, with the real parser, detector and alert
/// writer and no backend (a request that would be forwarded waits for a connection that never
/// comes): what the client sees for refusals, blocks, 100-continue and the timeouts, on a clock
/// the test moves.
final class HandlerHarness {
    static let rules = #"""
    [{"id": 7001, "alert": "test attack", "action": "block", "conditions": [{"target": "uri", "operator": "contains", "value": "attack"}]}]
    """#

    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let inspector: RequestInspector
    let collector = AlertCollector()

    init(block: Bool = true, configure: (inout ProxyConfiguration) -> Void = { _ in }) throws {
        var configuration = ProxyConfiguration()
        configuration.block = block
        configure(&configuration)
        let outputs = AlertOutputs()
        let collector = self.collector
        outputs.listeners.append { collector.add($0) }
        let rules = try RuleSet(rules: RuleFile.parse(Array(Self.rules.utf8), fileName: "rules.json"))
        inspector = RequestInspector(detector: Detector(rules: rules), outputs: outputs)
        let shared = ProxyShared(configuration: configuration, inspector: inspector, pools: [:],
                                 listenEndpoint: Endpoint(address: IPAddress("127.0.0.1")!, port: 8080))
        channel = EmbeddedChannel(handler: ClientConnectionHandler(shared: shared), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.5", port: 40000)).wait()
    }

    /// Sends bytes as one read and returns what the proxy wrote back to the client.
    @discardableResult
    func send(_ text: String) throws -> String {
        var buffer = channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        try channel.writeInbound(buffer)
        return try written()
    }

    func written() throws -> String {
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { text += buffer.readString(length: buffer.readableBytes) ?? "" }
        return text
    }

    func advance(seconds: Int64) throws -> String {
        loop.advanceTime(by: .seconds(seconds))
        return try written()
    }

    /// Every alert, once the writer has written what was queued.
    func alerts() -> [Alert] {
        inspector.finish()
        return collector.all
    }

    /// The status of every response in what was written.
    static func statuses(_ written: String) -> [String] {
        written.split(separator: "\n").filter { $0.hasPrefix("HTTP/1.1 ") }.map { String($0.dropFirst(9).prefix(3)) }
    }

    static func incident(in page: String) -> String? {
        page.split(separator: "\r\n").first { $0.hasPrefix("X-Diffai-Incident: ") }.map { String($0.dropFirst(19)) }
    }
}

@Suite struct ClientConnectionHandlerTests {
    @Test func notHTTPIsRefusedAtOnceWithTheIncidentItsAlertNames() throws {
        let harness = try HandlerHarness()
        let page = try harness.send("\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}hello")
        #expect(page.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && page.contains("Connection: close\r\n"))
        #expect(!harness.channel.isActive)
        let alerts = harness.alerts()
        #expect(alerts.count == 1)
        #expect(alerts.first?.signatureID == ProxySignatures.malformed)
        #expect(alerts.first?.incidentID != nil && alerts.first?.incidentID == HandlerHarness.incident(in: page))
    }

    @Test func aBlockedRequestGetsA403AndTheConnectionGoesOn() throws {
        let harness = try HandlerHarness()
        let page = try harness.send("GET /attack HTTP/1.1\r\nHost: shop\r\n\r\nGET /fine HTTP/1.1\r\nHost: shop\r\n\r\n")
        #expect(page.hasPrefix("HTTP/1.1 403 Forbidden\r\n") && !page.contains("Connection: close"))
        // The second request waits for the backend: nothing more was written, the client is still connected.
        #expect(HandlerHarness.statuses(page) == ["403"])
        #expect(harness.channel.isActive)
        let alerts = harness.alerts()
        #expect(alerts.map(\.signatureID) == [7001])
        #expect(alerts.first?.action == .blocked && alerts.first?.status == 403)
        #expect(alerts.first?.incidentID == HandlerHarness.incident(in: page))
    }

    @Test func pipelinedRequestsWithARefusalInTheMiddle() throws {
        let harness = try HandlerHarness()
        let page = try harness.send("GET /attack HTTP/1.1\r\nHost: a\r\n\r\n" + "GET /two HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
            + "GET /three HTTP/1.1\r\nHost: a\r\n\r\n")
        // The block first, the refusal second, the third never answered: the stream after a
        // refused request is not trusted.
        #expect(HandlerHarness.statuses(page) == ["403", "400"])
        #expect(!harness.channel.isActive)
        #expect(harness.alerts().map(\.signatureID) == [7001, ProxySignatures.malformed])
    }

    @Test func aContinueIsSentOnlyForAHeadThatPassed() throws {
        let passed = try HandlerHarness()
        let interim = try passed.send("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
        let refused = try HandlerHarness()
        let page = try refused.send("POST /attack HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        #expect(page.hasPrefix("HTTP/1.1 403 Forbidden\r\n") && !page.contains("100 Continue"))
        // Its body was never sent: the connection cannot go on.
        #expect(page.contains("Connection: close\r\n") && !refused.channel.isActive)
    }

    @Test func aRequestLineTooLongIsRefusedAsSoonAsTheLimitIsPassed() throws {
        let harness = try HandlerHarness { $0.maxRequestLineBytes = 300 }
        #expect(try harness.send("GET /" + String(repeating: "a", count: 200)).isEmpty)
        let page = try harness.send(String(repeating: "b", count: 200))
        #expect(page.hasPrefix("HTTP/1.1 414 URI Too Long\r\n"))
        #expect(harness.alerts().map(\.signatureID) == [ProxySignatures.oversizeRequestLine])
    }

    @Test func anUnfinishedHeadTimesOutWith408AndAQuietClientIsJustClosed() throws {
        let partial = try HandlerHarness { $0.headerTimeoutSeconds = 10 }
        #expect(try partial.send("GET / HT").isEmpty)
        #expect(try partial.advance(seconds: 5).isEmpty)
        #expect(try partial.advance(seconds: 6).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(partial.alerts().isEmpty)
        let quiet = try HandlerHarness { $0.headerTimeoutSeconds = 10 }
        #expect(try quiet.advance(seconds: 11).isEmpty)
        #expect(!quiet.channel.isActive)
    }

    @Test func aBodyBelowTheMinimumRateIsRefusedWithAnAlert() throws {
        let harness = try HandlerHarness {
            $0.bodyTimeoutSeconds = 20
            $0.bodyMinimumRate = 500
            $0.headerTimeoutSeconds = 100
            $0.idleTimeoutSeconds = 1000
        }
        #expect(try harness.send("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789").isEmpty)
        // Ten bytes bought 20 ms: the body is due 20.02 s after its head.
        #expect(try harness.advance(seconds: 19).isEmpty)
        let page = try harness.advance(seconds: 2)
        #expect(page.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        let alerts = harness.alerts()
        #expect(alerts.map(\.signatureID) == [ProxySignatures.bodyTimeout])
        #expect(alerts.first?.incidentID == HandlerHarness.incident(in: page))
    }

    @Test func withoutBlockAnAttackWaitsForTheBackendLikeAnyRequest() throws {
        let harness = try HandlerHarness(block: false)
        #expect(try harness.send("GET /attack HTTP/1.1\r\nHost: a\r\n\r\n").isEmpty)
        #expect(harness.channel.isActive)
        // No backend connection yet, so nothing was forwarded and nothing alerted.
        #expect(harness.alerts().isEmpty)
    }
}
