import Detection
import HTTP
import NIOCore
import NetworkTypes

/// The exchanges of one client connection, as a state machine: the requests read so far (the
/// oldest is the one being answered; pipelined ones wait behind it), what has been decided and
/// sent for each, and the connection's own state. It does no I/O. Events come in (a head was
/// parsed, body bytes arrived, the backend answered, a deadline passed) and change the state;
/// `next()` then says what to do, one action at a time, until there is nothing to do before
/// the next event. The channel handler (`ClientConnectionHandler`) carries the actions out.
///
/// A request goes through `Stage` in order: received → (with --block) inspecting the head →
/// head passed → inspecting the whole → forwarding; a refusal or a blocking verdict ends it
/// early. Only the oldest request moves; the others are read and held.
struct ProxyExchange {
    struct Settings {
        var block = false
        var failOpen = true
        var inspectBodyBytes = 1 << 20
        var maxBodyBytes = 100 << 20
        var maxPipelinedRequests = 16
        /// Body bytes held for forwarding, over every queued request, beyond which the client is
        /// not read.
        var heldBytesLimit = 1 << 20
        var limits = HTTPParserLimits()

        init() {}

        init(_ configuration: ProxyConfiguration, limits: HTTPParserLimits) {
            block = configuration.block
            failOpen = configuration.failOpen
            inspectBodyBytes = configuration.inspectBodyBytes
            maxBodyBytes = configuration.maxBodyBytes
            maxPipelinedRequests = configuration.maxPipelinedRequests
            self.limits = limits
        }
    }

    enum Stage {
        /// Read (in part or whole); nothing decided.
        case received
        /// An `.inspect` action is out; `inspected(_:)` brings the verdict.
        case inspecting(Inspection)
        /// With --block: the head passed; the body is awaited for the second look.
        case headPassed(Verdict)
        case forwarding(Forwarding)
    }

    enum Inspection { case head, whole }

    /// How far a request being forwarded has gone.
    struct Forwarding {
        enum Upstream: Equatable { case headNotSent, sent, responding }

        /// The verdict of --block's inspection, reused for the alert; nil: judged out of band.
        var verdict: Verdict?
        var upstream = Upstream.headNotSent
        /// Body bytes written upstream (a request whose body went out cannot be sent again).
        var sentBodyBytes = 0
        /// The last chunk of a chunked body went upstream.
        var bodyEnded = false
        var alerted = false
    }

    /// One request on the connection, from its head to the end of its answer.
    struct Request {
        let transaction: HTTPTransaction
        let framing: UpstreamHead.Framing
        let expectsContinue: Bool
        let isHeadMethod: Bool
        let wantsClose: Bool
        var stage = Stage.received
        /// Set while reading (its size, its syntax, a timeout); carried out when the request
        /// is the oldest.
        var refusal: Refusal?
        /// Read to its end (or cut short by a refusal).
        var complete = false
        /// Body bytes received and not yet sent upstream.
        var heldBody: [ByteBuffer] = []
        var heldBytes = 0
        var continueSent = false
        var retried = false
    }

    /// Whether the connection goes on.
    enum Lifecycle: Equatable {
        case open
        /// An answer that ends the connection was written; it closes once that is out.
        case closing
        case closed
    }

    /// What is being read from the client.
    enum Input: Equatable {
        case awaitingHead
        /// The newest request's body (or its end) is being read.
        case receiving
        /// A request was refused before it could be read whole (too long, not HTTP, framing
        /// lost): nothing more is read; what is owed goes out, then the connection closes.
        case stopped
    }

    enum UpstreamLink: Equatable { case none, connecting, connected }

