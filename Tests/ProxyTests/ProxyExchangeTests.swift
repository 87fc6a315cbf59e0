import Detection
import HTTP
import NIOCore
import NetworkTypes
import Testing

@testable import Proxy

/// Heads as the proxy's parser hands them over, for feeding the state machine by hand.
final class HeadReader: HTTPMessageParserDelegate {
    var heads: [ParsedHead] = []
    func parser(_ parser: HTTPMessageParser, didParseHead head: ParsedHead) -> HeadDisposition {
        heads.append(head)
        return .framedByHeaders
    }
    func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {}
    func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {}
    func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {}
    func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {}

    /// The request and parsed head of `text` (a head, with or without its body).
    static func head(_ text: String) -> (HTTPRequest, ParsedHead) {
        let reader = HeadReader()
        let parser = HTTPMessageParser(kind: .request)
        parser.delegate = reader
        _ = Array(text.utf8).withUnsafeBytes { parser.parse($0, at: Timestamp(seconds: 1, microseconds: 0)) }
        let parsed = reader.heads[0]
        var request = HTTPRequest(parsed: parsed)
        request.finish(anomalies: [], complete: true, at: parsed.startTime, limits: HTTPParserLimits())
        return (request, parsed)
    }
}

/// The exchange of one client connection, driven event by event as the channel handler does;
/// each test walks one path through the states and checks every action on the way.
@Suite struct ProxyExchangeTests {
    static let endpoint = Endpoint(address: IPAddress("127.0.0.1")!, port: 40000)
    let time = Timestamp(seconds: 2, microseconds: 0)

    func exchange(block: Bool = false, failOpen: Bool = true, maxBody: Int = 1 << 20, inspectBody: Int = 1 << 20,
                  pipelined: Int = 16) -> ProxyExchange {
        var settings = ProxyExchange.Settings()
        settings.block = block
        settings.failOpen = failOpen
        settings.maxBodyBytes = maxBody
        settings.inspectBodyBytes = inspectBody
        settings.maxPipelinedRequests = pipelined
        return ProxyExchange(connection: HTTPConnectionInfo(id: 7, client: Self.endpoint, server: Self.endpoint), settings: settings)
    }

    /// Head and end of a request without a body.
    func receive(_ exchange: inout ProxyExchange, _ text: String) {
        let (request, parsed) = HeadReader.head(text)
        #expect(!result(of: exchange.receivedHead(request, parsed)))
        exchange.receivedEnd(anomalies: [], complete: true, at: time)
    }

    func body(_ exchange: inout ProxyExchange, _ text: String) {
        Array(text.utf8).withUnsafeBytes { exchange.receivedBody($0, allocator: ByteBufferAllocator()) }
    }

    /// The value of a call that changes the exchange, for `#expect` (whose checks take a
    /// call on a value as a call on a copy).
    func result<T>(of value: T) -> T { value }

    /// Asks for a backend connection and gets one (the first request's `connect`).
    func connect(_ exchange: inout ProxyExchange) {
        #expect(result(of: exchange.next()).map(Self.name) == "connect")
        exchange.upstreamConnected()
    }

    var incident: Verdict {
        var verdict = Verdict()
        verdict.isIncident = true
        return verdict
    }

    /// The names of the actions `next()` gives until it waits.
    func drain(_ exchange: inout ProxyExchange) -> [String] {
        var names: [String] = []
        while let action = exchange.next() { names.append(Self.name(action)) }
        return names
    }

    static func name(_ action: ProxyExchange.Action) -> String {
        switch action {
        case .inspect(_, let again): again ? "inspect again" : "inspect"
        case .sendContinue: "continue"
        case .connectUpstream: "connect"
        case .forward(let head, _, let body, let end):
            "forward" + (head != nil ? " head" : "") + (body.isEmpty ? "" : " body \(body.reduce(0) { $0 + $1.readableBytes })") + (end ? " end" : "")
        case .alert(let verdict, _): verdict == nil ? "alert (judge now)" : "alert"
        case .block(_, _, let close): close ? "block, close" : "block"
        case .refuse(let refusal, let transaction): "refuse \(refusal.status)" + (transaction == nil ? "" : " with alert")
        case .close(let abandoning): abandoning == nil ? "close" : "close, alert \(abandoning!.0.status)"
        case .finish: "finish"
        case .awaitRequest: "await request"
        }
    }

