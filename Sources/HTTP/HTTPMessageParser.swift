import NetworkTypes

/// A message head as the parser hands it over.
public struct ParsedHead {
    public var head: HTTPMessageHead
    public var version: HTTPVersion
    /// Response status code; 0 for requests.
    public var status: Int
    public var anomalies: HTTPAnomalies
    public var startTime: Timestamp
    /// Where the body ends, as the headers say (RFC 9112 §6.3; the anomalies tell what was
    /// odd about it). A proxy re-frames the body from this, so it cannot read the headers
    /// differently from the parser that delimits the message.
    public var framing: HTTPMessageParser.BodyFraming
}

/// How the body following a head is delimited, when only the other direction can tell.
public enum HeadDisposition {
    case framedByHeaders
    /// Response to HEAD, or otherwise known to carry no body.
    case noBody
    /// The connection stops being HTTP after this message (101, CONNECT 2xx).
    case tunnel
}

public protocol HTTPMessageParserDelegate: AnyObject {
    func parser(_ parser: HTTPMessageParser, didParseHead head: ParsedHead) -> HeadDisposition
    /// De-chunked body bytes, valid only during the call.
    func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer)
    func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead)
    /// `complete` is false when the message was cut by a gap, bad framing or the end of the stream.
    func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp)
    /// Framing was lost (gap or invalid chunking); messages may have been missed.
    func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp)
    /// The head being read just passed a limit (`oversizeStartLine` or `oversizeHeaders`).
    /// The parser goes on to the head's end either way; a proxy refuses here, at once.
    func parser(_ parser: HTTPMessageParser, headExceeds limit: HTTPAnomalies)
}

extension HTTPMessageParserDelegate {
    public func parser(_ parser: HTTPMessageParser, headExceeds limit: HTTPAnomalies) {}
}

/// Incremental, tolerant HTTP/1.x message parser for one direction of a connection.
///
/// Fed arbitrary slices of the byte stream, it copies only what it must hold across calls
/// (an unfinished head or chunk-size line); bodies pass straight through to the delegate.
/// State is an explicit enum; every transition happens in `parse`, `gap` or `finish`.
///
/// Limits bound what is kept, never whether a message is seen: a head longer than
/// `maxHeaderBytes` is read to its end, its start and its last quarter kept (an attack at the
/// end of a long header or URL is still inspected), and it is flagged; a first line longer than
/// any buffer is taken as a start line when its first bytes could begin one.
public final class HTTPMessageParser {
    public enum Kind: Sendable { case request, response }

    public enum BodyFraming: Equatable, Sendable {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    enum State: Equatable {
        /// Between messages; blank lines are skipped.
        case idle
        /// Collecting a head until its empty line.
        case head
        /// Looking for the next start line after lost or unparsable data.
        case resync
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd(sawCR: Bool)
        case trailers
        case bodyUntilClose
        /// Not HTTP, a tunnel, or finished: bytes are ignored.
        case opaque
    }

    public let kind: Kind
    public let limits: HTTPParserLimits
    /// Not retained: the delegate owns the parser (and a weak load per callback is measurable).
    public unowned(unsafe) var delegate: HTTPMessageParserDelegate?
    public private(set) var messagesParsed = 0
    /// The stream turned out not to be HTTP.
    public private(set) var isNotHTTP = false

    private(set) var state: State
    /// The head (or trailers, or a line) being collected; for a head past the limit, its start.
    private var buffer: [UInt8] = []
    /// Bytes of the current head so far, kept or not.
    private var headBytes = 0
    /// The last `tailCapacity` bytes of a head past the limit (a ring: `tailStart` is its
    /// oldest byte once full).
    private var tail: [UInt8] = []
    private var tailStart = 0
    private var bufferOverflowed = false
    private var startLineOversize = false
    private var lineHasContent = false
    private var startLineChecked = false
    private var classified: Bool
    private var messageAnomalies: HTTPAnomalies = []
    private var pendingAnomalies: HTTPAnomalies = []
    private var inMessage = false
    private var bodyBytesSeen = 0
    private var messageStart = Timestamp.zero
    private var now = Timestamp.zero
    private var resyncCandidate = true
    private var skippedBytes = 0