    enum Action {
        /// Judge the request (--block); answer with `inspected(_:)`. `again`: its second look.
        case inspect(HTTPTransaction, again: Bool)
        case sendContinue
        /// Get a backend connection; answer with `upstreamConnected()` or `upstreamUnavailable()`.
        case connectUpstream
        /// The head (when not nil: a new response begins upstream for it), then the body bytes
        /// (to be chunk-framed when `framing` is chunked) and, with `end`, the last chunk.
        case forward(head: HTTPTransaction?, framing: UpstreamHead.Framing, body: [ByteBuffer], end: Bool)
        /// The alert of a forwarded request, out of band (it is already on its way); with no
        /// verdict the request is judged now.
        case alert(Verdict?, HTTPTransaction)
        /// The verdict's page (403 for an incident, 503 when detection failed and --fail-closed);
        /// `close`: the connection cannot go on (the request was not read whole, or asked to close).
        case block(Verdict, HTTPTransaction, close: Bool)
        /// The refusal's page, then close once it is out. With a transaction, an alert names it.
        case refuse(Refusal, HTTPTransaction?)
        /// Cut the connection now; with a refusal, the alert for a request whose head had
        /// already gone upstream.
        case close(abandoning: (Refusal, HTTPTransaction)?)
        /// Close once what was written is out (the response ended with the backend's close).
        case finish
        /// Every request has been answered: the wait for the next head begins.
        case awaitRequest
    }

    /// What becomes of the backend connection and the client's when a response has ended.
    struct ResponseEnd: Equatable {
        var keepUpstream: Bool
        var closeClient: Bool
    }

    let settings: Settings
    let connection: HTTPConnectionInfo
    private(set) var queue: [Request] = []
    private(set) var lifecycle = Lifecycle.open
    private(set) var input = Input.awaitingHead
    private(set) var upstream = UpstreamLink.none
    private var nextIndex = 0
    /// The queue emptied: `.awaitRequest` is due.
    private var becameIdle = false

    init(connection: HTTPConnectionInfo, settings: Settings) {
        self.connection = connection
        self.settings = settings
    }

    // MARK: what the handler asks

    /// Whether more should be read from the client now: requests read ahead of their answers
    /// are bounded in number and held bytes (a client that pipelines and never reads is not
    /// read either; TCP's window then slows it down).
    var wantsInput: Bool {
        guard lifecycle == .open, input != .stopped, queue.count < settings.maxPipelinedRequests else { return false }
        var held = 0
        for request in queue { held += request.heldBytes }
        return held < settings.heldBytesLimit
    }

    /// Whether the client's bytes are still parsed (not once a request was refused before it
    /// could be read whole, nor once the connection is closing).
    var wantsBytes: Bool { lifecycle == .open && input != .stopped }

    /// The oldest request's head has gone upstream (the backend connection is mid-exchange).
    var frontIsUpstream: Bool {
        guard case .forwarding(let forwarding)? = queue.first?.stage else { return false }
        return forwarding.upstream != .headNotSent
    }

    var frontIsResponding: Bool {
        guard case .forwarding(let forwarding)? = queue.first?.stage else { return false }
        return forwarding.upstream == .responding
    }

    /// The response about to begin upstream answers a HEAD request (it has no body).
    var frontIsHeadMethod: Bool { queue.first?.isHeadMethod ?? false }

    // MARK: events from the client's bytes

    /// A request head was parsed. Returns whether a body follows (its clock starts).
    mutating func receivedHead(_ request: HTTPRequest, _ parsed: ParsedHead) -> Bool {
        guard lifecycle == .open, input != .stopped else { return false }
        assert(input == .awaitingHead, "a head while the previous request is still being read")
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
        let head = parsed.head
        let wantsClose = head.value(of: "connection", contains: "close")
            || (parsed.version == .http10 && !head.value(of: "connection", contains: "keep-alive"))
        var proxied = Request(transaction: makeTransaction(request), framing: framing,
                              expectsContinue: head.value(of: "expect", is: "100-continue"),
                              isHeadMethod: request.isMethod("HEAD"), wantsClose: wantsClose)
        let anomalies = parsed.anomalies
        if anomalies.contains(.oversizeHeaders) {
            proxied.refusal = .headersTooLarge
        } else if !anomalies.intersection(RequestSyntax.refused).isEmpty {
            proxied.refusal = .malformed
        } else if declaredLength > settings.maxBodyBytes {
            proxied.refusal = .bodyTooLarge
        } else if request.isMethod("CONNECT") {
            proxied.refusal = .methodNotServed
        }
        queue.append(proxied)
        input = .receiving
        if case .none = framing { return false }
        return true
    }

