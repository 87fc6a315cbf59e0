import CaptureSynthesis
import Foundation
import NetworkTypes
import Testing
import TestSupport

/// `diffai replay --keylog`: a capture of a real TLS session on port 443 (the flights of
/// tls-exchange.py, as TCP segments) is decrypted and its HTTP inspected as if it were
/// plaintext; without the key log the same capture yields nothing and says why.
@Suite struct TLSReplayTests {
    func capture(_ exchange: TLSSessionTests.Exchange, to path: String) throws {
        let writer = CaptureFileWriter(linkType: .ethernet)
        let conversation = TCPConversation(client: Endpoint(address: IPAddress("10.0.0.7")!, port: 51000),
                                           server: Endpoint(address: IPAddress("10.0.0.80")!, port: 443),
                                           writer: writer, builder: FrameBuilder(linkType: .ethernet),
                                           start: Timestamp(seconds: 1_764_000_000, microseconds: 0))
        conversation.handshake()
        for (direction, bytes) in exchange.flights {
            conversation.send(bytes, from: direction == .clientToServer ? .client : .server, segmentSize: 1000)
        }
        conversation.close()
        try writer.write(to: path)
    }

    @Test func anAttackInsideTLSIsAlertedWithItsServerName() throws {
        let exchange = try TLSSessionTests.exchange("1.3", "TLS_AES_128_GCM_SHA256")
        let folder = TestPaths.temporaryDirectory("tls-replay")
        let pcap = folder.appendingPathComponent("tls.pcap").path, keys = folder.appendingPathComponent("keys.log").path
        let eve = folder.appendingPathComponent("eve.json").path
        try capture(exchange, to: pcap)
        try Data(exchange.keylog.utf8).write(to: URL(fileURLWithPath: keys))
        chmod(keys, 0o600)
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let replay = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--rules", rules, "--keylog", keys, "--eve", eve, pcap])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("tls: 1 sessions, 1 decrypted"), "\(replay.stderr)")
        // The generator sends a third, unasked-for response (the 40 KB one over several records).
        #expect(replay.stderr.contains("2 requests, 3 responses"), "\(replay.stderr)")
        #expect(!replay.stderr.contains("readable"), "a 0600 key log is not warned about")
        let alerts = try String(contentsOfFile: eve, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let union = try #require(alerts.first { (($0["http"] as? [String: Any])?["url"] as? String)?.contains("UNION") == true })
        let tls = try #require(union["tls"] as? [String: Any])
        #expect(tls["sni"] as? String == "shop.example")
        #expect(tls["version"] as? String == "TLS 1.3")
        #expect(union["dest_port"] as? Int == 443)

        // Without the key log: nothing read, nothing alerted, and the summary says TLS was skipped.
        let blind = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--rules", rules, pcap])
        #expect(blind.stdout.isEmpty)
        #expect(blind.stderr.contains("0 requests"), "\(blind.stderr)")
        // A key log others can read is warned about.
        chmod(keys, 0o644)
        let warned = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--rules", rules, "--keylog", keys, pcap])
        #expect(warned.stderr.contains("others can read it (mode 644)"), "\(warned.stderr)")
        #expect(!warned.stderr.contains(String(exchange.keylog.split(separator: " ").last ?? "x").prefix(16)), "no secret is printed")
    }
}