    @Test func aRequestIsForwardedAnsweredAndTheNextAwaited() {
        var exchange = exchange()
        receive(&exchange, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(drain(&exchange) == ["connect"])
        #expect(exchange.upstream == .connecting)
        exchange.upstreamConnected()
        #expect(drain(&exchange) == ["forward head", "alert (judge now)"])
        #expect(exchange.frontIsUpstream && !exchange.frontIsResponding)
        #expect(result(of: exchange.responseBytesArrived()))
        #expect(exchange.frontIsResponding)
        #expect(result(of: exchange.responseFinished(reusable: true, closeRequested: false)) == .init(keepUpstream: true, closeClient: false))
        #expect(drain(&exchange) == ["await request"])
        #expect(exchange.queue.isEmpty && exchange.upstream == .connected && exchange.lifecycle == .open)
        // The kept connection serves the next request without connecting again.
        receive(&exchange, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(drain(&exchange) == ["forward head", "alert (judge now)"])
        #expect(exchange.queue[0].transaction.index == 1)
    }

    @Test func aBodyStreamsAsItArrivesAndAChunkedOneEndsWithItsLastChunk() {
        var exchange = exchange()
        let (request, parsed) = HeadReader.head("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        connect(&exchange)
        #expect(drain(&exchange) == ["forward head"])
        body(&exchange, "hello")
        #expect(drain(&exchange) == ["forward body 5"])
        body(&exchange, "world!")
        exchange.receivedEnd(anomalies: [], complete: true, at: time)
        #expect(drain(&exchange) == ["forward body 6 end", "alert (judge now)"])
    }

    @Test func withBlockTheHeadIsJudgedFirstThenTheWholeRequest() {
        var exchange = exchange(block: true)
        let (request, parsed) = HeadReader.head("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        #expect(drain(&exchange) == ["inspect"])
        #expect(result(of: exchange.inspected(Verdict())) == nil)
        // The head passed: the client waiting for 100 may send its body, once.
        #expect(drain(&exchange) == ["continue"])
        #expect(drain(&exchange).isEmpty)
        body(&exchange, "a=12")
        exchange.receivedEnd(anomalies: [], complete: true, at: time)
        #expect(drain(&exchange) == ["inspect again"])
        #expect(result(of: exchange.inspected(Verdict())) == nil)
        #expect(drain(&exchange) == ["connect"])
        exchange.upstreamConnected()
        #expect(drain(&exchange) == ["forward head body 4", "alert"])
    }

    @Test func anAttackInTheHeadIsBlockedBeforeItsBodyAndWithoutA100() {
        var exchange = exchange(block: true)
        let (request, parsed) = HeadReader.head("POST /f?q=1'%20or%201=1-- HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        #expect(drain(&exchange) == ["inspect"])
        guard let action = exchange.inspected(incident) else {
            Issue.record("no action for an incident")
            return
        }
        // Its body was never read: the connection cannot go on.
        #expect(Self.name(action) == "block, close")
        #expect(exchange.lifecycle == .closing && !exchange.wantsInput)
        #expect(drain(&exchange).isEmpty)
    }

    @Test func aBlockedCompleteRequestLeavesTheConnectionUsable() {
        var exchange = exchange(block: true)
        receive(&exchange, "GET /?q=<script> HTTP/1.1\r\nHost: x\r\n\r\n")
        receive(&exchange, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(drain(&exchange) == ["inspect"])
        #expect(result(of: exchange.inspected(incident)).map(Self.name) == "block")
        #expect(exchange.lifecycle == .open && exchange.queue.count == 1)
        #expect(drain(&exchange) == ["inspect"])
        #expect(result(of: exchange.inspected(Verdict())) == nil)
        #expect(drain(&exchange) == ["connect"])
    }

    @Test func aDetectionFailureIsForwardedOrRefusedAsConfigured() {
        var failed = Verdict()
        failed.limitedRules = [42]
        var open = exchange(block: true)
        receive(&open, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(drain(&open) == ["inspect"])
        #expect(result(of: open.inspected(failed)) == nil)
        var closed = exchange(block: true, failOpen: false)
        receive(&closed, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(drain(&closed) == ["inspect"])
        #expect(result(of: closed.inspected(failed)).map(Self.name) == "block")
    }

    @Test func pipelinedRequestsWithARefusalInTheMiddleAreAnsweredInOrderUpToIt() {
        var exchange = exchange()
        receive(&exchange, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        receive(&exchange, "GET /2 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
        receive(&exchange, "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(exchange.queue.map(\.refusal) == [nil, .malformed, nil])
        connect(&exchange)
        #expect(drain(&exchange) == ["forward head", "alert (judge now)"])
        #expect(result(of: exchange.responseBytesArrived()))
        #expect(result(of: exchange.responseFinished(reusable: true, closeRequested: false)).closeClient == false)
        // The second is refused with its alert; the third is never forwarded.
        #expect(drain(&exchange) == ["refuse 400 with alert"])
        #expect(exchange.lifecycle == .closing && exchange.queue.count == 2)
        #expect(drain(&exchange).isEmpty)
    }

    @Test func declaredTooLargeIsRefusedBeforeAnyContinue() {
        var exchange = exchange(block: true, maxBody: 1000)
        let (request, parsed) = HeadReader.head("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        #expect(drain(&exchange) == ["refuse 413 with alert"])
    }

    @Test func aBodyGrowingPastTheLimitIsRefusedAndNotHeld() {
        var exchange = exchange(maxBody: 8)
        let (request, parsed) = HeadReader.head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        body(&exchange, "0123456789")
        #expect(exchange.queue[0].refusal == .bodyTooLarge && exchange.queue[0].heldBytes == 0)
        #expect(drain(&exchange) == ["refuse 413 with alert"])
    }

    @Test func anUnparsableHeadIsRefusedInItsTurnAfterWhatIsOwed() {
        var exchange = exchange()
        receive(&exchange, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        connect(&exchange)
        #expect(drain(&exchange) == ["forward head", "alert (judge now)"])
        exchange.receivedUnparsable(.requestLineTooLong, prefix: Array("GET /aaaa".utf8), at: time)
        #expect(!exchange.wantsBytes && !exchange.wantsInput)
        #expect(drain(&exchange).isEmpty)
        #expect(result(of: exchange.responseBytesArrived()))
        _ = exchange.responseFinished(reusable: true, closeRequested: false)
        #expect(drain(&exchange) == ["refuse 414 with alert"])
        #expect(exchange.queue.last?.transaction.request.anomalies.contains(.oversizeStartLine) == true)
    }

    @Test func lostFramingMidBodyAfterTheHeadWentUpstreamCutsBothConnections() {
        var exchange = exchange()
        let (request, parsed) = HeadReader.head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        connect(&exchange)
        #expect(drain(&exchange) == ["forward head"])
        exchange.lostSync(prefix: [], at: time)
        #expect(drain(&exchange) == ["close, alert 400"])
        #expect(exchange.lifecycle == .closed)
    }

    @Test func theBackendClosingMidResponseEndsTheClientConnection() {
        // Cut short: the client is cut too.
        var cut = exchange()
        receive(&cut, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        connect(&cut)
        _ = drain(&cut)
        #expect(result(of: cut.responseBytesArrived()))
        #expect(result(of: cut.upstreamClosed(endedResponse: false, wasReused: false)).map(Self.name) == "close")
        // Delimited by the close: the client's connection ends once the response is out.
        var delimited = exchange()
        receive(&delimited, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        connect(&delimited)
        _ = drain(&delimited)
        #expect(result(of: delimited.responseBytesArrived()))
        #expect(result(of: delimited.upstreamClosed(endedResponse: true, wasReused: false)).map(Self.name) == "finish")
        #expect(delimited.lifecycle == .closing)
    }

    @Test func aReusedConnectionClosedBeforeAnsweringIsRetriedOnceThen502() {
        var exchange = exchange()
        let (request, parsed) = HeadReader.head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        exchange.receivedEnd(anomalies: [], complete: true, at: time)
        connect(&exchange)
        #expect(drain(&exchange) == ["forward head end", "alert (judge now)"])
        // The backend's idle timeout closed the kept connection as the request went out.
        #expect(result(of: exchange.upstreamClosed(endedResponse: false, wasReused: true)).map(Self.name) == "connect")
        exchange.upstreamConnected()
        // Sent again whole: head and the last chunk, without a second alert.
        #expect(drain(&exchange) == ["forward head end"])
        #expect(result(of: exchange.upstreamClosed(endedResponse: false, wasReused: true)).map(Self.name) == "refuse 502")
        #expect(exchange.lifecycle == .closing)
    }

    @Test func aResponseBeforeTheBodyEndsClosesTheClientAndStopsReading() {
        var exchange = exchange()
        let (request, parsed) = HeadReader.head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        #expect(result(of: exchange.receivedHead(request, parsed)))
        connect(&exchange)
        #expect(drain(&exchange) == ["forward head"])
        #expect(result(of: exchange.responseBytesArrived()))
        #expect(result(of: exchange.responseFinished(reusable: true, closeRequested: false)) == .init(keepUpstream: false, closeClient: true))
        #expect(exchange.input == .stopped && exchange.queue.isEmpty && exchange.upstream == .none)
    }

    @Test func bytesNobodyAskedForAreRejected() {
        var exchange = exchange()
        #expect(!result(of: exchange.responseBytesArrived()))
        receive(&exchange, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(!result(of: exchange.responseBytesArrived()))
    }

    @Test func aSlowBodyIsRefusedInItsTurnOrCutWhenItsHeadWentUpstream() {
        // Behind an answer still owed: refused after it.
        var behind = exchange(block: true)
        receive(&behind, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        let (request, parsed) = HeadReader.head("POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        #expect(drain(&behind) == ["inspect"])
        #expect(result(of: behind.inspected(Verdict())) == nil)
        #expect(result(of: behind.receivedHead(request, parsed)))
        #expect(result(of: behind.bodyTimedOut()).map(Self.name) == "connect")
        behind.upstreamConnected()
        #expect(drain(&behind) == ["forward head", "alert"])
        #expect(result(of: behind.responseBytesArrived()))
        _ = behind.responseFinished(reusable: true, closeRequested: false)
        #expect(drain(&behind) == ["refuse 408 with alert"])
        // Already forwarding: both connections are cut.
        var forwarding = exchange()
        let (post, head) = HeadReader.head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        #expect(result(of: forwarding.receivedHead(post, head)))
        connect(&forwarding)
        _ = drain(&forwarding)
        #expect(result(of: forwarding.bodyTimedOut()).map(Self.name) == "close, alert 408")
    }

    @Test func timeoutsWithoutARequestToBlame() {
        var quiet = exchange()
        #expect(result(of: quiet.headTimedOut(partialHead: false)).map(Self.name) == "close")
        var partial = exchange()
        #expect(result(of: partial.headTimedOut(partialHead: true)).map(Self.name) == "refuse 408")
        // A head timeout while requests are owed answers is not the client's fault.
        var owed = exchange()
        receive(&owed, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(result(of: owed.headTimedOut(partialHead: true)) == nil)
        // Idle with a request still waiting for its turn: 408; once its head went upstream: cut.
        #expect(result(of: owed.idleTimedOut()).map(Self.name) == "refuse 408")
        var upstream = exchange()
        receive(&upstream, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        connect(&upstream)
        _ = drain(&upstream)
        #expect(result(of: upstream.idleTimedOut()).map(Self.name) == "close")
        #expect(result(of: upstream.idleTimedOut()) == nil)
    }

    @Test func readingAheadIsBoundedByTheNumberOfRequestsWaiting() {
        var exchange = exchange(pipelined: 3)
        for index in 0..<3 {
            #expect(exchange.wantsInput, "after \(index) requests")
            receive(&exchange, "GET /\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        #expect(!exchange.wantsInput && exchange.wantsBytes)
    }

    @Test func theBackendBeingDownIsA502WithoutAnAlert() {
        var exchange = exchange()
        receive(&exchange, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(drain(&exchange) == ["connect"])
        #expect(result(of: exchange.upstreamUnavailable()).map(Self.name) == "refuse 502")
        #expect(drain(&exchange).isEmpty)
    }

    @Test func everyRefusalHasItsOwnStatusAndPage() {
        let all: [Refusal] = [.malformed, .notHTTP, .requestLineTooLong, .headersTooLarge, .bodyTooLarge, .methodNotServed,
                              .bodyTooSlow, .headTooSlow, .requestTooSlow, .upstreamUnreachable, .upstreamClosedEarly]
        for refusal in all {
            let page = String(decoding: refusal.page(incident: "x-1"), as: UTF8.self)
            #expect(page.hasPrefix("HTTP/1.1 \(refusal.status) \(refusal.reason)\r\n"), "\(refusal)")
            #expect(page.contains("Connection: close\r\n") && page.contains(refusal.explanation), "\(refusal)")
        }
        #expect(Set(all.compactMap(\.signature)).count == 5)
    }
}
