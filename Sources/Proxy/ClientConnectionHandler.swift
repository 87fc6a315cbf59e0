import Detection
import HTTP
import NIOCore
import NIOPosix
import NetworkTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One request on a client connection, from its head to the end of its response.
final class ProxiedRequest {
    enum Decision { case undecided, forward, refused }

    let transaction: HTTPTransaction
    let framing: UpstreamHead.Framing
    let expectsContinue: Bool
    let isHeadMethod: Bool
    let wantsClose: Bool
    var decision = Decision.undecided
    /// Set when the request must be answered by the proxy itself: status, reason, why.
    var refusal: (status: Int, reason: String, explanation: String, signature: Int)?
    var complete = false
    /// Body bytes received but not yet sent upstream.
    var heldBody: [ByteBuffer] = []
    var heldBytes = 0
    var headSent = false
    /// The last chunk (`0\r\n\r\n`) of a chunked body went upstream.
    var bodyFinished = false
    var continueSent = false
    var verdict: Verdict?
    /// With --block: the head (and any body already in) was inspected once on arrival.
    var headInspected = false
    var alerted = false
    var retried = false
    /// Body bytes already written upstream (a request whose body went out cannot be resent).
    var sentBodyBytes = 0
    var responseStarted = false

    init(transaction: HTTPTransaction, framing: UpstreamHead.Framing, expectsContinue: Bool, isHeadMethod: Bool, wantsClose: Bool) {
        self.transaction = transaction
        self.framing = framing
        self.expectsContinue = expectsContinue
        self.isHeadMethod = isHeadMethod
        self.wantsClose = wantsClose
    }

    /// A copy of the request (a retain per stored array): for handing it to detection. Single
    /// fields are read through `transaction.request`, which copies nothing.
    var request: HTTPRequest { transaction.request }
}

/// Everything the connections of one proxy share.
///
/// Sendable by how it is used: its properties are constants or atomics, and each of `pools`
/// (not Sendable) is only ever taken by the handler running on that pool's own event loop.
final class ProxyShared: @unchecked Sendable {
    let configuration: ProxyConfiguration
    let inspector: RequestInspector
    let pools: [ObjectIdentifier: UpstreamPool]
    let listenEndpoint: Endpoint
    private let connectionCounter = Atomic<UInt64>(0)
    private let openConnections = Atomic<Int>(0)
    private let lastTrim = Atomic<Int64>(0)

    init(configuration: ProxyConfiguration, inspector: RequestInspector, pools: [ObjectIdentifier: UpstreamPool], listenEndpoint: Endpoint) {
        self.configuration = configuration
        self.inspector = inspector
        self.pools = pools
        self.listenEndpoint = listenEndpoint
    }

    func nextConnectionID() -> UInt64 { connectionCounter.add(1, ordering: .relaxed).newValue }

    func connectionOpened() { openConnections.add(1, ordering: .relaxed) }

    /// When the last client of a burst has gone, the allocator is asked to give freed memory
    /// back to the system (glibc keeps it in its arenas otherwise: after a flood of
    /// connections the proxy would stay at its peak). A second later, when the closed
    /// connections' buffers are freed too, and only if no client came back meanwhile; at most
    /// once a second.
    func connectionClosed(on eventLoop: EventLoop) {
        guard openConnections.subtract(1, ordering: .relaxed).newValue == 0 else { return }
        eventLoop.scheduleTask(in: .seconds(1)) { [self] in
            guard openConnections.load(ordering: .relaxed) == 0 else { return }
            let now = Int64(SystemClock.monotonicSeconds())
            let last = lastTrim.load(ordering: .relaxed)
            guard now > last, lastTrim.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
            _ = Self.mallocTrim?(0)
        }
    }

