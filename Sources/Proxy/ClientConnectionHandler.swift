import Detection
import HTTP
import NIOCore
import NIOPosix
import NetworkTypes

/// The client side of the proxy: requests are read with diffai's own HTTP parser (the one the
/// monitor uses, so the proxy and the IDS cannot disagree about where a request ends); what
/// becomes of them is decided by the connection's `ProxyExchange`, and this handler carries
/// its actions out: writes to the client and to a pooled upstream connection, detection, the
/// alerts, the timers. Responses stream back byte for byte. Reads are manual (autoRead off) so
/// that a client sending faster than the backend accepts is slowed down instead of buffered.
final class ClientConnectionHandler: ChannelInboundHandler, HTTPMessageParserDelegate, UpstreamOwner {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: ProxyShared
    private var configuration: ProxyConfiguration { shared.configuration }
    private let parser: HTTPMessageParser
    private let limits: HTTPParserLimits
    private var exchange: ProxyExchange
    private var context: ChannelHandlerContext?
    private var allocator = ByteBufferAllocator()
    /// The client's address as X-Forwarded-For gets it.
    private var forwardedForAddress: [UInt8] = []
    private var upstream: UpstreamConnection?
    private var responseParser: HTTPMessageParser?
    private var idleResponseParser: HTTPMessageParser?
    private let responseTracker = ResponseTracker()
    /// When the head being waited for must be complete; nil while none is awaited.
    private var headerDeadline: NIODeadline?
    /// When the body being read must be complete (see `ProxyConfiguration.bodyTimeoutSeconds`).
    private var bodyDeadline: NIODeadline?
    private var deadlineTimer: Scheduled<Void>?
    private var deadlineTimerFiresAt: NIODeadline?
    /// Bumped by every read from the client or the backend; the idle check compares it.
    private var activity = 0
    private var activityAtLastCheck = 0
    private var lastActive = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var readPending = false
    /// The close after the last answer is on its way (it is asked for once).
    private var closeScheduled = false

    init(shared: ProxyShared) {
        self.shared = shared
        var limits = HTTPParserLimits()
        limits.maxHeaderBytes = shared.configuration.maxHeaderBytes
        limits.maxStartLineBytes = shared.configuration.maxRequestLineBytes
        limits.maxInspectedBodyBytes = shared.configuration.inspectBodyBytes
        self.limits = limits
        parser = HTTPMessageParser(kind: .request, limits: limits)
        let unknown = Endpoint(address: IPAddress("0.0.0.0")!, port: 0)
        exchange = ProxyExchange(connection: HTTPConnectionInfo(id: 0, client: unknown, server: unknown),
                                 settings: ProxyExchange.Settings(shared.configuration, limits: limits))
    }

