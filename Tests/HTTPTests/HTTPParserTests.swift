import CaptureSynthesis
import HTTP
import NetworkTypes
import Testing
import TestSupport

/// A stream exercising most of the parser: pipelining, chunking, folding, bodies.
let complexStream =
    "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Folded: one\r\n two\r\n\r\n"
    + "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\n\r\nname=alice&x="
    + "\r\n"  // a stray blank line between messages is allowed
    + "PUT /chunks HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    + "4\r\nWiki\r\n5;a=b\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: yes\r\n\r\n"
    + "GET /last HTTP/1.0\r\n\r\n"

@Suite struct HTTPParserTests {
    struct Snapshot: Equatable {
        var method: String, target: String, version: String
        var headers: [String], body: String, anomalies: [String], trailers: [String]
    }

    func snapshot(_ requests: [HTTPRequest]) -> [Snapshot] {
        requests.map {
            Snapshot(method: $0.method, target: $0.target, version: $0.version.description,
                     headers: $0.headers.map { "\($0.name): \($0.value)" }, body: String(decoding: $0.body, as: UTF8.self),
                     anomalies: $0.anomalies.names, trailers: $0.trailers.map { "\($0.name): \($0.value)" })
        }
    }

    /// The byte-level header questions the proxy asks of every message.
    @Test func headerQuestionsOnBytes() {
        func head(_ headers: [(String, String)]) -> HTTPMessageHead {
            HTTPRequest.synthesize(target: Array("/".utf8), headers: [("Host", "h")] + headers)!.head
        }
        let h = head([("CONNECTION", "Keep-Alive, Close"), ("Content-Length", " 42\t"), ("Expect", " 100-Continue "), ("Transfer-Encoding", "gzip")])
        #expect(h.contains("connection") && h.contains("host") && !h.contains("upgrade"))
        #expect(h.value(of: "connection", contains: "close") && h.value(of: "connection", contains: "keep-alive"))
        #expect(!h.value(of: "transfer-encoding", contains: "chunked") && h.value(of: "transfer-encoding", contains: "gzip"))
        #expect(h.value(of: "expect", is: "100-continue") && !h.value(of: "connection", is: "close"))
        #expect(!head([("Connection", "clos")]).value(of: "connection", contains: "close"))
        #expect(head([("Connection", " Keep-Alive ,, X-Secret\t"), ("connection", "close")]).listItems(of: "connection")
                == [Array("keep-alive".utf8), Array("x-secret".utf8), Array("close".utf8)])
        #expect(head([]).listItems(of: "connection").isEmpty)
        let request = HTTPRequest.synthesize(method: "HEAD", target: Array("/".utf8), headers: [("Host", "h")])!
        #expect(request.isMethod("HEAD") && !request.isMethod("head") && !request.isMethod("HEADX") && !request.isMethod("GET"))
    }

    /// The framing a head announces is handed to the delegate (the proxy re-frames bodies from it).
    @Test func parsedHeadCarriesTheFraming() {
        final class Recorder: HTTPMessageParserDelegate {
            var framings: [HTTPMessageParser.BodyFraming] = []
            func parser(_ parser: HTTPMessageParser, didParseHead head: ParsedHead) -> HeadDisposition {
                framings.append(head.framing)
                return .noBody  // heads only: each message ends at its head
            }
            func parser(_ parser: HTTPMessageParser, body: UnsafeRawBufferPointer) {}
            func parser(_ parser: HTTPMessageParser, trailers: HTTPMessageHead) {}
            func parser(_ parser: HTTPMessageParser, didFinishMessageWith anomalies: HTTPAnomalies, complete: Bool, at time: Timestamp) {}
            func parserLostSync(_ parser: HTTPMessageParser, at time: Timestamp) {}
        }
        func framing(_ kind: HTTPMessageParser.Kind, _ text: String) -> HTTPMessageParser.BodyFraming? {
            let recorder = Recorder()
            let parser = HTTPMessageParser(kind: kind)
            parser.delegate = recorder
            Array(text.utf8).withUnsafeBytes { _ = parser.parse($0, at: Timestamp(seconds: 0, microseconds: 0)) }
            return recorder.framings.first
        }
        #expect(framing(.request, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  42\t\r\n\r\n") == .length(42))
        #expect(framing(.request, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == .chunked)
        #expect(framing(.request, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == .chunked)
        #expect(framing(.request, "GET / HTTP/1.1\r\nHost: h\r\n\r\n") == HTTPMessageParser.BodyFraming.none)
        #expect(framing(.response, "HTTP/1.1 200 OK\r\nServer: s\r\n\r\n") == .untilClose)
        #expect(framing(.response, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n") == HTTPMessageParser.BodyFraming.none)
    }

    @Test func complexStreamInOnePiece() {
        let h = ConnectionHarness()
        h.client(complexStream)
        #expect(h.targets == ["/a?x=1", "/form", "/chunks", "/last"])
        #expect(h.requests[0].header("x-folded") == "one two")
        #expect(h.requests[0].anomalies.contains(.obsoleteLineFolding))
        #expect(String(decoding: h.requests[1].body, as: UTF8.self) == "name=alice&x=")
        #expect(String(decoding: h.requests[2].body, as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.")
        #expect(h.requests[2].trailers.first?.value == "yes")
        #expect(h.requests[3].version == .http10)
    }

    /// EVASION 2: tiny segments. Any split of the stream must give the same requests.
    @Test func everySplitGivesTheSameRequests() {
        let whole = ConnectionHarness()
        whole.client(complexStream)
        let expected = snapshot(whole.requests)

        let byteByByte = ConnectionHarness()
        for byte in complexStream.utf8 { byteByByte.feed([byte], fromClient: true) }
        #expect(snapshot(byteByByte.requests) == expected)

        var random = SeededRandom(seed: TestSeed.value("HTTP parser random cuts"))
        let bytes = Array(complexStream.utf8)
        for _ in 0..<200 {
            let h = ConnectionHarness()
            var offset = 0
            while offset < bytes.count {
                let size = Int(random.next() % 17) + 1
                h.feed(Array(bytes[offset..<min(bytes.count, offset + size)]), fromClient: true)
                offset += size
            }
            #expect(snapshot(h.requests) == expected)
        }
    }

    @Test func responsesPairInOrderWithPipelining() {
        let h = ConnectionHarness()
        h.client("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n")
        h.server("HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n")
        #expect(h.sink.transactions.map(\.status) == [200, 404, 500])
        #expect(h.sink.transactions[2].response?.bodyLength == 1)
    }

    @Test func interimResponsesDoNotConsumeRequests() {
        let h = ConnectionHarness()
        h.client("POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        h.server("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n")
        #expect(h.sink.transactions.isEmpty)
        h.client("abc")
        h.server("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        #expect(h.sink.transactions.map(\.status) == [201])
        #expect(String(decoding: h.requests[0].body, as: UTF8.self) == "abc")
    }

    @Test func http09RequestIsAccepted() {
        let h = ConnectionHarness()
        h.client("GET /ancient\r\n")
        #expect(h.targets == ["/ancient"])
        #expect(h.requests[0].version == .http09)
        #expect(h.requests[0].anomalies.contains(.http09))
    }

    @Test func oversizeHeadersAreFlaggedAndFramingKept() {
        var limits = HTTPParserLimits()
        limits.maxHeaderBytes = 256
        let h = ConnectionHarness(limits: limits)
        let padding = String(repeating: "a", count: 1000)
        h.client("GET /big HTTP/1.1\r\nHost: h\r\nX-Pad: \(padding)\r\nX-Pad2: \(padding)\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.targets == ["/big", "/next"])
        #expect(h.requests[0].anomalies.contains(.oversizeHeaders))
        #expect(!h.requests[1].anomalies.contains(.oversizeHeaders))
    }

    /// EVASION 11: the attack after the filler is kept in the tail.
    @Test func bodyBeyondLimitIsCountedAndItsTailKept() {
        var limits = HTTPParserLimits()
        limits.maxInspectedBodyBytes = 100
        limits.bodyTailBytes = 16
        let h = ConnectionHarness(limits: limits)
        let body = String(repeating: "f", count: 5000) + "' OR 1=1 --"
        h.client("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        for chunk in Array(body.utf8).chunked(into: 700) { h.feed(chunk, fromClient: true) }
        h.client("GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.targets == ["/x", "/after"])
        let request = h.requests[0]
        #expect(request.body.count == 100)
        #expect(request.bodyLength == body.utf8.count)
        #expect(request.bodyTruncated)
        #expect(String(decoding: request.bodyTail, as: UTF8.self) == "fffff' OR 1=1 --")
    }

    @Test func invalidChunkSizeResynchronises() {
        let h = ConnectionHarness()
        h.client("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\ngarbage\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.targets == ["/c", "/next"])
        #expect(h.requests[0].anomalies.contains(.invalidChunkSize))
        #expect(h.requests[0].anomalies.contains(.incomplete))
        #expect(h.requests[1].anomalies.contains(.skippedData))
    }

    @Test func chunkSizeVariantsAreDecoded() {
        let h = ConnectionHarness()
        h.client("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n000003\r\nabc\r\n0a ;x\r\n0123456789\r\n00\r\n\r\n")
        #expect(String(decoding: h.requests[0].body, as: UTF8.self) == "abc0123456789")
        #expect(h.requests[0].anomalies == [.chunkExtension])
    }

    @Test func missingHostAndUnknownMethodAreFlagged() {
        let h = ConnectionHarness()
        h.client("FOO /x HTTP/1.1\r\n\r\n")
        #expect(h.requests[0].anomalies.contains(.missingHost))
        #expect(h.requests[0].anomalies.contains(.unknownMethod))
    }

    @Test func targetWithSpacesIsKeptWhole() {
        let h = ConnectionHarness()
        h.client("GET /a b<script> HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.targets == ["/a b<script>"])
        #expect(h.requests[0].anomalies.contains(.whitespaceInTarget))
    }

    @Test func tlsClientIsNotHTTP() {
        let h = ConnectionHarness()
        #expect(!h.feed([0x16, 0x03, 0x01, 0x02, 0x00], fromClient: true))
        #expect(h.requests.isEmpty)
    }

    @Test func serverBannerIsNotHTTP() {
        let h = ConnectionHarness()
        #expect(!h.server("220 mail.example ESMTP\r\n"))
    }

    @Test func connectTunnelStopsParsing() {
        let h = ConnectionHarness()
        h.client("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        h.server("HTTP/1.1 200 Connection established\r\n\r\n")
        h.client("\u{16}\u{03}\u{01} binary GET /not-http HTTP/1.1\r\n\r\n")
        #expect(h.targets == ["example.com:443"])
        #expect(h.sink.transactions.map(\.status) == [200])
    }

    @Test func websocketUpgradeStopsParsing() {
        let h = ConnectionHarness()
        h.client("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        h.server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        h.client("\u{81}\u{05}hello")
        h.server("\u{81}\u{02}hi")
        #expect(h.targets == ["/ws"])
        #expect(h.sink.transactions.map(\.status) == [101])
    }

    @Test func headCutByCloseIsStillReported() {
        let h = ConnectionHarness()
        h.client("GET /unfinished?id=1' OR '1'='1 HTTP/1.1\r\nHost: h\r\nX-A: b")
        h.close()
        #expect(h.targets == ["/unfinished?id=1' OR '1'='1"])
        #expect(h.requests[0].anomalies.contains(.incomplete))
        #expect(h.sink.transactions.count == 1)
    }

    @Test func midstreamStartFindsNextRequest() {
        let h = ConnectionHarness(midstream: true)
        h.client("tail of a body\r\nmore body\r\nGET /found HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.targets == ["/found"])
        #expect(h.requests[0].anomalies.isEmpty)
    }

    /// Picked up mid-stream with the ports suggesting the wrong client (a backend on a high port
    /// behind a proxy's keep-alive pool): the content decides.
    @Test func midstreamRolesAreSettledByContent() {
        let h = ConnectionHarness(midstream: true)
        h.feed(Array("GET /pooled?id=7 HTTP/1.1\r\nHost: h\r\n\r\n".utf8), fromClient: false)
        h.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8), fromClient: true)
        #expect(h.targets == ["/pooled?id=7"])
        #expect(h.sink.transactions.first?.status == 200)
        #expect(h.sink.requests.first?.client.port == 80)
        #expect(h.sink.requests.first?.server.port == 5000)
    }

    @Test func gapInsideBodyKeepsFraming() {
        let h = ConnectionHarness()
        h.client("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        h.analyzer.gap(4, fromClient: true, at: Timestamp(microseconds: 99))
        h.client("hij")
        h.client("GET /q HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.targets == ["/p", "/q"])
        #expect(h.requests[0].anomalies.contains(.streamGap))
        #expect(!h.requests[0].anomalies.contains(.incomplete))
    }

    @Test func gapInHeadResynchronises() {
        let h = ConnectionHarness()
        h.client("GET /cut HTTP/1.1\r\nHo")
        h.analyzer.gap(100, fromClient: true, at: Timestamp(microseconds: 99))
        h.client("junk\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.targets == ["/ok"])
        #expect(h.requests[0].anomalies.contains(.streamGap))
    }

    @Test func responseGapReleasesWaitingRequests() {
        let h = ConnectionHarness()
        h.client("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
        h.server("HTTP/1.1 200 OK\r\nContent-Len")
        h.analyzer.gap(5000, fromClient: false, at: Timestamp(microseconds: 99))
        #expect(h.sink.transactions.count == 2)
        // The head of the first response was cut: neither status is known.
        #expect(h.sink.transactions.map(\.status) == [nil, nil])
        h.client("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        h.server("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(h.sink.transactions.last?.request.target == "/3")
        #expect(h.sink.transactions.last?.status == 204)
    }

    @Test func smugglingHeadersAreFlagged() {
        let cases: [(String, HTTPAnomalies)] = [
            ("Content-Length: 3\r\nTransfer-Encoding: chunked", .contentLengthWithTransferEncoding),
            ("Content-Length: 3, 3", .duplicateContentLength),
            ("Content-Length: 3\r\nContent-Length: 4", .conflictingContentLength),
            ("Content-Length: -3", .invalidContentLength),
            ("Content-Length: 0x3", .invalidContentLength),
            ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", .duplicateTransferEncoding),
            ("Transfer-Encoding: chunked, chunked", .obfuscatedTransferEncoding),
            ("Transfer-Encoding:  chunked", .obfuscatedTransferEncoding),
            ("Transfer-Encoding: chunked \r\nX: y", .obfuscatedTransferEncoding),
            ("Transfer-Encoding: identity", .invalidTransferEncoding),
        ]
        for (headers, anomaly) in cases {
            let h = ConnectionHarness()
            h.client("POST /s HTTP/1.1\r\nHost: h\r\n\(headers)\r\n\r\n0\r\n\r\n")
            h.close()
            #expect(h.requests.first?.anomalies.contains(anomaly) == true, "\(headers)")
        }
    }

    /// The process never crashes on traffic, whatever the bytes.
    @Test func randomBytesNeverCrash() {
        var random = SeededRandom(seed: TestSeed.value("HTTP parser random bytes"))
        let alphabet = Array("GET POST HTTP/1.1\r\n: chunked Content-Length Transfer-Encoding 0123456789abcdef;\t ".utf8)
        for round in 0..<300 {
            let h = ConnectionHarness(midstream: round % 3 == 0)
            for _ in 0..<20 {
                let length = Int(random.next() % 64)
                let bytes = (0..<length).map { _ -> UInt8 in
                    random.next() % 4 == 0 ? UInt8(truncatingIfNeeded: random.next()) : alphabet[Int(random.next() % UInt64(alphabet.count))]
                }
                h.feed(Array("GET / HTTP/1.1\r\n".utf8) + bytes, fromClient: random.next() % 2 == 0)
                if random.next() % 10 == 0 {
                    h.analyzer.gap(Int(random.next() % 100), fromClient: random.next() % 2 == 0, at: Timestamp(microseconds: 1))
                }
            }
            h.close()
        }
    }
}
