import HTTP
import NIOCore
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

    /// The page with `Connection: close` added (when the connection ends after it).
    static func withClose(_ page: [UInt8]) -> [UInt8] {
        let marker = Array("Connection: close\r\n".utf8)
        if page.firstRange(of: marker) != nil { return page }
        guard let end = page.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) else { return page }
        return Array(page[..<end.lowerBound]) + [0x0D, 0x0A] + marker.dropLast(2) + Array(page[end.lowerBound...])
    }

    static let continueInterim = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}

/// A short id that is unique enough for an analyst to find one alert: time plus randomness.
enum IncidentID {
    static func make() -> String {
        let random = UInt32.random(in: 0...UInt32.max)
        let stamp = String(UInt64(max(0, SystemClock.now().wholeSeconds)), radix: 36)
        let suffix = String(random, radix: 36)
        return stamp + "-" + String(repeating: "0", count: max(0, 7 - suffix.count)) + suffix
    }
}

/// What the proxy refuses before detection: requests whose framing or syntax two HTTP
/// implementations could read differently (the raw material of request smuggling), and
/// requests that RFC 9112 says a server must reject.
enum RequestSyntax {
    static let refused: HTTPAnomalies = [
        .invalidStartLine, .http09, .invalidVersion, .whitespaceInTarget, .bareLF, .bareCR, .obsoleteLineFolding, .whitespaceBeforeColon,
        .invalidHeaderName, .malformedHeaderLine, .controlCharacterInHeader, .missingHost, .duplicateHost,
        .contentLengthWithTransferEncoding, .duplicateContentLength, .conflictingContentLength, .invalidContentLength,
        .invalidTransferEncoding, .obfuscatedTransferEncoding, .duplicateTransferEncoding, .invalidChunkSize,
        .missingChunkTerminator, .nulInTarget,
    ]
}

/// The request head as sent upstream: start line and end-to-end headers in their order and
/// case, hop-by-hop headers (RFC 9110 §7.6.1, and those named by Connection) removed,
/// X-Forwarded-For appended, and the body's framing restated. Built from the parsed head's
/// bytes straight into the outgoing buffer (no strings: this runs for every request).
enum UpstreamHead {
    enum Framing { case none, length(Int), chunked }

    /// Hop-by-hop headers, plus those the proxy restates itself: the body's framing
    /// (Content-Length) and Expect (the proxy answers 100-continue).
    static func isNotForwarded(_ head: HTTPMessageHead, _ field: HTTPHeaderField) -> Bool {
        switch field.name.count {
        case 2: head.nameEquals(field, "te")
        case 6: head.nameEquals(field, "expect")
        case 7: head.nameEquals(field, "trailer") || head.nameEquals(field, "upgrade")
        case 10: head.nameEquals(field, "connection") || head.nameEquals(field, "keep-alive")
        case 14: head.nameEquals(field, "content-length")
        case 16: head.nameEquals(field, "proxy-connection")
        case 17: head.nameEquals(field, "transfer-encoding")
        case 18: head.nameEquals(field, "proxy-authenticate")
        case 19: head.nameEquals(field, "proxy-authorization")
        default: false
        }
    }

    /// `forwardedFor` is the client's address as text (the connection's, computed once).
    static func write(for request: HTTPRequest, forwardedFor address: [UInt8], framing: Framing, into out: inout ByteBuffer) {
        let head = request.head
        // Headers that Connection names are hop-by-hop too (rare: only then is it looked at).
        let named = head.contains("connection") ? head.listItems(of: "connection") : []
        head.storage.withUnsafeBytes { storage in
            func bytes(_ range: ByteRange) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: storage[Int(range.start)..<Int(range.end)])
            }
            out.writeBytes(bytes(head.startLine.0))
            out.writeStaticString(" ")
            out.writeBytes(bytes(head.startLine.1))
            out.writeStaticString(" HTTP/1.1\r\n")
            var forwardedFor: [ByteRange] = []
            for field in head.fields {
                if isNotForwarded(head, field) { continue }
                if !named.isEmpty, named.contains(where: { head.nameEquals(field, $0) }) { continue }
                if head.nameEquals(field, "x-forwarded-for") {
                    forwardedFor.append(field.value)
                    continue
                }
                out.writeBytes(bytes(field.name))
                out.writeStaticString(": ")
                out.writeBytes(bytes(field.value))
                out.writeStaticString("\r\n")
            }
            out.writeStaticString("X-Forwarded-For: ")
            for value in forwardedFor {
                out.writeBytes(bytes(value))
                out.writeStaticString(", ")
            }
        }
        out.writeBytes(address)
        out.writeStaticString("\r\n")
        switch framing {
        case .none: break
        case .length(let count): out.writeString("Content-Length: \(count)\r\n")
        case .chunked: out.writeStaticString("Transfer-Encoding: chunked\r\n")
        }
        out.writeStaticString("\r\n")
    }
}