    // MARK: channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        parser.delegate = self
        let client = Self.endpoint(context.channel.remoteAddress) ?? exchange.connection.client
        let server = Self.endpoint(context.channel.localAddress) ?? shared.listenEndpoint
        exchange = ProxyExchange(connection: HTTPConnectionInfo(id: shared.nextConnectionID(), client: client, server: server),
                                 settings: exchange.settings)
        forwardedForAddress = Array(client.address.description.utf8)
        shared.connectionOpened()
        armHeaderTimer()
        lastActive = clock
        scheduleIdleCheck(on: context.eventLoop)
        requestRead()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.context != nil { shared.connectionClosed(on: context.eventLoop) }
        let midExchange = exchange.frontIsUpstream
        exchange.clientClosed()
        deadlineTimer?.cancel()
        idleTimer?.cancel()
        if let upstream {
            self.upstream = nil
            if !midExchange, let pool = shared.pools[ObjectIdentifier(context.eventLoop)] {
                // Between exchanges: the backend connection is still good for someone else.
                pool.release(upstream)
            } else {
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
        guard exchange.wantsBytes else { return }
        let buffer = unwrapInboundIn(data)
        let now = SystemClock.now()
        let isHTTP = buffer.withUnsafeReadableBytes { parser.parse($0, at: now) }
        if !isHTTP {
            // Not HTTP at all: refused now, not when a timeout notices.
            stopClocks()
            exchange.receivedUnparsable(.notHTTP, prefix: buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, 256)) ?? [],
                                        at: now)
        }
        drain()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Nothing to flush: every write to the client is flushed where it is made.
        requestRead()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client drains what the backend sent: ask the backend for more.
        if context.channel.isWritable, let upstream, exchange.frontIsResponding { upstream.read() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Reads from the client while the exchange wants more and the backend takes what is sent.
    private func requestRead() {
        guard let context, !readPending, exchange.wantsInput else { return }
        if let upstream, exchange.frontIsUpstream, !upstream.isWritable { return }
        readPending = true
        context.read()
    }

    // MARK: request parsing (HTTPMessageParserDelegate): events for the exchange

    func parser(_ parser: HTTPMessageParser, didParseHead parsed: ParsedHead) -> HeadDisposition {
        headerDeadline = nil
        guard parser === self.parser else { return .framedByHeaders }
        var request = HTTPRequest(parsed: parsed)
        request.finish(anomalies: [], complete: true, at: parsed.startTime, limits: limits)
        if exchange.receivedHead(request, parsed) { startBodyClock() }
        return .framedByHeaders
    }

    /// The head passed a limit: refused as soon as the limit is passed, however the head is cut
    /// into segments (not when it ends, nor when a timeout notices).
    func parser(_ parser: HTTPMessageParser, headExceeds limit: HTTPAnomalies) {
        guard parser === self.parser else { return }
        stopClocks()
        exchange.receivedUnparsable(limit == .oversizeStartLine ? .requestLineTooLong : .headersTooLarge,
                                    prefix: parser.headPrefix(), at: SystemClock.now())
    }

    func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {
        if let deadline = bodyDeadline {
            // One second more for every bodyMinimumRate bytes, as mod_reqtimeout extends it.
            bodyDeadline = deadline + .nanoseconds(Int64(body.count) * 1_000_000_000 / Int64(max(1, configuration.bodyMinimumRate)))
        }
        exchange.receivedBody(body, allocator: allocator)
    }

    func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {
        exchange.receivedTrailers(trailers)
    }

    func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
        bodyDeadline = nil
        exchange.receivedEnd(anomalies: anomalies, complete: complete, at: time)
    }

    func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {
        stopClocks()
        exchange.lostSync(prefix: parser.headPrefix(), at: time)
    }

    // MARK: carrying out the exchange's actions

    /// Does what the exchange asks until it waits for an event, then reads on if it may.
    private func drain() {
        while let action = exchange.next() { perform(action) }
        requestRead()
    }

    private func perform(_ action: ProxyExchange.Action) {
        guard let context else { return }
        switch action {
        case .inspect(let transaction, let again):
            let verdict = shared.inspector.inspect(transaction.request, client: transaction.client.address, again: again)
            if let then = exchange.inspected(verdict) { perform(then) }
        case .sendContinue:
            write(ProxyResponse.continueInterim)
        case .connectUpstream:
            connectUpstream(on: context.eventLoop)
        case .forward(let head, let framing, let body, let end):
            forward(head: head, framing: framing, body: body, end: end)
        case .alert(let verdict, let transaction):
            // Out of band for a forwarding proxy: the request is already on its way.
            let verdict = verdict ?? shared.inspector.inspect(transaction.request, client: transaction.client.address)
            shared.inspector.emit(verdict, for: transaction, blocked: false, incident: nil, status: nil)
        case .block(let verdict, let transaction, let close):
            block(transaction, verdict, close: close)
        case .refuse(let refusal, let transaction):
            var incident: String?
            if let transaction, let signature = refusal.signature {
                let id = IncidentID.make()
                incident = id
                shared.inspector.emitViolation(refusal.alertMessage(for: transaction.request, forwarded: false), signatureID: signature,
                                               for: transaction, incident: id, status: refusal.status)
            }
            write(refusal.page(incident: incident))
            closeAfterFlush()
        case .close(let abandoning):
            if let (refusal, transaction) = abandoning, let signature = refusal.signature {
                shared.inspector.emitViolation(refusal.alertMessage(for: transaction.request, forwarded: true), signatureID: signature,
                                               for: transaction, incident: IncidentID.make(), status: refusal.status)
            }
            context.close(promise: nil)
        case .finish:
            closeAfterFlush()
        case .awaitRequest:
            armHeaderTimer()
        }
    }