    /// glibc's `malloc_trim` (not in the Glibc module's headers), looked up once; nil elsewhere.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}

/// The client side of the proxy: requests are read with diffai's own HTTP parser (the one the
/// monitor uses, so the proxy and the IDS cannot disagree about where a request ends), refused
/// when their framing is ambiguous, inspected, and forwarded one at a time over a pooled
/// upstream connection; responses stream back byte for byte. Pipelined requests queue up and
/// are answered in order. Reads are manual (autoRead off) so that a client sending faster than
/// the backend accepts is slowed down instead of buffered.
final class ClientConnectionHandler: ChannelInboundHandler, HTTPMessageParserDelegate, UpstreamOwner {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: ProxyShared
    private var configuration: ProxyConfiguration { shared.configuration }
    private let parser: HTTPMessageParser
    private let limits: HTTPParserLimits
    private var context: ChannelHandlerContext?
    private var connection = HTTPConnectionInfo(id: 0, client: Endpoint(address: IPAddress("0.0.0.0")!, port: 0), server: Endpoint(address: IPAddress("0.0.0.0")!, port: 0))
    private var nextIndex = 0
    /// The client's address as X-Forwarded-For gets it.
    private var forwardedForAddress: [UInt8] = []
    private var queue: [ProxiedRequest] = []
    private var parsing: ProxiedRequest?
    private var upstream: UpstreamConnection?
    private var connecting = false
    private var responseParser: HTTPMessageParser?
    private var idleResponseParser: HTTPMessageParser?
    private let responseTracker = ResponseTracker()
    /// When the head being waited for must be complete; nil while none is awaited.
    private var headerDeadline: NIODeadline?
    private var headerTimer: Scheduled<Void>?
    private var headerTimerFiresAt: NIODeadline?
    /// Bumped by every read from the client or the backend; the idle check compares it.
    private var activity = 0
    private var activityAtLastCheck = 0
    private var lastActive = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var closing = false
    private var readPending = false
    /// The client's bytes are no longer parsed: a request was refused before its head was
    /// complete (too long, or not HTTP); what is owed goes out, then the connection closes.
    private var stopReading = false
    /// When the body being read must be complete (see `ProxyConfiguration.bodyTimeoutSeconds`).
    private var bodyDeadline: NIODeadline?
    private static let pipelineBufferLimit = 1 << 20

    init(shared: ProxyShared) {
        self.shared = shared
        var limits = HTTPParserLimits()
        limits.maxHeaderBytes = shared.configuration.maxHeaderBytes
        limits.maxStartLineBytes = shared.configuration.maxRequestLineBytes
        limits.maxInspectedBodyBytes = shared.configuration.inspectBodyBytes
        self.limits = limits
        parser = HTTPMessageParser(kind: .request, limits: limits)
        parser.delegate = nil
    }

