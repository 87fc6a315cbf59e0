import CaptureSynthesis
import Foundation
import HTTP
import Testing
import TestSupport

/// Each committed capture in `captures/` is what the generator writes, and replay extracts
/// exactly the expected transactions from it.
@Suite struct CaptureFixtureTests {
    struct Expected: CustomStringConvertible {
        var method: String
        var target: String
        var status: Int?
        var anomalies: [String] = []
        var body: String? = nil
        var description: String { "\(method) \(target)" }
    }

    static let expectations: [String: [Expected]] = [
        "basic-get.pcap": [Expected(method: "GET", target: "/index.php?q=madrid", status: 200)],
        "vlan-qinq.pcap": [Expected(method: "GET", target: "/vlan", status: 200)],
        "loopback-null.pcap": [Expected(method: "GET", target: "/null", status: 200)],
        "loop-ipv6.pcap": [Expected(method: "GET", target: "/loop6", status: 200)],
        "linux-sll.pcap": [Expected(method: "GET", target: "/sll", status: 200)],
        "linux-sll2.pcapng": [Expected(method: "GET", target: "/sll2", status: 200)],
        "raw-ipv6-extensions.pcap": [Expected(method: "GET", target: "/ipv6ext", status: 200)],
        "ipv4-fragments.pcap": [
            Expected(method: "GET", target: "/fragmented?x=1", status: 200, anomalies: ["ip_fragmented"]),
            Expected(method: "GET", target: "/overlap-good", status: 200),
        ],
        "tcp-out-of-order.pcap": [Expected(method: "GET", target: "/reordered?name=value&other=thing", status: 200)],
        "tcp-retransmission.pcap": [Expected(method: "GET", target: "/retransmitted", status: 200)],
        "tcp-overlap.pcap": [Expected(method: "GET", target: String(CaptureFixtures.overlapExpected.dropFirst(4).prefix(41)),
                                      status: 200, anomalies: ["tcp_overlap_conflict"])],
        "tcp-midstream.pcap": [Expected(method: "GET", target: "/after-midstream", status: 200)],
        "tcp-lost-segments.pcap": [
            Expected(method: "GET", target: "/first", status: 200),
            Expected(method: "GET", target: "/third", status: 200, anomalies: ["stream_gap"]),
            Expected(method: "POST", target: "/upload", status: 200, anomalies: ["stream_gap"]),
            Expected(method: "GET", target: "/fifth", status: 200),
        ],
        "tcp-close-reset.pcap": [
            Expected(method: "GET", target: "/closed-by-fin", status: 200),
            Expected(method: "GET", target: "/closed-by-rst", status: nil),
            Expected(method: "GET", target: "/after-forged-rst", status: 200),
        ],
        "tcp-port-reuse.pcap": [
            Expected(method: "GET", target: "/first-connection", status: 200),
            Expected(method: "GET", target: "/second-connection", status: 200),
        ],
        "http-pipelining.pcap": [
            Expected(method: "GET", target: "/one", status: 200),
            Expected(method: "GET", target: "/two?id=1%27%20OR%20%271%27=%271", status: 200),
            Expected(method: "GET", target: "/three", status: 200),
        ],
        "http-chunked.pcap": [
            Expected(method: "POST", target: "/upload", status: 200, anomalies: ["chunk_extension"], body: "hello world"),
            Expected(method: "GET", target: "/next", status: 304),
        ],
        "http-expect-continue.pcap": [
            Expected(method: "POST", target: "/form", status: 201, body: "name=diffai"),
            Expected(method: "POST", target: "/big", status: 417, body: ""),
            Expected(method: "GET", target: "/after-417", status: 200),
        ],
        "http-smuggling.pcap": [
            Expected(method: "POST", target: "/cl-te", status: 200, anomalies: ["content_length_with_transfer_encoding"], body: "abc"),
            Expected(method: "POST", target: "/dup-cl", status: 200, anomalies: ["duplicate_content_length"], body: "xyz"),
            Expected(method: "POST", target: "/tab-te", status: 200, anomalies: ["obfuscated_transfer_encoding"], body: "ok"),
            Expected(method: "POST", target: "/xchunked", status: 200,
                     anomalies: ["content_length_with_transfer_encoding", "invalid_transfer_encoding", "obfuscated_transfer_encoding"],
                     body: "abcde"),
            Expected(method: "POST", target: "/conflict", status: 200, anomalies: ["conflicting_content_length"], body: "hi"),
        ],
        "http-header-tricks.pcap": [
            Expected(method: "GET", target: "/folded", status: 200, anomalies: ["obsolete_line_folding"]),
            Expected(method: "GET", target: "/colon", status: 200, anomalies: ["whitespace_before_colon"]),
            Expected(method: "GET", target: "/bare-lf", status: 200, anomalies: ["bare_lf"]),
            Expected(method: "GET", target: "/two-hosts", status: 200, anomalies: ["duplicate_host"]),
        ],
        "http10-close.pcap": [Expected(method: "GET", target: "/old", status: 200)],
        "http-bodiless-responses.pcap": [
            Expected(method: "HEAD", target: "/head", status: 200),
            Expected(method: "GET", target: "/no-content", status: 204),
            Expected(method: "GET", target: "/not-modified", status: 304),
            Expected(method: "GET", target: "/last", status: 200),
        ],
        "mixed-ports.pcap": [
            Expected(method: "GET", target: "/port-80", status: 200),
            Expected(method: "GET", target: "/port-3000", status: 200),
        ],
        "snaplen-cut.pcap": [
            Expected(method: "GET", target: "/small", status: 200),
            Expected(method: "POST", target: "/upload", status: 200, anomalies: ["stream_gap"]),
            Expected(method: "GET", target: "/after-cut", status: 200),
        ],
        "http-attacks.pcap": [
            Expected(method: "GET", target: "/products?page=2&sort=price", status: 200),
            Expected(method: "GET", target: "/items?id=1%20UNION%20SELECT%20password%20FROM%20users--", status: 200),
            Expected(method: "POST", target: "/comment", status: 200, body: "text=hello%3Cscript%3Ealert(1)%3C/script%3E"),
            Expected(method: "GET", target: "/download?file=..%2F..%2F..%2Fetc%2Fpasswd", status: 200),
            Expected(method: "POST", target: "/upload", status: 200),
            Expected(method: "GET", target: "/search?q=caf%C3%A9+menu&lang=fr", status: 200),
            Expected(method: "GET", target: "/api", status: 200),
            Expected(method: "GET", target: "/cgi-bin/status", status: 200),
            Expected(method: "POST", target: "/smuggle", status: 200, anomalies: ["content_length_with_transfer_encoding"]),
            Expected(method: "POST", target: "/api/login", status: 200),
            Expected(method: "GET", target: "/about-us", status: 200),
            Expected(method: "GET", target: "/index.php?id=1", status: 200),
        ],
        "truncated-file.pcap": [Expected(method: "GET", target: "/before-truncation", status: 200)],
        "unknown-linktype.pcap": [],
        "not-a-capture.pcap": [],
    ]