    public init(kind: Kind, limits: HTTPParserLimits = .init(), midstream: Bool = false) {
        self.kind = kind
        self.limits = limits
        classified = false
        state = midstream ? .resync : .idle
    }

    public var isIdle: Bool { state == .idle && buffer.isEmpty }
    public var isInsideMessage: Bool { inMessage }

    /// Anomalies seen below HTTP (TCP, IP) attach to the message in progress or the next one.
    public func noteStreamAnomaly(_ anomaly: HTTPAnomalies) {
        if inMessage { messageAnomalies.formUnion(anomaly) } else { pendingAnomalies.formUnion(anomaly) }
    }

    // MARK: - Input

    /// Feeds the next bytes of the stream. Returns false once the stream is known not to be HTTP.
    @discardableResult
    public func parse(_ input: UnsafeRawBufferPointer, at time: Timestamp) -> Bool {
        now = time
        // Segments often start messages (a body ends without a newline, the next request gets
        // its own packet), so while resynchronising each new delivery is a candidate too.
        if state == .resync && buffer.isEmpty { resyncCandidate = true }
        var i = 0
        while i < input.count {
            switch state {
            case .idle:
                let byte = input[i]
                if byte == HTTPSyntax.cr || byte == HTTPSyntax.lf {
                    i += 1
                    continue
                }
                if !classified && !(kind == .request ? HTTPSyntax.isToken(byte) : byte == UInt8(ascii: "H")) {
                    becomeNotHTTP()
                    return false
                }
                beginHead()
            case .head:
                i = scanHead(input, from: i)
                if isNotHTTP { return false }
            case .resync:
                i = scanResync(input, from: i)
                if isNotHTTP { return false }
            case .fixedBody(let remaining):
                let n = min(remaining, input.count - i)
                emitBody(input, i, n)
                i += n
                if n == remaining {
                    finishMessage(complete: true)
                } else {
                    state = .fixedBody(remaining: remaining - n)
                }
            case .chunkSize:
                i = scanChunkSize(input, from: i)
            case .chunkData(let remaining):
                let n = min(remaining, input.count - i)
                emitBody(input, i, n)
                i += n
                state = n == remaining ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - n)
            case .chunkDataEnd(let sawCR):
                let byte = input[i]
                if !sawCR && byte == HTTPSyntax.cr {
                    state = .chunkDataEnd(sawCR: true)
                    i += 1
                } else if byte == HTTPSyntax.lf {
                    if !sawCR { messageAnomalies.insert(.bareLF) }
                    state = .chunkSize
                    i += 1
                } else {
                    messageAnomalies.insert(.missingChunkTerminator)
                    state = .chunkSize
                }
            case .trailers:
                i = scanTrailers(input, from: i)
            case .bodyUntilClose:
                emitBody(input, i, input.count - i)
                i = input.count
            case .opaque:
                return !isNotHTTP
            }
        }
        return !isNotHTTP
    }

