import HTTP
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Answers the proxy writes itself: refusals and gateway errors, each a short page that names
/// an incident id the analyst finds in the alert.
enum ProxyResponse {
    static func page(status: Int, reason: String, explanation: String, incident: String?, close: Bool) -> [UInt8] {
        var body = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>\(status) \(reason)</title></head>"
        body += "<body><h1>\(status) \(reason)</h1><p>\(explanation)</p>"
        if let incident { body += "<p>Incident id: <code>\(incident)</code></p>" }
        body += "</body></html>\n"
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
        head += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
        if let incident { head += "X-Diffai-Incident: \(incident)\r\n" }
        if close { head += "Connection: close\r\n" }
        return Array((head + "\r\n" + body).utf8)
    }

    static func blocked(incident: String) -> [UInt8] {
        page(status: 403, reason: "Forbidden", explanation: "This request was refused by the site's intrusion prevention.", incident: incident, close: false)
    }

    static let continueInterim = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}

/// A short id that is unique enough for an analyst to find one alert: time plus randomness.
enum IncidentID {
    static func make() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let random = UInt32.random(in: 0...UInt32.max)
        let stamp = String(UInt64(time.tv_sec), radix: 36)
        let suffix = String(random, radix: 36)
        return stamp + "-" + String(repeating: "0", count: max(0, 7 - suffix.count)) + suffix
    }
}

/// What the proxy refuses before detection: requests whose framing or syntax two HTTP
/// implementations could read differently (the raw material of request smuggling), and
/// requests that RFC 9112 says a server must reject.
enum RequestSyntax {
    static let refused: HTTPAnomalies = [
        .invalidStartLine, .http09, .invalidVersion, .bareLF, .bareCR, .obsoleteLineFolding, .whitespaceBeforeColon,
        .invalidHeaderName, .malformedHeaderLine, .controlCharacterInHeader, .missingHost, .duplicateHost,
        .contentLengthWithTransferEncoding, .duplicateContentLength, .conflictingContentLength, .invalidContentLength,
        .invalidTransferEncoding, .obfuscatedTransferEncoding, .duplicateTransferEncoding, .invalidChunkSize,
        .missingChunkTerminator, .nulInTarget,
    ]
}

/// The request head as sent upstream: start line and end-to-end headers in their order and
/// case, hop-by-hop headers (RFC 9110 §7.6.1, and those named by Connection) removed,
/// X-Forwarded-For appended, and the body's framing restated.
enum UpstreamHead {
    /// Hop-by-hop headers, plus those the proxy restates itself: the body's framing
    /// (Content-Length) and Expect (the proxy answers 100-continue).
    static let notForwarded: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
                                            "proxy-authenticate", "proxy-authorization", "expect", "content-length"]

    enum Framing { case none, length(Int), chunked }

    static func bytes(for request: HTTPRequest, client: Endpoint, framing: Framing) -> [UInt8] {
        let head = request.head
        var named: Set<String> = []
        for value in head.values(named: "connection") {
            for token in value.split(separator: ",") { named.insert(String(token).trimmedSpaces.lowercased()) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(head.storage.count + 96)
        out += head.bytes(head.startLine.0)
        out.append(0x20)
        out += head.bytes(head.startLine.1)
        out += Array(" HTTP/1.1\r\n".utf8)
        var forwardedFor: [UInt8]?
        for field in head.fields {
            let name = head.string(field.name).lowercased()
            if notForwarded.contains(name) || named.contains(name) { continue }
            if name == "x-forwarded-for" {
                forwardedFor = (forwardedFor.map { $0 + Array(", ".utf8) } ?? []) + head.bytes(field.value)
                continue
            }
            out += head.bytes(field.name)
            out += [0x3A, 0x20]
            out += head.bytes(field.value)
            out += [0x0D, 0x0A]
        }
        let address = Array(client.address.description.utf8)
        out += Array("X-Forwarded-For: ".utf8) + (forwardedFor.map { $0 + Array(", ".utf8) } ?? []) + address + [0x0D, 0x0A]
        switch framing {
        case .none: break
        case .length(let count): out += Array("Content-Length: \(count)\r\n".utf8)
        case .chunked: out += Array("Transfer-Encoding: chunked\r\n".utf8)
        }
        out += [0x0D, 0x0A]
        return out
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (header values, list tokens).
    var trimmedSpaces: String {
        var s = Substring(self)
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return String(s)
    }
}
