import HTTP
import NetworkTypes

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
        // The parser's reading of the framing, not a second one: a body delimited by the
        // backend's close leaves nothing to reuse.
        if case .untilClose = head.framing {
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
