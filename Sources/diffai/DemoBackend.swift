import HTTP
import NetworkTypes
import Pipeline

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The small backend `diffai demo` starts on the monitored port: it answers every request
/// with 200 and a line of text. Requests are framed by diffai's own HTTP parser, so
/// keep-alive, pipelining and chunked bodies all work.
final class DemoBackend: Sendable {
    let port: UInt16
    private let listener: Int32

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    init(port: UInt16) throws {
        self.port = port
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = loopbackAddress(port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw StartError(description: "cannot listen on 127.0.0.1:\(port) (\(reason)); is something else using it? choose another with --port")
        }
    }

    func start() {
        let listener = self.listener
        Threads.detach {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { if errno == EINTR { continue } else { return } }
                Threads.detach { DemoBackend.serve(client) }
            }
        }
    }

    private static func serve(_ fd: Int32) {
        defer { close(fd) }
        let responder = Responder(fd: fd)
        let parser = HTTPMessageParser(kind: .request)
        parser.delegate = responder
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            let ok = buffer.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: .zero) }
            if !ok || responder.closeAfterReply { return }
        }
    }

    private final class Responder: HTTPMessageParserDelegate {
        let fd: Int32
        var closeAfterReply = false
        var wantsClose = false
        init(fd: Int32) { self.fd = fd }

        func parser(_ parser: HTTPMessageParser, didParseHead head: ParsedHead) -> HeadDisposition {
            wantsClose = head.head.firstValue(named: "connection")?.lowercased() == "close" || head.version == .http10
            return .framedByHeaders
        }
        func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {}
        func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {}
        func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {
            let body = "hello from the diffai demo backend\n"
            let reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                + (wantsClose ? "Connection: close\r\n" : "") + "\r\n" + body
            _ = Array(reply.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if wantsClose { closeAfterReply = true }
        }
        func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {}
    }
}

/// Sends one raw request on its own connection and waits for the reply.
func sendDemoRequest(port: UInt16, _ request: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    _ = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
}

func loopbackAddress(_ port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(port.bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}