    @Test func everyFixtureHasExpectations() {
        #expect(Set(CaptureFixtures.all.map(\.name)) == Set(Self.expectations.keys))
    }

    @Test(arguments: CaptureFixtures.all.map(\.name))
    func committedCaptureMatchesGenerator(_ name: String) throws {
        let fixture = try #require(CaptureFixtures.all.first { $0.name == name })
        let committed = try Data(contentsOf: URL(fileURLWithPath: TestPaths.capture(name)))
        #expect([UInt8](committed) == fixture.build(), "regenerate with: swift run diffai synth fixtures --out captures")
    }

    @Test(arguments: CaptureFixtures.all.map(\.name))
    func replayExtractsExpectedTransactions(_ name: String) throws {
        let expected = try #require(Self.expectations[name])
        let result = replay([TestPaths.capture(name)])
        let got = result.transactions
        #expect(got.map(\.request.target) == expected.map(\.target), "\(name): \(got.map(\.summaryLine))")
        for (transaction, expectation) in zip(got, expected) {
            #expect(transaction.request.method == expectation.method)
            #expect(transaction.status == expectation.status, "\(name) \(expectation)")
            #expect(transaction.request.anomalies.names == expectation.anomalies, "\(name) \(expectation)")
            if let body = expectation.body {
                #expect(String(decoding: transaction.request.body, as: UTF8.self) == body, "\(name) \(expectation)")
            }
        }
        // Requests reach detection in the same order, before or with their responses.
        #expect(result.requestsInDetectionOrder.map(\.request.target) == got.map(\.request.target))
    }

