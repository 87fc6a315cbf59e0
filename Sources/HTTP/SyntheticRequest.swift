import NetworkTypes

extension HTTPRequest {
    /// A request built from parts (a log line, a test case) by the same parser that reads the
    /// wire, so detection sees exactly what it would see in traffic. Bytes that would break
    /// the request line (CR, LF) are dropped from the target.
    public static func synthesize(method: String = "GET", target: [UInt8], headers: [(String, String)] = [("Host", "localhost")],
                                  body: [UInt8] = []) -> HTTPRequest? {
        var wire = Array(method.utf8) + [0x20] + target.filter { $0 != 0x0D && $0 != 0x0A } + Array(" HTTP/1.1\r\n".utf8)
        for (name, value) in headers { wire += Array("\(name): \(value)\r\n".utf8) }
        if !body.isEmpty { wire += Array("Content-Length: \(body.count)\r\n".utf8) }
        wire += [0x0D, 0x0A] + body
        let collector = SingleRequestCollector()
        // The whole input is at hand: keep all of it (a long log line is inspected whole, not
        // cut at the wire's head limit), while the start-line limit still flags what a sensor
        // would flag.
        var limits = HTTPParserLimits()
        limits.maxHeaderBytes = max(limits.maxHeaderBytes, wire.count + 1)
        limits.maxInspectedBodyBytes = max(limits.maxInspectedBodyBytes, body.count)
        let parser = HTTPMessageParser(kind: .request, limits: limits)
        parser.delegate = collector
        wire.withUnsafeBytes { _ = parser.parse($0, at: .zero) }
        parser.finish(at: .zero)
        return collector.request
    }
}

extension HTTPRequest {
    /// A request that could not be parsed whole (its head passed a limit, or it was not HTTP),
    /// made from the first line of what arrived, so that refusing it can be reported like any
    /// other request: `anomalies` are exactly the ones given.
    public static func placeholder(startOf bytes: [UInt8], anomalies: HTTPAnomalies, at time: Timestamp) -> HTTPRequest {
        let line = bytes.prefix(2048).prefix { $0 != HTTPSyntax.cr && $0 != HTTPSyntax.lf }
        let block = Array(line) + [HTTPSyntax.cr, HTTPSyntax.lf, HTTPSyntax.cr, HTTPSyntax.lf]
        let parsed = block.withUnsafeBytes { HTTPHeadParser.parse($0, isRequest: true, validate: false) }
        return HTTPRequest(head: parsed.head, version: parsed.version, anomalies: anomalies, startTime: time, endTime: time)
    }
}

private final class SingleRequestCollector: HTTPMessageParserDelegate {
    var request: HTTPRequest?

    func parser(_ parser: HTTPMessageParser, didParseHead head: ParsedHead) -> HeadDisposition {
        if request == nil {
            request = HTTPRequest(head: head.head, version: head.version, anomalies: head.anomalies,
                                  startTime: head.startTime, endTime: head.startTime)
        }
        return .framedByHeaders
    }

    func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {
        request?.body.append(contentsOf: body)
        request?.bodyLength += body.count
    }

    func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {}

    func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
        request?.anomalies.formUnion(anomalies)
    }

    func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {}
}
