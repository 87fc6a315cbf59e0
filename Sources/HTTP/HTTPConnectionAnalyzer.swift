import NetworkTypes

/// Receives transactions as they complete.
public protocol HTTPTransactionSink: AnyObject {
    /// The request is complete (body included); its response may not have been seen yet.
    /// Detection runs here so that alerts do not wait for the server.
    func requestCompleted(_ transaction: HTTPTransaction)
    /// Request and response are both done (or the response will never be seen); called in
    /// request order for each connection.
    func transactionCompleted(_ transaction: HTTPTransaction)
}

/// Counters shared by every connection of one pipeline, on the one thread that runs its HTTP
/// stage (not Sendable: readers elsewhere take a copy on that thread, or after it has ended).
public final class HTTPStatistics {
    public var connections = 0
    public var notHTTPConnections = 0
    public var requests = 0
    public var responses = 0
    /// Responses with no request to pair with (the request was lost or never captured).
    public var unpairedResponses = 0
    public var incompleteRequests = 0
    public var resyncs = 0
    public var tunnels = 0
    /// Requests inspected before they were complete because the stage's memory pool was full.
    public var requestsShedForMemory = 0
    public init() {}
}

/// Follows one HTTP connection: parses both directions, pairs responses with requests in
/// order, and hands finished transactions to the sink.
public final class HTTPConnectionAnalyzer {
    /// Client and server as finally understood (a mid-stream connection may swap them).
    public private(set) var connection: HTTPConnectionInfo
    /// The transport's guess of who is the client was wrong: every direction is flipped.
    private var swapped = false
    /// Roles are fixed by the handshake, or for a mid-stream connection by the first bytes
    /// that plainly start a request or a response.
    private var rolesSettled: Bool
    public let limits: HTTPParserLimits
    private unowned let sink: HTTPTransactionSink
    private let statistics: HTTPStatistics
    private let requestParser: HTTPMessageParser
    private let responseParser: HTTPMessageParser
    private let requestSide: Side
    private let responseSide: Side

    /// Transactions not yet handed to `transactionCompleted`, in request order.
    private var inFlight: [HTTPTransaction] = []
    /// Index into `inFlight` of the transaction the next final response answers.
    private var awaitingResponse = 0
    /// Transaction whose request is being parsed.
    private var currentRequest: HTTPTransaction?
    private var currentResponse: HTTPTransaction?
    private var nextIndex = 0
    private var isTunnel = false
    private var now = Timestamp.zero

    /// The stage's memory pool, and this connection's place in it.
    private let memory: HTTPMemoryPool?
    /// Bytes of `inFlight` transactions (heads, kept bodies), kept up to date as they change.
    private var inFlightBytes = 0
    var accountedBytes = 0
    var poolNewer: HTTPConnectionAnalyzer?
    unowned(unsafe) var poolOlder: HTTPConnectionAnalyzer?
    var isPoolListed = false

    public init(connection: HTTPConnectionInfo, limits: HTTPParserLimits = .init(),
                statistics: HTTPStatistics = HTTPStatistics(), memory: HTTPMemoryPool? = nil, sink: HTTPTransactionSink) {
        self.connection = connection
        self.limits = limits
        self.sink = sink
        self.statistics = statistics
        self.memory = memory
        requestParser = HTTPMessageParser(kind: .request, limits: limits, midstream: connection.midstream)
        responseParser = HTTPMessageParser(kind: .response, limits: limits, midstream: connection.midstream)
        rolesSettled = !connection.midstream
        requestSide = Side()
        responseSide = Side()
        requestSide.owner = self
        responseSide.owner = self
        requestParser.delegate = requestSide
        responseParser.delegate = responseSide
        statistics.connections += 1
    }

    deinit {
        // A connection given up without `close` (not HTTP, say) leaves the pool here.
        if let memory, accountedBytes > 0 || isPoolListed { memory.release(self) }
    }

    /// What this connection holds across deliveries: the parsers' buffers and the requests
    /// not yet handed on.
    public var heldBytes: Int { requestParser.heldBytes + responseParser.heldBytes + inFlightBytes }

    private func reportMemory() {
        guard let memory else { return }
        let held = heldBytes
        if held != accountedBytes { memory.update(self, held: held) }
    }