    /// Body bytes of the newest request (de-chunked), valid only during the call.
    mutating func receivedBody(_ bytes: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) {
        guard lifecycle == .open, input == .receiving else { return }
        let last = queue.count - 1
        queue[last].transaction.request.appendBody(bytes, limits: settings.limits)
        if queue[last].refusal == nil, queue[last].transaction.request.bodyLength > settings.maxBodyBytes {
            queue[last].refusal = .bodyTooLarge
        }
        guard queue[last].refusal == nil else { return }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        queue[last].heldBody.append(buffer)
        queue[last].heldBytes += bytes.count
    }

    mutating func receivedTrailers(_ trailers: HTTPMessageHead) {
        guard lifecycle == .open, input == .receiving else { return }
        queue[queue.count - 1].transaction.request.setTrailers(trailers)
    }

    /// The newest request was read to its end (`complete` false: cut short).
    mutating func receivedEnd(anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
        guard lifecycle == .open, input == .receiving else { return }
        input = .awaitingHead
        let last = queue.count - 1
        queue[last].transaction.request.finish(anomalies: anomalies, complete: complete, at: time, limits: settings.limits)
        queue[last].complete = true
        if queue[last].refusal == nil, !complete || !anomalies.intersection(RequestSyntax.refused).isEmpty {
            queue[last].refusal = .malformed
        }
    }

    /// A request that the parser cannot hand over whole (its start line or head too long, or
    /// not HTTP): refused in its turn, after the answers already owed, and nothing more is read.
    /// `prefix`: its first bytes, for the alert.
    mutating func receivedUnparsable(_ refusal: Refusal, prefix: [UInt8], at time: Timestamp) {
        guard lifecycle == .open, input != .stopped else { return }
        if input == .receiving {
            // Cut short by this: it can no longer be forwarded cleanly.
            let last = queue.count - 1
            if queue[last].refusal == nil { queue[last].refusal = .malformed }
            queue[last].complete = true
        }
        input = .stopped
        let request = HTTPRequest.placeholder(startOf: prefix, anomalies: refusal.anomaly, at: time)
        var placeholder = Request(transaction: makeTransaction(request), framing: .none, expectsContinue: false,
                                  isHeadMethod: false, wantsClose: true)
        placeholder.refusal = refusal
        placeholder.complete = true
        queue.append(placeholder)
    }

    /// Framing is gone (an invalid chunk, or a line that starts no request): nothing after
    /// this can be trusted.
    mutating func lostSync(prefix: [UInt8], at time: Timestamp) {
        guard lifecycle == .open, input != .stopped else { return }
        guard input == .receiving else {
            receivedUnparsable(.malformed, prefix: prefix, at: time)
            return
        }
        let last = queue.count - 1
        if queue[last].refusal == nil { queue[last].refusal = .malformed }
        queue[last].complete = true
        input = .stopped
    }

    // MARK: the oldest request moves on