    // MARK: channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        parser.delegate = self
        let client = Self.endpoint(context.channel.remoteAddress) ?? connection.client
        let server = Self.endpoint(context.channel.localAddress) ?? shared.listenEndpoint
        connection = HTTPConnectionInfo(id: shared.nextConnectionID(), client: client, server: server)
        forwardedForAddress = Array(client.address.description.utf8)
        shared.connectionOpened()
        armHeaderTimer()
        lastActive = .now()
        scheduleIdleCheck(on: context.eventLoop)
        requestRead()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.context != nil { shared.connectionClosed(on: context.eventLoop) }
        closing = true
        headerTimer?.cancel()
        idleTimer?.cancel()
        if let upstream {
            self.upstream = nil
            if queue.first?.headSent != true, let pool = shared.pools[ObjectIdentifier(context.eventLoop)] {
                // Between exchanges: the backend connection is still good for someone else.
                pool.release(upstream)
            } else {
                // Mid-exchange: the backend connection cannot be reused.
                upstream.close()
            }
        }
        parser.delegate = nil
        responseParser?.delegate = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readPending = false
        activity &+= 1
        guard !closing, !stopReading else { return }
        let buffer = unwrapInboundIn(data)
        let now = SystemClock.now()
        let isHTTP = buffer.withUnsafeReadableBytes { parser.parse($0, at: now) }
        if !isHTTP && !stopReading {
            // Not HTTP at all: refused now, not when a timeout notices.
            refuseUnparsed(status: 400, reason: "Bad Request", explanation: "The request is not HTTP.",
                           signature: ProxySignatures.malformed, anomaly: .invalidStartLine,
                           prefix: buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, 256)) ?? [])
        }
        pump()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Nothing to flush: every write to the client is flushed where it is made.
        requestRead()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client drains what the backend sent: ask the backend for more.
        if context.channel.isWritable, let upstream, queue.first?.responseStarted == true { upstream.read() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Reads from the client only while what is held for forwarding stays small.
    private func requestRead() {
        guard let context, !closing, !readPending, !stopReading else { return }
        // Requests read ahead of their responses are bounded: a client that pipelines and never
        // reads is not read either (TCP's window then slows it down).
        guard queue.count < configuration.maxPipelinedRequests else { return }
        let held = queue.reduce(0) { $0 + $1.heldBytes }
        guard held < Self.pipelineBufferLimit else { return }
        if let upstream, queue.first?.headSent == true, !upstream.isWritable { return }
        readPending = true
        context.read()
    }

    // MARK: request parsing (HTTPMessageParserDelegate)

    func parser(_ parser: HTTPMessageParser, didParseHead parsed: ParsedHead) -> HeadDisposition {
        headerDeadline = nil
        guard parser === self.parser, !stopReading else { return .framedByHeaders }
        var request = HTTPRequest(parsed: parsed)
        request.finish(anomalies: [], complete: true, at: parsed.startTime, limits: limits)
        let transaction = HTTPTransaction(connection: connection, index: nextIndex, request: request)
        nextIndex += 1
        let head = parsed.head
        // The parser's reading of Content-Length / Transfer-Encoding, not a second one.
        let framing: UpstreamHead.Framing
        var declaredLength = 0
        switch parsed.framing {
        case .chunked: framing = .chunked
        case .length(let length):
            declaredLength = length
            framing = length > 0 ? .length(length) : .none
        case .none, .untilClose: framing = .none
        }
        let expects = head.value(of: "expect", is: "100-continue")
        let wantsClose = head.value(of: "connection", contains: "close")
            || (parsed.version == .http10 && !head.value(of: "connection", contains: "keep-alive"))
        let proxied = ProxiedRequest(transaction: transaction, framing: framing, expectsContinue: expects,
                                     isHeadMethod: request.isMethod("HEAD"), wantsClose: wantsClose)
        let anomalies = parsed.anomalies
        if anomalies.contains(.oversizeHeaders) {
            proxied.refusal = (431, "Request Header Fields Too Large", "The request headers are larger than this site accepts.", ProxySignatures.oversizeHeaders)
        } else if !anomalies.intersection(RequestSyntax.refused).isEmpty {
            proxied.refusal = (400, "Bad Request", "The request is malformed.", ProxySignatures.malformed)
        } else if declaredLength > configuration.maxBodyBytes {
            proxied.refusal = (413, "Content Too Large", "The request body is larger than this site accepts.", ProxySignatures.oversizeBody)
        } else if request.isMethod("CONNECT") {
            proxied.refusal = (405, "Method Not Allowed", "CONNECT is not served here.", ProxySignatures.malformed)
        }
        queue.append(proxied)
        parsing = proxied
        if case .none = framing {} else { startBodyClock() }
        return .framedByHeaders
    }

    /// The head passed a limit: refused as soon as the limit is passed, however the head is cut
    /// into segments (not when it ends, nor when a timeout notices).
    func parser(_ parser: HTTPMessageParser, headExceeds limit: HTTPAnomalies) {
        guard parser === self.parser, !stopReading else { return }
        if limit == .oversizeStartLine {
            refuseUnparsed(status: 414, reason: "URI Too Long", explanation: "The request line is longer than this site accepts.",
                           signature: ProxySignatures.oversizeRequestLine, anomaly: limit, prefix: parser.headPrefix())
        } else {
            refuseUnparsed(status: 431, reason: "Request Header Fields Too Large", explanation: "The request headers are larger than this site accepts.",
                           signature: ProxySignatures.oversizeHeaders, anomaly: limit, prefix: parser.headPrefix())
        }
    }

    /// A request the parser cannot hand over whole is refused in its turn, after the responses
    /// already owed on the connection, and nothing more is read from the client.
    private func refuseUnparsed(status: Int, reason: String, explanation: String, signature: Int, anomaly: HTTPAnomalies, prefix: [UInt8]) {
        stopReading = true
        headerDeadline = nil
        bodyDeadline = nil
        let request = HTTPRequest.placeholder(startOf: prefix, anomalies: anomaly, at: SystemClock.now())
        let proxied = ProxiedRequest(transaction: HTTPTransaction(connection: connection, index: nextIndex, request: request),
                                     framing: .none, expectsContinue: false, isHeadMethod: false, wantsClose: true)
        nextIndex += 1
        proxied.refusal = (status, reason, explanation, signature)
        proxied.complete = true
        if let current = parsing, current.refusal == nil {
            // Cut short by this: it can no longer be forwarded cleanly.
            current.refusal = (400, "Bad Request", "The request is malformed.", ProxySignatures.malformed)
            current.complete = true
        }
        parsing = nil
        queue.append(proxied)
    }

    /// Starts the body's clock: `bodyTimeoutSeconds` from now, extended as bytes arrive.
    private func startBodyClock() {
        bodyDeadline = .now() + .milliseconds(Int64(configuration.bodyTimeoutSeconds * 1000))
        scheduleDeadlineCheck()
    }

    func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {
        guard let proxied = parsing else { return }
        if let deadline = bodyDeadline {
            // One second more for every bodyMinimumRate bytes, as mod_reqtimeout extends it.
            bodyDeadline = deadline + .nanoseconds(Int64(body.count) * 1_000_000_000 / Int64(max(1, configuration.bodyMinimumRate)))
        }
        proxied.transaction.request.appendBody(body, limits: limits)
        if proxied.transaction.request.bodyLength > configuration.maxBodyBytes, proxied.refusal == nil {
            proxied.refusal = (413, "Content Too Large", "The request body is larger than this site accepts.", ProxySignatures.oversizeBody)
        }
        guard proxied.refusal == nil, proxied.decision != .refused else { return }
        var buffer = context?.channel.allocator.buffer(capacity: body.count) ?? ByteBuffer()
        buffer.writeBytes(body)
        proxied.heldBody.append(buffer)
        proxied.heldBytes += body.count
    }

    func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {
        parsing?.transaction.request.setTrailers(trailers)
    }

    func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
        guard let proxied = parsing else { return }
        parsing = nil
        bodyDeadline = nil
        proxied.transaction.request.finish(anomalies: anomalies, complete: complete, at: time, limits: limits)
        proxied.complete = true
        if proxied.refusal == nil, !complete || !anomalies.intersection(RequestSyntax.refused).isEmpty {
            proxied.refusal = (400, "Bad Request", "The request is malformed.", ProxySignatures.malformed)
        }
    }

    func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {
        guard !stopReading else { return }
        // Framing is gone (an invalid chunk, or a line that starts no request): nothing after
        // this can be trusted.
        if let proxied = parsing {
            if proxied.refusal == nil { proxied.refusal = (400, "Bad Request", "The request is malformed.", ProxySignatures.malformed) }
            proxied.complete = true
            parsing = nil
            stopReading = true
        } else {
            refuseUnparsed(status: 400, reason: "Bad Request", explanation: "The request is malformed.",
                           signature: ProxySignatures.malformed, anomaly: .invalidStartLine, prefix: parser.headPrefix())
        }
    }

    // MARK: the exchange

    /// Moves the oldest request forward as far as it can go now.
    private func pump() {
        guard let context, !closing, let proxied = queue.first else { return }
        if let refusal = proxied.refusal, proxied.decision != .forward || !proxied.headSent {
            refuse(proxied, refusal)
            return
        }
        if proxied.refusal != nil {
            // Already forwarding (a bad chunk mid-body): the exchange cannot be finished cleanly.
            shared.inspector.emitViolation("Malformed request body (connection closed)", signatureID: ProxySignatures.malformed,
                                           for: proxied.transaction, incident: IncidentID.make(), status: 400)
            context.close(promise: nil)
            return
        }
        if proxied.decision == .undecided {
            if configuration.block {
                // At most two inspections per request: on arrival of the head (so an attack in
                // the URL or headers is refused before its body is read), and once the body is
                // complete or the inspection limit is reached.
                let inspectedEnough = proxied.complete || proxied.transaction.request.bodyLength >= configuration.inspectBodyBytes
                if !proxied.headInspected {
                    proxied.headInspected = true
                    let verdict = shared.inspector.inspect(proxied.request, client: proxied.transaction.client.address)
                    if verdict.isIncident || (verdict.failed && !configuration.failOpen) {
                        block(proxied, verdict)
                        return
                    }
                    proxied.verdict = verdict
                }
                if !inspectedEnough {
                    // The head passed: let a client waiting for 100 send its body.
                    sendContinueIfExpected(proxied)
                    return
                }
                if proxied.transaction.request.bodyLength > 0 {
                    let verdict = shared.inspector.inspect(proxied.request, client: proxied.transaction.client.address, again: true)
                    if verdict.isIncident || (verdict.failed && !configuration.failOpen) {
                        block(proxied, verdict)
                        return
                    }
                    proxied.verdict = verdict
                }
            }
            proxied.decision = .forward
            sendContinueIfExpected(proxied)
        }
        forward(proxied)
        if proxied.complete, proxied.heldBody.isEmpty, proxied.headSent, !proxied.alerted {
            proxied.alerted = true
            // Out of band for a forwarding proxy: the request is already on its way.
            let verdict = proxied.verdict ?? shared.inspector.inspect(proxied.request, client: proxied.transaction.client.address)
            shared.inspector.emit(verdict, for: proxied.transaction, blocked: false, incident: nil, status: nil)
        }
        // What was held has gone upstream: the client may send more.
        requestRead()
    }

    private func sendContinueIfExpected(_ proxied: ProxiedRequest) {
        guard proxied.expectsContinue, !proxied.continueSent, !proxied.complete, let context else { return }
        proxied.continueSent = true
        var buffer = context.channel.allocator.buffer(capacity: ProxyResponse.continueInterim.count)
        buffer.writeBytes(ProxyResponse.continueInterim)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func forward(_ proxied: ProxiedRequest) {
        guard let context else { return }
        guard let upstream else {
            guard !connecting, let pool = shared.pools[ObjectIdentifier(context.eventLoop)] else { return }
            connecting = true
            pool.acquire { [self] result in
                connecting = false
                switch result {
                case .success(let connection):
                    guard !closing else { pool.release(connection); return }
                    connection.owner = self
                    upstream = connection
                    pump()
                case .failure:
                    respondAndClose(status: 502, reason: "Bad Gateway", explanation: "The site's server cannot be reached.")
                }
            }
            return
        }
        if !proxied.headSent {
            proxied.headSent = true
            upstream.exchanges += 1
            var buffer = context.channel.allocator.buffer(capacity: proxied.transaction.request.head.storage.count + 96)
            UpstreamHead.write(for: proxied.request, forwardedFor: forwardedForAddress, framing: proxied.framing, into: &buffer)
            upstream.write(buffer)
            // The last exchange's parser is reused when it ended cleanly between messages.
            let responses = idleResponseParser.flatMap { $0.isIdle ? $0 : nil } ?? HTTPMessageParser(kind: .response)
            idleResponseParser = nil
            responseTracker.reset(expectNoBody: proxied.isHeadMethod)
            responses.delegate = responseTracker
            responseParser = responses
            upstream.read()
        }
        for chunk in proxied.heldBody {
            proxied.sentBodyBytes += chunk.readableBytes
            switch proxied.framing {
            case .chunked:
                var framed = context.channel.allocator.buffer(capacity: chunk.readableBytes + 16)
                framed.writeString(String(chunk.readableBytes, radix: 16) + "\r\n")
                framed.writeImmutableBuffer(chunk)
                framed.writeString("\r\n")
                upstream.write(framed)
            default:
                upstream.write(chunk)
            }
        }
        proxied.heldBody.removeAll()
        proxied.heldBytes = 0
        if proxied.complete, case .chunked = proxied.framing, !proxied.bodyFinished {
            proxied.bodyFinished = true
            var end = context.channel.allocator.buffer(capacity: 5)
            end.writeString("0\r\n\r\n")
            upstream.write(end)
        }
        upstream.flush()
    }

    private func block(_ proxied: ProxiedRequest, _ verdict: Verdict) {
        proxied.decision = .refused
        let incident = IncidentID.make()
        if verdict.isIncident {
            shared.inspector.emit(verdict, for: proxied.transaction, blocked: true, incident: incident, status: 403)
        } else {
            shared.inspector.emitViolation("Detection failed; request refused (fail-closed)", signatureID: ProxySignatures.detectionFailed,
                                           for: proxied.transaction, incident: incident, status: 503)
        }
        let page = verdict.isIncident ? ProxyResponse.blocked(incident: incident)
            : ProxyResponse.page(status: 503, reason: "Service Unavailable", explanation: "The request could not be inspected.", incident: incident, close: false)
        finishLocally(proxied, page: page, status: verdict.isIncident ? 403 : 503)
    }

    private func refuse(_ proxied: ProxiedRequest, _ refusal: (status: Int, reason: String, explanation: String, signature: Int)) {
        proxied.decision = .refused
        let incident = IncidentID.make()
        let names = proxied.request.anomalies.names.joined(separator: ", ")
        shared.inspector.emitViolation("Request refused (\(refusal.status)): \(names.isEmpty ? refusal.reason : names)",
                                       signatureID: refusal.signature, for: proxied.transaction, incident: incident, status: refusal.status)
        // The stream after a refused request cannot be trusted to be in sync: close.
        let page = ProxyResponse.page(status: refusal.status, reason: refusal.reason, explanation: refusal.explanation, incident: incident, close: true)
        write(page)
        closeAfterFlush()
    }

    /// Answers a request without the backend. The connection stays usable only when the
    /// request was read to its end.
    private func finishLocally(_ proxied: ProxiedRequest, page: [UInt8], status: Int) {
        guard proxied.complete, !proxied.wantsClose else {
            write(Self.withClose(page))
            closeAfterFlush()
            return
        }
        write(page)
        queue.removeFirst()
        if queue.isEmpty { armHeaderTimer() }
        pump()
        requestRead()
    }

    private func respondAndClose(status: Int, reason: String, explanation: String) {
        write(ProxyResponse.page(status: status, reason: reason, explanation: explanation, incident: nil, close: true))
        closeAfterFlush()
    }

    private func write(_ bytes: [UInt8]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func closeAfterFlush() {
        guard let context, !closing else { return }
        closing = true
        headerTimer?.cancel()
        let channel = context.channel
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    static func withClose(_ page: [UInt8]) -> [UInt8] {
        let marker = Array("Connection: close\r\n".utf8)
        if page.firstRange(of: marker) != nil { return page }
        guard let end = page.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) else { return page }
        return Array(page[..<end.lowerBound]) + [0x0D, 0x0A] + marker.dropLast(2) + Array(page[end.lowerBound...])
    }

    // MARK: responses (UpstreamOwner)

    func upstreamRead(_ buffer: ByteBuffer) {
        guard let context, let proxied = queue.first, let responses = responseParser, proxied.headSent else {
            // Bytes nobody asked for: that connection is out of step; drop it.
            upstream?.close()
            upstream = nil
            return
        }
        proxied.responseStarted = true
        activity &+= 1
        let now = SystemClock.now()
        buffer.withUnsafeReadableBytes { _ = responses.parse($0, at: now) }
        // Passed on whole: a backend that sends more than it framed is not reused (its
        // parser is not idle), and its extra bytes are its own problem.
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        if responseTracker.finished {
            responseFinished(proxied)
        } else if context.channel.isWritable {
            upstream?.read()
        }
    }

    func upstreamWritable() {
        requestRead()
    }

    func upstreamClosed() {
        guard let proxied = queue.first, proxied.headSent else {
            // Closed between exchanges (the backend's idle timeout): the next request connects anew.
            upstream = nil
            return
        }
        let connection = upstream
        upstream = nil
        if let responses = responseParser, proxied.responseStarted {
            responses.finish(at: SystemClock.now())
            responseParser = nil
            if responseTracker.finished {
                // Close-delimited response: the client learns its end by the close too.
                closeAfterFlush()
                return
            }
            context?.close(promise: nil)
            return
        }
        if let connection, connection.exchanges > 1, !proxied.retried, proxied.sentBodyBytes == 0, proxied.complete {
            // A kept-alive connection the backend closed just as the request went out (its
            // idle timeout): send the request again on a new connection, once.
            proxied.retried = true
            proxied.headSent = false
            responseParser = nil
            pump()
            return
        }
        respondAndClose(status: 502, reason: "Bad Gateway", explanation: "The site's server closed the connection without answering.")
    }

    private func responseFinished(_ proxied: ProxiedRequest) {
        idleResponseParser = responseTracker.reusable ? responseParser : nil
        responseParser = nil
        if let upstream {
            if responseTracker.reusable && proxied.complete {
                // The connection stays with this client for its next request (and goes back to
                // the pool when the client leaves); a read notices if the backend closes it.
                upstream.read()
            } else {
                self.upstream = nil
                upstream.close()
            }
        }
        queue.removeFirst()
        // A backend that answered before the request body was all in (an early 413, say):
        // the rest of that body would have to be read and thrown away; closing is simpler.
        if proxied.wantsClose || responseTracker.closeRequested || !proxied.complete {
            closeAfterFlush()
            return
        }
        if queue.isEmpty { armHeaderTimer() }
        pump()
        requestRead()
    }

    // MARK: timers

    /// Starts the wait for a request head. Setting a deadline is all a request costs: one timer
    /// per connection checks it when due and re-arms itself while heads keep arriving in time
    /// (scheduling and cancelling a timer for every request showed in the profile).
    private func armHeaderTimer() {
        let timeout = TimeAmount.milliseconds(Int64(configuration.headerTimeoutSeconds * 1000))
        headerDeadline = NIODeadline.now() + timeout
        scheduleDeadlineCheck()
    }

    /// The earlier of the head's and the body's deadline.
    private var nextDeadline: NIODeadline? {
        switch (headerDeadline, bodyDeadline) {
        case let (head?, body?): min(head, body)
        case let (head?, nil): head
        case let (nil, body?): body
        case (nil, nil): nil
        }
    }

    /// One timer per connection serves both deadlines; it is moved only when a deadline comes
    /// earlier than the time it is set for (extending one just lets it re-arm when it fires).
    private func scheduleDeadlineCheck() {
        guard let context, let deadline = nextDeadline else { return }
        if let firesAt = headerTimerFiresAt, headerTimer != nil, firesAt <= deadline { return }
        headerTimer?.cancel()
        headerTimerFiresAt = deadline
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        headerTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let handler = bound.value
            handler.headerTimer = nil
            handler.headerTimerFiresAt = nil
            guard !handler.closing, handler.context != nil else { return }
            let now = NIODeadline.now()
            if let body = handler.bodyDeadline, body <= now {
                handler.bodyTimedOut()
            } else if let head = handler.headerDeadline, head <= now {
                handler.headerTimedOut()
            } else {
                handler.scheduleDeadlineCheck()
            }
        }
    }

    /// The body did not keep up its minimum rate: 408 while nothing of it has gone upstream,
    /// else both connections are cut (the backend holds half a request).
    private func bodyTimedOut() {
        bodyDeadline = nil
        guard let context, let proxied = parsing else { return }
        shared.inspector.emitViolation("Request body too slow (timeout)", signatureID: ProxySignatures.bodyTimeout,
                                       for: proxied.transaction, incident: IncidentID.make(), status: 408)
        if proxied.headSent {
            upstream?.close()
            upstream = nil
            context.close(promise: nil)
        } else {
            respondAndClose(status: 408, reason: "Request Timeout", explanation: "The request body took too long to arrive.")
        }
    }

    /// The idle timeout without a handler in the pipeline: NIO's IdleStateHandler sits in every
    /// read, write and flush and makes a promise per write to time its completion, which showed
    /// in the profile. Here a read on either side bumps a counter, and one timer per connection
    /// looks at it four times per timeout period; a connection is cut between one and one and a
    /// quarter periods after its last read.
    private func scheduleIdleCheck(on eventLoop: EventLoop) {
        let timeout = TimeAmount.milliseconds(Int64(configuration.idleTimeoutSeconds * 1000))
        let period = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 10_000_000))
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        idleTimer = eventLoop.scheduleTask(in: period) {
            let handler = bound.value
            handler.idleTimer = nil
            guard let context = handler.context else { return }
            let now = NIODeadline.now()
            if handler.activity != handler.activityAtLastCheck {
                handler.activityAtLastCheck = handler.activity
                handler.lastActive = now
            } else if now - handler.lastActive >= timeout {
                // A connection already closing is one whose last words the client does not read.
                if handler.closing { context.close(promise: nil) } else { handler.idleTimedOut() }
                return
            }
            handler.scheduleIdleCheck(on: eventLoop)
        }
    }

    /// Nothing either way for the idle timeout: a stalled client (or backend) lets go.
    private func idleTimedOut() {
        guard let context else { return }
        if let active = queue.first, !active.responseStarted, active.decision != .forward || !active.headSent {
            respondAndClose(status: 408, reason: "Request Timeout", explanation: "The request took too long to arrive.")
        } else {
            context.close(promise: nil)
        }
    }

    private func headerTimedOut() {
        guard !closing, queue.isEmpty || parsing != nil, let context else { return }
        if parser.isInsideMessage || !parser.isIdle {
            respondAndClose(status: 408, reason: "Request Timeout", explanation: "The request head took too long to arrive.")
        } else {
            context.close(promise: nil)
        }
    }

    static func endpoint(_ address: SocketAddress?) -> Endpoint? {
        guard let address, let ip = address.ipAddress, let parsed = IPAddress(ip), let port = address.port else { return nil }
        return Endpoint(address: parsed, port: UInt16(port))
    }
}