    private func connectUpstream(on eventLoop: EventLoop) {
        // No pool for this loop (the fuzz harness's embedded channel): the request waits.
        guard let pool = shared.pools[ObjectIdentifier(eventLoop)] else { return }
        pool.acquire { [self] result in
            switch result {
            case .success(let connection):
                guard context != nil, exchange.lifecycle == .open else {
                    pool.release(connection)
                    return
                }
                connection.owner = self
                upstream = connection
                exchange.upstreamConnected()
                drain()
            case .failure:
                if let action = exchange.upstreamUnavailable() { perform(action) }
            }
        }
    }

    private func forward(head: HTTPTransaction?, framing: UpstreamHead.Framing, body: [ByteBuffer], end: Bool) {
        guard let upstream else {
            assertionFailure("forwarding without a backend connection")
            return
        }
        if let head {
            upstream.exchanges += 1
            var buffer = allocator.buffer(capacity: head.request.head.storage.count + 96)
            UpstreamHead.write(for: head.request, forwardedFor: forwardedForAddress, framing: framing, into: &buffer)
            upstream.write(buffer)
            // The last exchange's parser is reused when it ended cleanly between messages.
            let responses = idleResponseParser.flatMap { $0.isIdle ? $0 : nil } ?? HTTPMessageParser(kind: .response)
            idleResponseParser = nil
            responseTracker.reset(expectNoBody: exchange.frontIsHeadMethod)
            responses.delegate = responseTracker
            responseParser = responses
            upstream.read()
        }
        for chunk in body {
            if case .chunked = framing {
                var framed = allocator.buffer(capacity: chunk.readableBytes + 16)
                framed.writeString(String(chunk.readableBytes, radix: 16) + "\r\n")
                framed.writeImmutableBuffer(chunk)
                framed.writeStaticString("\r\n")
                upstream.write(framed)
            } else {
                upstream.write(chunk)
            }
        }
        if end {
            var last = allocator.buffer(capacity: 5)
            last.writeStaticString("0\r\n\r\n")
            upstream.write(last)
        }
        upstream.flush()
    }

    private func block(_ transaction: HTTPTransaction, _ verdict: Verdict, close: Bool) {
        let incident = IncidentID.make()
        let page: [UInt8]
        if verdict.isIncident {
            shared.inspector.emit(verdict, for: transaction, blocked: true, incident: incident, status: 403)
            page = ProxyResponse.blocked(incident: incident)
        } else {
            shared.inspector.emitViolation("Detection failed; request refused (fail-closed)", signatureID: ProxySignatures.detectionFailed,
                                           for: transaction, incident: incident, status: 503)
            page = ProxyResponse.page(status: 503, reason: "Service Unavailable", explanation: "The request could not be inspected.",
                                      incident: incident, close: false)
        }
        if close {
            write(ProxyResponse.withClose(page))
            closeAfterFlush()
        } else {
            write(page)
        }
    }