    /// The next thing to do, or nil until another event.
    mutating func next() -> Action? {
        guard lifecycle == .open else { return nil }
        guard !queue.isEmpty else {
            guard becameIdle else { return nil }
            becameIdle = false
            return .awaitRequest
        }
        switch queue[0].stage {
        case .received:
            if let refusal = queue[0].refusal { return refuseFront(refusal) }
            if settings.block {
                queue[0].stage = .inspecting(.head)
                return .inspect(queue[0].transaction, again: false)
            }
            queue[0].stage = .forwarding(Forwarding(verdict: nil))
            return next()
        case .inspecting:
            return nil
        case .headPassed(let verdict):
            if let refusal = queue[0].refusal { return refuseFront(refusal) }
            // At most two inspections per request: on arrival of the head (so an attack in the
            // URL or headers is refused before its body is read), and once the body is complete
            // or the inspection limit is reached.
            let bodyLength = queue[0].transaction.request.bodyLength
            guard queue[0].complete || bodyLength >= settings.inspectBodyBytes else {
                // The head passed: let a client waiting for 100 send its body.
                return continueIfExpected()
            }
            if bodyLength > 0 {
                queue[0].stage = .inspecting(.whole)
                return .inspect(queue[0].transaction, again: true)
            }
            queue[0].stage = .forwarding(Forwarding(verdict: verdict))
            return next()
        case .forwarding(var forwarding):
            if let refusal = queue[0].refusal {
                if forwarding.upstream == .headNotSent { return refuseFront(refusal) }
                // A bad chunk or a stalled body mid-forward: the backend holds half a request.
                lifecycle = .closed
                return .close(abandoning: (refusal, queue[0].transaction))
            }
            if let action = continueIfExpected() { return action }
            switch upstream {
            case .none:
                upstream = .connecting
                return .connectUpstream
            case .connecting:
                return nil
            case .connected:
                break
            }
            let sendsHead = forwarding.upstream == .headNotSent
            var ends = false
            if queue[0].complete, case .chunked = queue[0].framing, !forwarding.bodyEnded { ends = true }
            if sendsHead || !queue[0].heldBody.isEmpty || ends {
                if sendsHead { forwarding.upstream = .sent }
                forwarding.sentBodyBytes += queue[0].heldBytes
                forwarding.bodyEnded = forwarding.bodyEnded || ends
                let body = queue[0].heldBody
                queue[0].heldBody = []
                queue[0].heldBytes = 0
                queue[0].stage = .forwarding(forwarding)
                return .forward(head: sendsHead ? queue[0].transaction : nil, framing: queue[0].framing, body: body, end: ends)
            }
            if queue[0].complete, !forwarding.alerted {
                forwarding.alerted = true
                queue[0].stage = .forwarding(forwarding)
                return .alert(forwarding.verdict, queue[0].transaction)
            }
            return nil
        }
    }

    /// The verdict of an `.inspect` action.
    mutating func inspected(_ verdict: Verdict) -> Action? {
        guard lifecycle == .open, case .inspecting(let inspection)? = queue.first?.stage else {
            assertionFailure("a verdict without an inspection")
            return nil
        }
        guard verdict.isIncident || (verdict.failed && !settings.failOpen) else {
            switch inspection {
            case .head: queue[0].stage = .headPassed(verdict)
            case .whole: queue[0].stage = .forwarding(Forwarding(verdict: verdict))
            }
            return nil
        }
        let blocked = queue[0]
        // The connection stays usable only when the request was read to its end.
        let keepsConnection = blocked.complete && !blocked.wantsClose
        if keepsConnection {
            removeFront()
        } else {
            lifecycle = .closing
        }
        return .block(verdict, blocked.transaction, close: !keepsConnection)
    }

    // MARK: events from the backend

    mutating func upstreamConnected() {
        assert(upstream == .connecting, "a backend connection nobody asked for")
        upstream = .connected
    }

    mutating func upstreamUnavailable() -> Action? {
        upstream = .none
        guard lifecycle == .open else { return nil }
        lifecycle = .closing
        return .refuse(.upstreamUnreachable, nil)
    }

    /// The handler let the backend connection go (it sent bytes nobody asked for).
    mutating func upstreamDropped() {
        upstream = .none
    }

    /// Response bytes arrived. False: none was expected (the connection is out of step).
    mutating func responseBytesArrived() -> Bool {
        guard lifecycle != .closed, case .forwarding(var forwarding)? = queue.first?.stage,
              forwarding.upstream != .headNotSent else { return false }
        if forwarding.upstream == .sent {
            forwarding.upstream = .responding
            queue[0].stage = .forwarding(forwarding)
        }
        return true
    }

    /// The oldest request's response ended; `reusable`: it ended cleanly and the backend did
    /// not ask to close.
    mutating func responseFinished(reusable: Bool, closeRequested: Bool) -> ResponseEnd {
        guard let finished = queue.first else {
            assertionFailure("a response without a request")
            return ResponseEnd(keepUpstream: false, closeClient: true)
        }
        let keepUpstream = reusable && finished.complete
        if !keepUpstream { upstream = .none }
        // A backend that answered before the request body was all in (an early 413, say):
        // the rest of that body would have to be read and thrown away; closing is simpler.
        guard !finished.wantsClose, !closeRequested, finished.complete else {
            lifecycle = .closing
            // Not read to its end, it is the request being read.
            if !finished.complete { input = .stopped }
            queue.removeFirst()
            return ResponseEnd(keepUpstream: keepUpstream, closeClient: true)
        }
        removeFront()
        return ResponseEnd(keepUpstream: keepUpstream, closeClient: false)
    }