    @Test func overlapFollowsLinuxPolicy() {
        let result = replay([TestPaths.capture("tcp-overlap.pcap")])
        let target = result.transactions.first?.request.target
        #expect(target == "/p?v=0123456XXXXbcdefghijklmZZpqrstuvwxyz")
        #expect(result.summary.reassembly.overlapConflicts == 2)
    }

    @Test func fragmentOverlapDiscardsDatagram() {
        let result = replay([TestPaths.capture("ipv4-fragments.pcap")])
        #expect(result.summary.fragments.reassembled == 1)
        #expect(result.summary.fragments.overlaps == 1)
        #expect(!result.transactions.contains { $0.request.target.contains("evil") })
    }

    @Test func nonHTTPStreamsYieldNothing() {
        let result = replay([TestPaths.capture("mixed-ports.pcap")])
        #expect(result.summary.notHTTPConnections == 2)
        #expect(result.summary.reassembly.flowsIgnored == 2)
    }

    @Test func damagedFilesAreReportedAndReplayCarriesOn() {
        let files = ["truncated-file.pcap", "not-a-capture.pcap", "unknown-linktype.pcap", "basic-get.pcap"].map(TestPaths.capture)
        let result = replay(files)
        #expect(result.summary.filesFailed == 3)
        #expect(result.transactions.map(\.request.target) == ["/before-truncation", "/index.php?q=madrid"])
        let truncated = result.diagnostics.first { $0.contains("truncated-file.pcap") }
        #expect(truncated?.contains("packet 10") == true)
        #expect(truncated?.contains("byte offset") == true)
        #expect(result.diagnostics.contains { $0.contains("not-a-capture.pcap") && $0.contains("cannot open") })
        #expect(result.diagnostics.contains { $0.contains("unknown-linktype.pcap") && $0.contains("unsupported link type 147") })
    }

    @Test func snaplenCutIsReportedWithPacketNumber() {
        let result = replay([TestPaths.capture("snaplen-cut.pcap")])
        #expect(result.diagnostics.contains { $0.contains("snaplen-cut.pcap: packet 10: cut by snaplen") })
        #expect(result.summary.decoder.cutBySnaplen == 1)
    }

    @Test func filterSelectsTraffic() {
        var options = PipelineOptionsFactory.make()
        options.filter = "tcp port 3000"
        let result = replay([TestPaths.capture("mixed-ports.pcap")], options: options)
        #expect(result.transactions.map(\.request.target) == ["/port-3000"])
    }

    @Test func connectionsContinueAcrossFiles() throws {
        // Split one capture in two files at a packet boundary: the request spans both.
        let whole = CaptureFixtures.all.first { $0.name == "http-chunked.pcap" }!.build()
        let (first, second) = try PcapSplitter.split(whole, afterPackets: 6)
        let directory = TestPaths.temporaryDirectory("split")
        let a = directory.appendingPathComponent("a.pcap"), b = directory.appendingPathComponent("b.pcap")
        try Data(first).write(to: a)
        try Data(second).write(to: b)
        let result = replay([a.path, b.path])
        #expect(result.transactions.map(\.request.target) == ["/upload", "/next"])
        #expect(String(decoding: result.transactions.first?.request.body ?? [], as: UTF8.self) == "hello world")
    }
}

import Pipeline

enum PipelineOptionsFactory {
    static func make() -> PipelineOptions { PipelineOptions() }
}

/// Splits a classic little-endian pcap into two valid files.
enum PcapSplitter {
    struct Malformed: Error {}

    static func split(_ bytes: [UInt8], afterPackets count: Int) throws -> ([UInt8], [UInt8]) {
        guard bytes.count >= 24 else { throw Malformed() }
        let header = Array(bytes[0..<24])
        var offset = 24
        for _ in 0..<count {
            guard offset + 16 <= bytes.count else { throw Malformed() }
            let captured = Int(bytes[offset + 8]) | Int(bytes[offset + 9]) << 8 | Int(bytes[offset + 10]) << 16 | Int(bytes[offset + 11]) << 24
            offset += 16 + captured
        }
        return (Array(bytes[0..<offset]), header + bytes[offset...])
    }
}