    /// The pool is full and this connection has held bytes the longest: inspect what it holds
    /// now and let go of it. A head being collected is inspected as far as it came, a body as
    /// far as it is kept; requests waiting for responses are handed on without them.
    func shedForMemory() {
        statistics.requestsShedForMemory += 1
        requestParser.shedHeldBytes(noting: .memoryPressure)
        responseParser.shedHeldBytes(noting: .memoryPressure)
        if currentRequest != nil { requestFinished([.memoryPressure], complete: false, at: now) }
        // Responses still to come will not be paired with these any more.
        for transaction in inFlight where transaction.requestDone { transaction.responseDone = true }
        awaitingResponse = inFlight.count
        currentResponse = nil
        emitFinished()
        reportMemory()
    }

    private func account(_ transaction: HTTPTransaction) {
        let held = transaction.request.heldBytes
        inFlightBytes += held - transaction.accountedBytes
        transaction.accountedBytes = held
    }
    /// Bytes from the client (`fromClient`) or the server. Returns false when the connection
    /// is not HTTP, so the caller can stop delivering it.
    public func receive(_ bytes: UnsafeRawBufferPointer, fromClient guessedFromClient: Bool, at time: Timestamp) -> Bool {
        now = time
        defer { reportMemory() }
        if !rolesSettled { settleRoles(bytes, fromClient: guessedFromClient) }
        let fromClient = guessedFromClient != swapped
        let parser = fromClient ? requestParser : responseParser
        defer { if !rolesSettled && parser.messagesParsed > 0 { rolesSettled = true } }
        if !parser.parse(bytes, at: time) {
            // A server that speaks first with something else (SMTP, SSH banners) or a client
            // that opens with TLS: nothing for an HTTP inspector here.
            if requestParser.messagesParsed == 0 {
                statistics.notHTTPConnections += 1
                return false
            }
        }
        return true
    }

    public func gap(_ length: Int, fromClient: Bool, at time: Timestamp) {
        now = time
        (fromClient != swapped ? requestParser : responseParser).gap(length, at: time)
        reportMemory()
    }

    public func noteStreamAnomaly(_ anomaly: HTTPAnomalies, fromClient: Bool) {
        (fromClient != swapped ? requestParser : responseParser).noteStreamAnomaly(anomaly)
    }

    public func endOfStream(fromClient: Bool, at time: Timestamp) {
        now = time
        (fromClient != swapped ? requestParser : responseParser).finish(at: time)
        reportMemory()
    }

    /// A connection picked up mid-stream: the side that sends `HTTP/1.x NNN` is the server,
    /// the side that sends `METHOD /target HTTP/1.x` the client, whatever the ports suggested.
    private func settleRoles(_ bytes: UnsafeRawBufferPointer, fromClient: Bool) {
        guard let lf = HTTPHeadParser.indexOfLF(bytes, from: 0) else { return }
        let line = UnsafeRawBufferPointer(rebasing: bytes[0..<lf])
        let looksLikeResponse = StartLineProbe.isStatusLine(line)
        let looksLikeRequest = StartLineProbe.isRequestLine(line, strictMethod: true)
        guard looksLikeResponse || looksLikeRequest else { return }
        rolesSettled = true
        if (fromClient && looksLikeResponse) || (!fromClient && looksLikeRequest) {
            swapped = true
            connection = HTTPConnectionInfo(id: connection.id, client: connection.server, server: connection.client, midstream: true)
        }
    }

    /// The connection is gone: finish both directions and flush every transaction.
    /// The connection's bytes come from a decrypted TLS session: its requests say so.
    public func noteTLS(_ info: TLSConnectionInfo) {
        connection.tls = info
    }

    public func close(at time: Timestamp) {
        requestParser.finish(at: time)
        responseParser.finish(at: time)
        while let first = inFlight.first {
            first.requestDone = true
            first.responseDone = true
            inFlight.removeFirst()
            inFlightBytes -= first.accountedBytes
            first.accountedBytes = 0
            sink.transactionCompleted(first)
        }
        awaitingResponse = 0
        reportMemory()
    }

    // MARK: - Request side

    fileprivate func requestHead(_ parsed: ParsedHead) -> HeadDisposition {
        let request = HTTPRequest(head: parsed.head, version: parsed.version, anomalies: parsed.anomalies,
                                  startTime: parsed.startTime, endTime: parsed.startTime)
        let transaction = HTTPTransaction(connection: connection, index: nextIndex, request: request)
        nextIndex += 1
        currentRequest = transaction
        inFlight.append(transaction)
        account(transaction)
        if inFlight.count > limits.maxPipelinedRequests {
            // The server is not answering; give up waiting for the oldest response.
            inFlight[0].responseDone = true
            if awaitingResponse == 0 { awaitingResponse = 1 }
            emitFinished()
        }
        if isTunnel { return .tunnel }
        return .framedByHeaders
    }