    /// The backend connection closed. `endedResponse`: that close was the end of a response
    /// delimited by it; `wasReused`: the connection had served an earlier request.
    mutating func upstreamClosed(endedResponse: Bool, wasReused: Bool) -> Action? {
        guard case .forwarding(var forwarding)? = queue.first?.stage, forwarding.upstream != .headNotSent else {
            // Closed between exchanges (the backend's idle timeout): the next request connects anew.
            upstream = .none
            return nil
        }
        upstream = .none
        guard lifecycle == .open else { return nil }
        if forwarding.upstream == .responding {
            guard endedResponse else {
                lifecycle = .closed
                return .close(abandoning: nil)
            }
            // A close-delimited response: the client learns its end by the close too.
            lifecycle = .closing
            return .finish
        }
        if wasReused, !queue[0].retried, forwarding.sentBodyBytes == 0, queue[0].complete {
            // A kept-alive connection the backend closed just as the request went out (its
            // idle timeout): the request goes again on a new connection, once.
            queue[0].retried = true
            forwarding.upstream = .headNotSent
            forwarding.bodyEnded = false
            queue[0].stage = .forwarding(forwarding)
            return next()
        }
        lifecycle = .closing
        return .refuse(.upstreamClosedEarly, nil)
    }

    // MARK: deadlines

    /// No head was completed within the header timeout while every request was answered.
    /// `partialHead`: some of one had arrived (it gets a 408; a quiet keep-alive just closes).
    mutating func headTimedOut(partialHead: Bool) -> Action? {
        guard lifecycle == .open, queue.isEmpty else { return nil }
        if partialHead {
            lifecycle = .closing
            return .refuse(.headTooSlow, nil)
        }
        lifecycle = .closed
        return .close(abandoning: nil)
    }

    /// The newest request's body did not keep up the minimum rate: refused in its turn (at
    /// once when it is the oldest; cut when its head has gone upstream).
    mutating func bodyTimedOut() -> Action? {
        guard lifecycle == .open, input == .receiving else { return nil }
        let last = queue.count - 1
        if queue[last].refusal == nil { queue[last].refusal = .bodyTooSlow }
        queue[last].complete = true
        input = .stopped
        return next()
    }

    /// Nothing either way for the idle timeout: a stalled client (or backend) lets go. A 408
    /// when a request was still arriving; a connection already closing is one whose last
    /// words the client does not read.
    mutating func idleTimedOut() -> Action? {
        switch lifecycle {
        case .closed: return nil
        case .closing:
            lifecycle = .closed
            return .close(abandoning: nil)
        case .open:
            if !queue.isEmpty, !frontIsUpstream {
                lifecycle = .closing
                return .refuse(.requestTooSlow, nil)
            }
            lifecycle = .closed
            return .close(abandoning: nil)
        }
    }

    /// The client's connection is gone.
    mutating func clientClosed() {
        lifecycle = .closed
    }

    // MARK: helpers

    private mutating func makeTransaction(_ request: HTTPRequest) -> HTTPTransaction {
        defer { nextIndex += 1 }
        return HTTPTransaction(connection: connection, index: nextIndex, request: request)
    }

    private mutating func refuseFront(_ refusal: Refusal) -> Action {
        lifecycle = .closing
        return .refuse(refusal, queue[0].transaction)
    }

    private mutating func continueIfExpected() -> Action? {
        guard queue[0].expectsContinue, !queue[0].continueSent, !queue[0].complete else { return nil }
        queue[0].continueSent = true
        return .sendContinue
    }

    private mutating func removeFront() {
        queue.removeFirst()
        if queue.isEmpty { becameIdle = true }
        assert(input != .receiving || !queue.isEmpty, "the request being read was removed")
    }
}