    /// `length` bytes of the stream were lost.
    public func gap(_ length: Int, at time: Timestamp) {
        now = time
        switch state {
        case .fixedBody(let remaining) where length <= remaining:
            // The hole lies inside the body: framing survives, only the bytes are missing.
            messageAnomalies.insert(.streamGap)
            bodyBytesSeen += length
            if length == remaining { finishMessage(complete: true) } else { state = .fixedBody(remaining: remaining - length) }
        case .chunkData(let remaining) where length <= remaining:
            messageAnomalies.insert(.streamGap)
            bodyBytesSeen += length
            state = length == remaining ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - length)
        case .bodyUntilClose:
            messageAnomalies.insert(.streamGap)
        case .opaque:
            break
        case .resync:
            resyncCandidate = false
            buffer.removeAll(keepingCapacity: true)
        default:
            if inMessage {
                messageAnomalies.insert(.streamGap)
                finishMessage(complete: false)
            } else {
                pendingAnomalies.insert(.streamGap)
            }
            enterResync()
            // The byte after a gap often starts a message (a whole packet was lost).
            resyncCandidate = true
        }
    }

    /// End of the stream (FIN, RST, timeout): a body delimited by close ends here; anything
    /// else in progress is reported incomplete rather than lost.
    public func finish(at time: Timestamp) {
        now = time
        switch state {
        case .bodyUntilClose:
            finishMessage(complete: true)
        case .head where startLineChecked:
            // A head that never ended (attacker closed early) is still worth inspecting.
            var block = takeHeadBlock()
            if block.last != HTTPSyntax.lf { block.append(HTTPSyntax.lf) }
            pendingAnomalies.insert(.incomplete)
            block.withUnsafeBytes { completeHead($0) }
            if inMessage {
                messageAnomalies.insert(.incomplete)
                finishMessage(complete: false)
            }
        default:
            if inMessage {
                messageAnomalies.insert(.incomplete)
                finishMessage(complete: false)
            }
        }
        state = .opaque
        releaseBuffers()
    }

    /// The peer answered before the body was sent (`Expect: 100-continue` refused): the body
    /// will not come, so the next bytes start a new message.
    @discardableResult
    public func abandonBody() -> Bool {
        guard inMessage, bodyBytesSeen == 0 else { return false }
        switch state {
        case .fixedBody, .chunkSize:
            guard buffer.isEmpty else { return false }
            finishMessage(complete: true)
            return true
        default:
            return false
        }
    }

    /// The first bytes of the head being collected (at most `limit`): what a proxy can report
    /// of a request it refuses before its head is complete.
    public func headPrefix(limit: Int = 2048) -> [UInt8] { Array(buffer.prefix(limit)) }

    /// Memory held across deliveries: the head (or line) being collected.
    public var heldBytes: Int { buffer.capacity + tail.capacity }

    /// Memory pressure: a head being collected is handed on now with what has arrived (flagged
    /// incomplete and `anomaly`), and the rest of it is skipped until the next start line.
    /// A partial line or trailer block is let go. Afterwards the parser holds nothing.
    public func shedHeldBytes(noting anomaly: HTTPAnomalies) {
        switch state {
        case .head where startLineChecked:
            var block = takeHeadBlock()
            if block.last != HTTPSyntax.lf { block.append(HTTPSyntax.lf) }
            pendingAnomalies.formUnion([.incomplete, anomaly])
            block.withUnsafeBytes { completeHead($0) }
            if isOpaque { return }
            if inMessage {
                messageAnomalies.formUnion([.incomplete, anomaly])
                finishMessage(complete: false)
            }
            enterResync()
            // The rest of the head follows: nothing starts before its next line.
            resyncCandidate = false
        case .resync:
            resyncCandidate = false
        case .head, .trailers, .chunkSize:
            if inMessage {
                messageAnomalies.formUnion([.incomplete, anomaly])
                finishMessage(complete: false)
            }
            enterResync()
            resyncCandidate = false
        default:
            break
        }
        releaseBuffers()
    }

    private var isOpaque: Bool { if case .opaque = state { return true } else { return false } }

    /// Stop parsing: the connection became a tunnel.
    public func becomeOpaque() {
        state = .opaque
        releaseBuffers()
    }

    /// Nothing more will be collected: what was held goes (the tail of a long head included).
    private func releaseBuffers() {
        buffer = []
        tail = []
        tailStart = 0
    }

    // MARK: - Heads

    private func beginHead() {
        state = .head
        buffer.removeAll(keepingCapacity: true)
        resetHeadBounds()
        lineHasContent = false
        startLineChecked = false
        messageStart = now
    }

    private func resetHeadBounds() {
        headBytes = 0
        tail = []
        tailStart = 0
        bufferOverflowed = false
        startLineOversize = false
    }

    private var tailCapacity: Int { limits.maxHeaderBytes / 4 }

    /// Keeps the first `maxHeaderBytes - tailCapacity` bytes of a head and its last
    /// `tailCapacity`; bytes in between are counted, not kept.
    private func appendToBuffer(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) {
        headBytes += range.count
        let keep = limits.maxHeaderBytes - tailCapacity
        var rest = range
        if buffer.count < keep {
            let taken = min(keep - buffer.count, rest.count)
            buffer.append(contentsOf: input[rest.lowerBound..<rest.lowerBound + taken])
            rest = rest.lowerBound + taken..<rest.upperBound
        }
        if !rest.isEmpty { appendToTail(input, rest) }
        if !bufferOverflowed && headBytes > limits.maxHeaderBytes {
            bufferOverflowed = true
            delegate?.parser(self, headExceeds: .oversizeHeaders)
        }
    }

    private func appendToTail(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) {
        let capacity = tailCapacity
        guard capacity > 0 else { return }
        var range = range
        if range.count >= capacity {
            tail = Array(input[(range.upperBound - capacity)..<range.upperBound])
            tailStart = 0
            return
        }
        // Fill to capacity, then overwrite the oldest bytes.
        if tail.count < capacity {
            let taken = min(capacity - tail.count, range.count)
            tail.append(contentsOf: input[range.lowerBound..<range.lowerBound + taken])
            range = range.lowerBound + taken..<range.upperBound
        }
        for byte in input[range] {
            tail[tailStart] = byte
            tailStart = tailStart + 1 == capacity ? 0 : tailStart + 1
        }
    }

    /// The head collected so far as one block: its kept start, then its tail. Where the middle
    /// was skipped the two are joined so that the seam never makes an empty line (which would
    /// end the head early): a CR left without its LF is dropped, and after a complete line the
    /// tail's leading line ends are too.
    private func takeHeadBlock() -> [UInt8] {
        var block = buffer
        // Released, not kept for reuse: an idle connection should hold nothing (a buffer grown
        // for one long head, kept by every connection, is what exhausts memory).
        buffer = []
        if !tail.isEmpty {
            var ordered = Array(tail[tailStart...]) + tail[..<tailStart]
            let omitted = headBytes - block.count - ordered.count
            if omitted > 0 {
                if block.last == HTTPSyntax.cr { block.removeLast() }
                if block.last == HTTPSyntax.lf {
                    ordered.removeFirst(ordered.prefix { $0 == HTTPSyntax.cr || $0 == HTTPSyntax.lf }.count)
                }
            }
            block += ordered
        }
        tail = []
        tailStart = 0
        return block
    }

    /// The first line is unfinished: is it still plausibly a start line?
    private func firstLineIsPlausible() -> Bool {
        buffer.withUnsafeBytes { prefix in
            kind == .request ? StartLineProbe.couldStartRequestLine(prefix, strictMethod: false) : StartLineProbe.couldStartStatusLine(prefix)
        }
    }

    private func noteOversizeStartLine() {
        guard !startLineOversize else { return }
        startLineOversize = true
        delegate?.parser(self, headExceeds: .oversizeStartLine)
    }

    private func scanHead(_ input: UnsafeRawBufferPointer, from start: Int) -> Int {
        var position = start
        while true {
            guard let lf = HTTPHeadParser.indexOfLF(input, from: position) else {
                holdUnterminatedLine(input, blockStart: start, lineStart: position)
                if !startLineChecked {
                    if !firstLineIsPlausible() {
                        // Cannot begin a start line whatever follows: say so now, not at the line end.
                        rejectStartLine()
                    } else if headBytes > limits.maxStartLineBytes {
                        // Longer than any server keeps, but it looks like a start line: read
                        // on and inspect it rather than call the stream something else.
                        startLineChecked = true
                        noteOversizeStartLine()
                    }
                }
                return input.count
            }
            let contentful = lineIsContentful(input, position, lf)
            if !startLineChecked {
                startLineChecked = true
                if headBytes + (lf - start) > limits.maxStartLineBytes { noteOversizeStartLine() }
                let verdict: StartLineVerdict = withLine(input, start..<lf) { self.checkStartLine($0) }
                switch verdict {
                case .valid:
                    break
                case .simpleRequest:
                    appendToBuffer(input, start..<lf + 1)
                    finishHeadFromBuffer()
                    return lf + 1
                case .invalid:
                    rejectStartLine()
                    if isNotHTTP { return input.count }
                    return lf + 1
                }
            } else if !contentful {
                if buffer.isEmpty && tail.isEmpty && lf + 1 - start <= limits.maxHeaderBytes {
                    completeHead(UnsafeRawBufferPointer(rebasing: input[start...lf]))
                } else {
                    appendToBuffer(input, start..<lf + 1)
                    finishHeadFromBuffer()
                }
                return lf + 1
            }
            lineHasContent = false
            position = lf + 1
        }
    }

    /// Whether the line ending at `lf` (its start may lie in an earlier delivery) is more than
    /// an optional CR: an empty line ends a head or a trailer block.
    private func lineIsContentful(_ input: UnsafeRawBufferPointer, _ position: Int, _ lf: Int) -> Bool {
        let piece = lf - position
        return lineHasContent || piece > 1 || (piece == 1 && input[position] != HTTPSyntax.cr)
    }

    /// Keeps the block read so far when the input ends in the middle of a line.
    private func holdUnterminatedLine(_ input: UnsafeRawBufferPointer, blockStart: Int, lineStart: Int) {
        if lineIsContentful(input, lineStart, input.count) { lineHasContent = true }
        appendToBuffer(input, blockStart..<input.count)
    }

    private enum StartLineVerdict { case valid, simpleRequest, invalid }

    /// Runs `body` on the current line: buffered bytes plus `range` of the input.
    private func withLine<R>(_ input: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if buffer.isEmpty { return body(UnsafeRawBufferPointer(rebasing: input[range])) }
        var line = buffer
        line.append(contentsOf: input[range])
        return line.withUnsafeBytes(body)
    }

    private func checkStartLine(_ line: UnsafeRawBufferPointer) -> StartLineVerdict {
        switch kind {
        case .request:
            if StartLineProbe.isRequestLine(line, strictMethod: false) { return .valid }
            if StartLineProbe.isSimpleRequestLine(line) { return .simpleRequest }
            return .invalid
        case .response:
            return StartLineProbe.isStatusLine(line) ? .valid : .invalid
        }
    }

    /// The first line of a supposed message is not a start line.
    private func rejectStartLine() {
        buffer.removeAll(keepingCapacity: true)
        if !classified {
            becomeNotHTTP()
            return
        }
        pendingAnomalies.insert(.skippedData)
        enterResync()
        resyncCandidate = true
    }

    private func becomeNotHTTP() {
        isNotHTTP = true
        state = .opaque
        releaseBuffers()
    }

    private func finishHeadFromBuffer() {
        let block = takeHeadBlock()
        block.withUnsafeBytes { completeHead($0) }
    }

    private func completeHead(_ block: UnsafeRawBufferPointer) {
        var result = HTTPHeadParser.parse(block, isRequest: kind == .request, validate: kind == .request,
                                          framingOnly: kind == .response)
        result.anomalies.formUnion(pendingAnomalies)
        if bufferOverflowed { result.anomalies.insert(.oversizeHeaders) }
        if startLineOversize { result.anomalies.insert(.oversizeStartLine) }
        pendingAnomalies = []
        resetHeadBounds()
        classified = true
        messagesParsed += 1
        var framing = bodyFraming(result.head, version: result.version, status: result.status, anomalies: &result.anomalies)
        inMessage = true
        bodyBytesSeen = 0
        messageAnomalies = result.anomalies
        let disposition = delegate?.parser(self, didParseHead: ParsedHead(
            head: result.head, version: result.version, status: result.status,
            anomalies: result.anomalies, startTime: messageStart, framing: framing)) ?? .framedByHeaders
        switch disposition {
        case .framedByHeaders: break
        case .noBody: framing = .none
        case .tunnel:
            finishMessage(complete: true)
            becomeOpaque()
            return
        }
        switch framing {
        case .none: finishMessage(complete: true)
        case .length(let n): if n == 0 { finishMessage(complete: true) } else { state = .fixedBody(remaining: n) }
        case .chunked: state = .chunkSize
        case .untilClose: state = .bodyUntilClose
        }
    }

    /// RFC 9112 §6.3, recording every smuggling-relevant oddity on the way.
    private func bodyFraming(_ head: HTTPMessageHead, version: HTTPVersion, status: Int, anomalies: inout HTTPAnomalies) -> BodyFraming {
        if kind == .response && (status < 200 || status == 204 || status == 304) { return .none }
        if version == .http09 { return kind == .request ? .none : .untilClose }
        // Counted first, gathered only when present: most messages have at most one of each,
        // and this runs for every message.
        var contentLengthCount = 0, transferEncodingCount = 0, hosts = 0
        head.storage.withUnsafeBytes { buffer in
            for field in head.fields {
                switch field.name.count {
                case 14 where Self.contentLength.withUTF8Buffer { HTTPMessageHead.equalsIgnoringCase(buffer, field.name, UnsafeRawBufferPointer($0)) }:
                    contentLengthCount += 1
                case 17 where Self.transferEncoding.withUTF8Buffer { HTTPMessageHead.equalsIgnoringCase(buffer, field.name, UnsafeRawBufferPointer($0)) }:
                    transferEncodingCount += 1
                case 4 where Self.host.withUTF8Buffer { HTTPMessageHead.equalsIgnoringCase(buffer, field.name, UnsafeRawBufferPointer($0)) }:
                    hosts += 1
                default: break
                }
            }
        }
        // Lazy: a response nearly always has one Content-Length, and two arrays per message show.
        let contentLengths = head.fields.lazy.filter { $0.name.count == 14 && head.nameEquals($0, Self.contentLength) }.map(\.value)
        let transferEncodings = transferEncodingCount == 0 ? [] : head.fields.filter { $0.name.count == 17 && head.nameEquals($0, Self.transferEncoding) }.map(\.value)
        if kind == .request {
            if hosts == 0 && version == .http11 { anomalies.insert(.missingHost) }
            if hosts > 1 { anomalies.insert(.duplicateHost) }
        }
        let lengthFraming = contentLengthCount == 0 ? nil : contentLengthFraming(head, contentLengths, &anomalies)
        if !transferEncodings.isEmpty {
            if transferEncodings.count > 1 { anomalies.insert(.duplicateTransferEncoding) }
            if contentLengthCount > 0 { anomalies.insert(.contentLengthWithTransferEncoding) }
            var codings: [[UInt8]] = []
            for value in transferEncodings {
                let raw = head.bytes(value)
                if raw.contains(HTTPSyntax.tab) || Self.hasUnusualWhitespace(around: value, in: head) {
                    anomalies.insert(.obfuscatedTransferEncoding)
                }
                for piece in raw.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    var token = piece.drop { HTTPSyntax.isWhitespace($0) }
                    while let last = token.last, HTTPSyntax.isWhitespace(last) { token = token.dropLast() }
                    if token.isEmpty || token.contains(where: { !HTTPSyntax.isToken($0) }) {
                        anomalies.insert(.obfuscatedTransferEncoding)
                    }
                    codings.append(token.map(ASCII.lowercased))
                }
            }
            let chunked = Array("chunked".utf8)
            if codings.last == chunked {
                if codings.filter({ $0 == chunked }).count > 1 { anomalies.insert(.obfuscatedTransferEncoding) }
                return .chunked
            }
            anomalies.insert(.invalidTransferEncoding)
            if codings.contains(where: { $0.count > 0 && $0 != chunked && Self.contains($0, chunked) }) {
                anomalies.insert(.obfuscatedTransferEncoding)
            }
            if kind == .response { return .untilClose }
            return lengthFraming ?? .none
        }
        if let lengthFraming { return lengthFraming }
        return kind == .request ? .none : .untilClose
    }

    private func contentLengthFraming(_ head: HTTPMessageHead, _ values: some Sequence<ByteRange>, _ anomalies: inout HTTPAnomalies) -> BodyFraming? {
        var first: Int?
        var conflicting = false
        var items = 0
        head.storage.withUnsafeBytes { storage in
            for value in values {
                // A value may itself be a list ("5, 5"); every item must agree.
                var itemStart = Int(value.start)
                let end = Int(value.end)
                while itemStart <= end {
                    var itemEnd = itemStart
                    while itemEnd < end, storage[itemEnd] != UInt8(ascii: ",") { itemEnd += 1 }
                    items += 1
                    if let number = HTTPSyntax.decimal(storage, HTTPHeadParser.trimmed(storage, itemStart, itemEnd)) {
                        if let first {
                            if first != number { conflicting = true }
                        } else {
                            first = number
                        }
                    } else {
                        anomalies.insert(.invalidContentLength)
                    }
                    itemStart = itemEnd + 1
                }
            }
        }
        if conflicting { anomalies.insert(.conflictingContentLength) } else if items > 1 { anomalies.insert(.duplicateContentLength) }
        return first.map { .length($0) }
    }

    /// Tabs or several spaces before the value, or whitespace after it: legal OWS, but the
    /// classic way to make one server see `chunked` and another not.
    private static func hasUnusualWhitespace(around value: ByteRange, in head: HTTPMessageHead) -> Bool {
        let storage = head.storage
        var i = Int(value.start) - 1
        var spaces = 0
        while i >= 0, HTTPSyntax.isWhitespace(storage[i]) {
            if storage[i] == HTTPSyntax.tab { return true }
            spaces += 1
            i -= 1
        }
        let end = Int(value.end)
        return spaces > 1 || (end < storage.count && HTTPSyntax.isWhitespace(storage[end]))
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return true
        }
        return false
    }

    private static let contentLength: StaticString = "content-length"
    private static let transferEncoding: StaticString = "transfer-encoding"
    private static let host: StaticString = "host"

    // MARK: - Bodies

    private func emitBody(_ input: UnsafeRawBufferPointer, _ start: Int, _ count: Int) {
        guard count > 0 else { return }
        bodyBytesSeen += count
        delegate?.parser(self, body: UnsafeRawBufferPointer(rebasing: input[start..<start + count]))
    }

    private func scanChunkSize(_ input: UnsafeRawBufferPointer, from start: Int) -> Int {
        guard let lf = HTTPHeadParser.indexOfLF(input, from: start) else {
            buffer.append(contentsOf: input[start...])
            if buffer.count > 4096 {
                messageAnomalies.insert(.invalidChunkSize)
                loseFraming()
            }
            return input.count
        }
        let size: Int? = withLine(input, start..<lf) { parseChunkSize($0) }
        buffer.removeAll(keepingCapacity: true)
        guard let size else {
            messageAnomalies.insert(.invalidChunkSize)
            loseFraming()
            return lf + 1
        }
        if size == 0 {
            state = .trailers
            lineHasContent = false
        } else {
            state = .chunkData(remaining: size)
        }
        return lf + 1
    }

    /// `1*HEXDIG [ BWS ";" ext ] [CR]`; leading zeros are fine, anything else odd is flagged.
    private func parseChunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var end = line.count
        if end > 0 && line[end - 1] == HTTPSyntax.cr { end -= 1 } else { messageAnomalies.insert(.bareLF) }
        var i = 0
        while i < end, HTTPSyntax.isWhitespace(line[i]) {
            messageAnomalies.insert(.invalidChunkSize)
            i += 1
        }
        var value = 0
        var significant = 0
        let digitsStart = i
        while i < end, let digit = ASCII.hexValue(line[i]).map(Int.init) {
            if significant > 0 || digit != 0 { significant += 1 }
            guard significant <= 15 else { return nil }
            value = value << 4 | digit
            i += 1
        }
        guard i > digitsStart else { return nil }
        while i < end, HTTPSyntax.isWhitespace(line[i]) { i += 1 }
        if i < end {
            guard line[i] == UInt8(ascii: ";") else { return nil }
            messageAnomalies.insert(.chunkExtension)
        }
        return value
    }

    private func scanTrailers(_ input: UnsafeRawBufferPointer, from start: Int) -> Int {
        var position = start
        while true {
            guard let lf = HTTPHeadParser.indexOfLF(input, from: position) else {
                holdUnterminatedLine(input, blockStart: start, lineStart: position)
                return input.count
            }
            let contentful = lineIsContentful(input, position, lf)
            if !contentful {
                appendToBuffer(input, start..<lf + 1)
                let block = takeHeadBlock()
                resetHeadBounds()
                let result = block.withUnsafeBytes { HTTPHeadParser.parse($0, isRequest: nil) }
                messageAnomalies.formUnion(result.anomalies)
                if !result.head.fields.isEmpty { delegate?.parser(self, trailers: result.head) }
                finishMessage(complete: true)
                return lf + 1
            }
            lineHasContent = false
            position = lf + 1
        }
    }

    /// Framing inside a message is lost: end it as incomplete and search for the next one.
    private func loseFraming() {
        finishMessage(complete: false)
        enterResync()
        resyncCandidate = false
    }

    private func finishMessage(complete: Bool) {
        inMessage = false
        state = .idle
        let anomalies = messageAnomalies
        messageAnomalies = []
        delegate?.parser(self, didFinishMessageWith: anomalies, complete: complete, at: now)
    }

    // MARK: - Resynchronisation

    private func enterResync() {
        state = .resync
        buffer.removeAll(keepingCapacity: true)
        tail = []
        tailStart = 0
        delegate?.parserLostSync(self, at: now)
    }

    /// Finds the next line that plausibly starts a message. Only lines whose first byte could
    /// begin one are copied; the rest is skipped at memchr speed.
    private func scanResync(_ input: UnsafeRawBufferPointer, from start: Int) -> Int {
        var position = start
        while position < input.count {
            if resyncCandidate {
                if buffer.isEmpty {
                    let first = input[position]
                    let plausible = kind == .request ? first &- 0x41 < 26 : first == UInt8(ascii: "H")
                    if !plausible {
                        resyncCandidate = false
                        continue
                    }
                }
                guard let lf = HTTPHeadParser.indexOfLF(input, from: position) else {
                    buffer.append(contentsOf: input[position...])
                    if buffer.count > limits.maxStartLineBytes {
                        if kind == .request && buffer.withUnsafeBytes({ StartLineProbe.couldStartResyncedRequestLine($0) }) {
                            // A request line too long for any server, after lost data: inspect it.
                            if skippedBytes > 0 && classified { pendingAnomalies.insert(.skippedData) }
                            skippedBytes = 0
                            state = .head
                            resetHeadBounds()
                            headBytes = buffer.count
                            lineHasContent = true
                            startLineChecked = true
                            messageStart = now
                            noteOversizeStartLine()
                            return input.count
                        }
                        skippedBytes += buffer.count
                        buffer.removeAll(keepingCapacity: true)
                        resyncCandidate = false
                    }
                    return input.count
                }
                let found: Bool = withLine(input, position..<lf) { line in
                    kind == .request ? StartLineProbe.isRequestLine(line, strictMethod: true) : StartLineProbe.isStatusLine(line)
                }
                if found {
                    // Bytes skipped before the first message of a mid-stream capture are expected.
                    if skippedBytes > 0 && classified { pendingAnomalies.insert(.skippedData) }
                    skippedBytes = 0
                    var line = buffer
                    line.append(contentsOf: input[position...lf])
                    state = .head
                    buffer = line
                    resetHeadBounds()
                    headBytes = line.count
                    lineHasContent = false
                    startLineChecked = true
                    messageStart = now
                    return lf + 1
                }
                skippedBytes += buffer.count + (lf + 1 - position)
                buffer.removeAll(keepingCapacity: true)
                position = lf + 1
                continue
            }
            guard let lf = HTTPHeadParser.indexOfLF(input, from: position) else {
                skippedBytes += input.count - position
                break
            }
            skippedBytes += lf + 1 - position
            position = lf + 1
            resyncCandidate = true
        }
        if !classified && kind == .request && messagesParsed == 0 && skippedBytes > limits.midstreamSearchBytes {
            becomeNotHTTP()
        }
        return input.count
    }
}