/// Follows the backend's response with the same parser, to know where it ends (so the
/// connection can be reused) and whether the backend wants to close.
final class ResponseTracker: HTTPMessageParserDelegate {
    var expectNoBody = false
    var finished = false
    var status: Int?
    var reusable = true
    var closeRequested = false

    func reset(expectNoBody: Bool) {
        self.expectNoBody = expectNoBody
        finished = false
        status = nil
        reusable = true
        closeRequested = false
    }

    func parser(_ parser: HTTPMessageParser, didParseHead head: ParsedHead) -> HeadDisposition {
        status = head.status
        if head.status >= 100 && head.status < 200 { return .noBody }
        let fields = head.head
        closeRequested = fields.value(of: "connection", contains: "close")
            || head.version == .http10 && !fields.value(of: "connection", contains: "keep-alive")
        reusable = !closeRequested
        if expectNoBody || head.status == 204 || head.status == 304 { return .noBody }
        if !fields.contains("content-length"), !fields.value(of: "transfer-encoding", contains: "chunked") {
            reusable = false
            closeRequested = true
        }
        return .framedByHeaders
    }

    func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {}
    func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {}

    func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
        if let status, status >= 100 && status < 200 && status != 101 {
            self.status = nil
            return
        }
        finished = true
        if !complete { reusable = false }
    }

    func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {
        finished = true
        reusable = false
        closeRequested = true
    }
}

enum ProxySignatures {
    static let malformed = 900_100
    static let oversizeHeaders = 900_101
    static let oversizeBody = 900_102
    static let detectionFailed = 900_103
    static let oversizeRequestLine = 900_104
    static let bodyTimeout = 900_105
}