    fileprivate func requestBody(_ bytes: UnsafeRawBufferPointer) {
        guard let current = currentRequest else { return }
        current.request.appendBody(bytes, limits: limits)
        account(current)
    }

    fileprivate func requestTrailers(_ head: HTTPMessageHead) {
        guard let current = currentRequest else { return }
        current.request.trailerHead = head
        account(current)
    }

    fileprivate func requestFinished(_ anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
        guard let transaction = currentRequest else { return }
        currentRequest = nil
        transaction.request.finish(anomalies: anomalies, complete: complete, at: time, limits: limits)
        if !complete { statistics.incompleteRequests += 1 }
        transaction.requestDone = true
        statistics.requests += 1
        sink.requestCompleted(transaction)
        emitFinished()
    }

    // MARK: - Response side

    fileprivate func responseHead(_ parsed: ParsedHead) -> HeadDisposition {
        let response = HTTPResponse(head: parsed.head, version: parsed.version, status: parsed.status,
                                    anomalies: parsed.anomalies, startTime: parsed.startTime, endTime: parsed.startTime)
        let target = awaitingResponse < inFlight.count ? inFlight[awaitingResponse] : nil
        if parsed.status >= 100 && parsed.status < 200 && parsed.status != 101 {
            return .noBody  // interim: the final response is still to come
        }
        statistics.responses += 1
        guard let target else {
            statistics.unpairedResponses += 1
            currentResponse = nil
            return .framedByHeaders
        }
        target.response = response
        currentResponse = target
        // `Expect: 100-continue` answered with a final status: the client will not send the body.
        if target === currentRequest, parsed.status >= 200, target.request.header("expect") != nil {
            requestParser.abandonBody()
        }
        let method = target.request.methodBytes
        if parsed.status == 101 || (method.elementsEqual("CONNECT".utf8) && parsed.status < 300 && parsed.status >= 200) {
            isTunnel = true
            statistics.tunnels += 1
            requestParser.becomeOpaque()
            return .tunnel
        }
        if method.elementsEqual("HEAD".utf8) { return .noBody }
        return .framedByHeaders
    }

    fileprivate func responseBody(_ bytes: UnsafeRawBufferPointer) {
        currentResponse?.response?.bodyLength += bytes.count
    }

    fileprivate func responseFinished(_ anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
        guard let transaction = currentResponse else { return }
        currentResponse = nil
        transaction.response?.anomalies.formUnion(anomalies)
        if !complete { transaction.response?.anomalies.insert(.incomplete) }
        transaction.response?.endTime = time
        transaction.responseDone = true
        if let position = inFlight.firstIndex(where: { $0 === transaction }) {
            awaitingResponse = max(awaitingResponse, position + 1)
        }
        emitFinished()
    }

    /// Responses were lost: requests already sent will not be paired reliably any more.
    fileprivate func responseLostSync() {
        statistics.resyncs += 1
        awaitingResponse = min(awaitingResponse, inFlight.count)
        for transaction in inFlight[awaitingResponse...] where transaction.requestDone {
            transaction.responseDone = true
        }
        awaitingResponse = inFlight.count
        if let current = currentRequest, let position = inFlight.firstIndex(where: { $0 === current }) {
            awaitingResponse = position
        }
        currentResponse = nil
        emitFinished()
    }

    fileprivate func requestLostSync() {
        statistics.resyncs += 1
    }

    private func emitFinished() {
        while let first = inFlight.first, first.requestDone, first.responseDone {
            inFlight.removeFirst()
            inFlightBytes -= first.accountedBytes
            first.accountedBytes = 0
            awaitingResponse = max(0, awaitingResponse - 1)
            sink.transactionCompleted(first)
        }
    }

    /// Routes one parser's callbacks to the analyzer.
    private final class Side: HTTPMessageParserDelegate {
        unowned(unsafe) var owner: HTTPConnectionAnalyzer!

        func parser(_ parser: HTTPMessageParser, didParseHead head: ParsedHead) -> HeadDisposition {
            parser.kind == .request ? owner.requestHead(head) : owner.responseHead(head)
        }

        func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {
            if parser.kind == .request { owner.requestBody(body) } else { owner.responseBody(body) }
        }

        func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {
            if parser.kind == .request { owner.requestTrailers(trailers) }
        }

        func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
            if parser.kind == .request {
                owner.requestFinished(anomalies, complete: complete, at: time)
            } else {
                owner.responseFinished(anomalies, complete: complete, at: time)
            }
        }

        func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {
            if parser.kind == .request { owner.requestLostSync() } else { owner.responseLostSync() }
        }
    }
}
