import CaptureSynthesis
import Foundation
import HTTP
import NetworkTypes
import Pipeline
import Testing
import TestSupport

/// Replay runs reassembly and HTTP on two threads joined by batches of stream events; these
/// cases cross many batch boundaries, which the small fixtures never do.
@Suite struct ReplayHandoffTests {
    private func conversation(_ writer: CaptureFileWriter, port: UInt16) -> TCPConversation {
        TCPConversation(
            client: Endpoint(address: IPAddress("10.1.0.1")!, port: 50000),
            server: Endpoint(address: IPAddress("10.1.0.2")!, port: port),
            writer: writer, builder: FrameBuilder(linkType: .ethernet), start: Timestamp(seconds: 1_700_000_000, microseconds: 0))
    }

    private func write(_ writer: CaptureFileWriter, _ name: String) throws -> String {
        let path = TestPaths.temporaryDirectory("handoff").appendingPathComponent(name).path
        try writer.write(to: path)
        return path
    }

    @Test func streamsLargerThanABatchArriveWholeAndInOrder() throws {
        let writer = CaptureFileWriter(linkType: .ethernet)
        let c = conversation(writer, port: 8080)
        c.handshake()
        // 600 KB of varied bytes: a split or a reordering at a batch boundary would show.
        let body = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let head = Array("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        // Segments of 60,000 bytes: most batch boundaries fall inside one of them.
        c.send(head + body, from: .client, segmentSize: 60_000)
        let download = [UInt8](repeating: UInt8(ascii: "d"), count: 3_000_000)
        c.send(Array("HTTP/1.1 200 OK\r\nContent-Length: \(download.count)\r\n\r\n".utf8) + download, from: .server, segmentSize: 60_000)
        c.send("GET /after?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", from: .client)
        c.send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", from: .server)
        c.close()

        let result = replay([try write(writer, "large.pcap")])
        #expect(result.transactions.count == 2)
        let upload = try #require(result.transactions.first)
        #expect(upload.request.target == "/upload")
        #expect(upload.request.bodyLength == body.count)
        #expect(upload.request.body == body)
        #expect(upload.response?.status == 200)
        #expect(upload.response?.bodyLength == download.count)
        #expect(result.transactions.last?.request.target == "/after?x=1")
        #expect(result.transactions.last?.response?.status == 404)
        #expect(result.transactions.allSatisfy { $0.request.anomalies.isEmpty })
    }

    @Test func reassemblyStopsOnAStreamTheHTTPStageDeclined() throws {
        let writer = CaptureFileWriter(linkType: .ethernet)
        let c = conversation(writer, port: 443)
        c.handshake()
        // A TLS-looking stream of 8 MB: the HTTP stage declines it at its first bytes, and the
        // reading side must hear of it well before the end (it is at most a few batches ahead).
        let record: [UInt8] = [0x16, 0x03, 0x01, 0x40, 0x00] + [UInt8](repeating: 0x42, count: 16_379)
        for _ in 0..<512 { c.send(record, from: .client, segmentSize: 16_384, acknowledge: false) }
        c.close()

        let engine = ReplayEngine(options: PipelineOptions(), sink: CollectingSink()) { _ in }
        let summary = engine.run(files: [try write(writer, "tls.pcap")])
        #expect(summary.notHTTPConnections == 1)
        #expect(summary.reassembly.flowsIgnored == 1)
        // The reassembler's own count: it stopped handing the stream over.
        #expect(engine.reassembler.statistics.flowsIgnored == 1)
        #expect(summary.requests == 0)
    }
}