    private func write(_ bytes: [UInt8]) {
        guard let context else { return }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func closeAfterFlush() {
        guard let context, !closeScheduled else { return }
        closeScheduled = true
        deadlineTimer?.cancel()
        let channel = context.channel
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    // MARK: responses (UpstreamOwner)

    func upstreamRead(_ buffer: ByteBuffer) {
        guard let context, let responses = responseParser, exchange.responseBytesArrived() else {
            // Bytes nobody asked for: that connection is out of step; drop it.
            upstream?.close()
            upstream = nil
            exchange.upstreamDropped()
            return
        }
        activity &+= 1
        let now = SystemClock.now()
        buffer.withUnsafeReadableBytes { _ = responses.parse($0, at: now) }
        // Passed on whole: a backend that sends more than it framed is not reused (its
        // parser is not idle), and its extra bytes are its own problem.
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        if responseTracker.finished {
            responseFinished()
        } else if context.channel.isWritable {
            upstream?.read()
        }
    }

    func upstreamWritable() {
        requestRead()
    }

    func upstreamClosed() {
        let connection = upstream
        upstream = nil
        var endedResponse = false
        if exchange.frontIsUpstream, let responses = responseParser {
            if exchange.frontIsResponding {
                responses.finish(at: SystemClock.now())
                endedResponse = responseTracker.finished
            }
            responseParser = nil
        }
        if let action = exchange.upstreamClosed(endedResponse: endedResponse, wasReused: (connection?.exchanges ?? 0) > 1) {
            perform(action)
        }
        drain()
    }

    private func responseFinished() {
        idleResponseParser = responseTracker.reusable ? responseParser : nil
        responseParser = nil
        let end = exchange.responseFinished(reusable: responseTracker.reusable, closeRequested: responseTracker.closeRequested)
        if let upstream {
            if end.keepUpstream {
                // The connection stays with this client for its next request (and goes back to
                // the pool when the client leaves); a read notices if the backend closes it.
                upstream.read()
            } else {
                self.upstream = nil
                upstream.close()
            }
        }
        if end.closeClient {
            closeAfterFlush()
        } else {
            drain()
        }
    }

    // MARK: timers

    /// The event loop's time, which the timers run on (a test's embedded loop moves it by hand).
    private var clock: NIODeadline { context?.eventLoop.now ?? .now() }

    /// Starts the wait for a request head. Setting a deadline is all a request costs: one timer
    /// per connection checks it when due and re-arms itself while heads keep arriving in time
    /// (scheduling and cancelling a timer for every request showed in the profile).
    private func armHeaderTimer() {
        let timeout = TimeAmount.milliseconds(Int64(configuration.headerTimeoutSeconds * 1000))
        headerDeadline = clock + timeout
        scheduleDeadlineCheck()
    }

    /// Starts the body's clock: `bodyTimeoutSeconds` from now, extended as bytes arrive.
    private func startBodyClock() {
        bodyDeadline = clock + .milliseconds(Int64(configuration.bodyTimeoutSeconds * 1000))
        scheduleDeadlineCheck()
    }

    /// Nothing more is read: no head or body is awaited.
    private func stopClocks() {
        headerDeadline = nil
        bodyDeadline = nil
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
        if let firesAt = deadlineTimerFiresAt, deadlineTimer != nil, firesAt <= deadline { return }
        deadlineTimer?.cancel()
        deadlineTimerFiresAt = deadline
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadlineTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let handler = bound.value
            handler.deadlineTimer = nil
            handler.deadlineTimerFiresAt = nil
            guard handler.context != nil, handler.exchange.lifecycle == .open else { return }
            let now = handler.clock
            if let body = handler.bodyDeadline, body <= now {
                handler.bodyDeadline = nil
                if let action = handler.exchange.bodyTimedOut() { handler.perform(action) }
                handler.drain()
            } else if let head = handler.headerDeadline, head <= now {
                let partial = handler.parser.isInsideMessage || !handler.parser.isIdle
                if let action = handler.exchange.headTimedOut(partialHead: partial) { handler.perform(action) }
            } else {
                handler.scheduleDeadlineCheck()
            }
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
            guard handler.context != nil else { return }
            let now = handler.clock
            if handler.activity != handler.activityAtLastCheck {
                handler.activityAtLastCheck = handler.activity
                handler.lastActive = now
            } else if now - handler.lastActive >= timeout {
                if let action = handler.exchange.idleTimedOut() { handler.perform(action) }
                return
            }
            handler.scheduleIdleCheck(on: eventLoop)
        }
    }

    static func endpoint(_ address: SocketAddress?) -> Endpoint? {
        guard let address, let ip = address.ipAddress, let parsed = IPAddress(ip), let port = address.port else { return nil }
        return Endpoint(address: parsed, port: UInt16(port))
    }
}
