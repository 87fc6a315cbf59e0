import CaptureSynthesis
import Foundation
import Pipeline
import Testing
import TestSupport

/// Hostile captures: every fixture, mutated at random (bytes flipped, records cut and
/// duplicated), replayed with detection on. The process must never crash, whatever the bytes.
@Suite struct PipelineFuzzTests {
    @Test func mutatedCapturesNeverCrashThePipeline() throws {
        let directory = TestPaths.temporaryDirectory("fuzz")
        var random = SeededRandom(seed: TestSeed.value("pipeline random captures"))
        var files: [String] = []
        let sources = CaptureFixtures.all.filter { !["not-a-capture.pcap", "unknown-linktype.pcap", "truncated-file.pcap"].contains($0.name) }
        for round in 0..<240 {
            var bytes = sources[round % sources.count].build()
            let headerLength = bytes.starts(with: [0xD4, 0xC3, 0xB2, 0xA1]) ? 24 : 60
            let mutations = 1 + Int(random.next() % 12)
            for _ in 0..<mutations {
                guard bytes.count > headerLength + 16 else { break }
                let position = headerLength + Int(random.next() % UInt64(bytes.count - headerLength))
                switch random.next() % 5 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes[position] ^= 1 << UInt8(random.next() % 8)
                case 2:  // duplicate a run: retransmission-like garbage
                    let length = min(64, bytes.count - position)
                    bytes.insert(contentsOf: Array(bytes[position..<position + length]), at: position)
                case 3: bytes.removeSubrange(position..<min(bytes.count, position + Int(random.next() % 40)))
                default:  // make a header field extreme
                    for i in 0..<min(4, bytes.count - position) { bytes[position + i] = 0xFF }
                }
            }
            let path = directory.appendingPathComponent("fuzz-\(round).pcap").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        // In-process, with every stage, so a crash anywhere fails this test run.
        let result = replay(files)
        #expect(result.summary.files == files.count)
        // And through the executable with detection and all three outputs.
        let log = directory.appendingPathComponent("alert.log").path, eve = directory.appendingPathComponent("eve.json").path
        let rules = TestPaths.packageRoot.appendingPathComponent("rules.json").path
        let run = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--rules", rules, "--alert-log", log, "--eve", eve] + files)
        #expect(run.status == 0 || run.status == 2, "\(run.stderr.suffix(2000))")
        for line in (try? String(contentsOfFile: eve, encoding: .utf8))?.split(separator: "\n") ?? [] {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil)
        }
    }

    /// Random TCP payloads straight into the reassembler and parsers: crafted segments with
    /// arbitrary sequence numbers, flags and bytes.
    @Test func randomSegmentsNeverCrash() throws {
        let writer = CaptureFileWriter(linkType: .raw)
        var random = SeededRandom(seed: TestSeed.value("pipeline random flags"))
        let builder = FrameBuilder(linkType: .raw)
        let alphabet = Array("GET POST HTTP/1.1\r\nHost: Content-Length: 12 Transfer-Encoding: chunked\r\n0\r\n\r\n<script>".utf8)
        for i in 0..<20_000 {
            let clientPort = UInt16(40000 + random.next() % 8)
            let toServer = random.next() % 3 != 0
            let payload = (0..<Int(random.next() % 200)).map { _ in
                random.next() % 5 == 0 ? UInt8(truncatingIfNeeded: random.next()) : alphabet[Int(random.next() % UInt64(alphabet.count))]
            }
            let flags = TCPFlagsRandom.pick(&random)
            let sequence = UInt32(truncatingIfNeeded: random.next() % 4 == 0 ? random.next() : UInt64(1000 + (random.next() % 4000)))
            let tcp = FrameBuilder.tcp(sourcePort: toServer ? clientPort : 80, destinationPort: toServer ? 80 : clientPort,
                                       sequence: sequence, acknowledgment: UInt32(truncatingIfNeeded: random.next() % 6000),
                                       flags: flags, payload: payload)
            let a = IPAddressRandom.client, b = IPAddressRandom.server
            let packet = FrameBuilder.ipv4(source: toServer ? a : b, destination: toServer ? b : a,
                                           identification: UInt16(truncatingIfNeeded: i), payload: tcp)
            writer.add(frame: builder.frame(ipPacket: packet), at: .init(seconds: 1_700_000_000 + Int64(i / 100), microseconds: Int64(i % 100)))
        }
        let path = TestPaths.temporaryDirectory("segments").appendingPathComponent("random.pcap").path
        try writer.write(to: path)
        let result = replay([path])
        #expect(result.summary.decoder.tcpSegments == 20_000)
    }
}

import NetworkTypes

enum TCPFlagsRandom {
    static func pick(_ random: inout SeededRandom) -> TCPFlags {
        let choices: [TCPFlags] = [[.ack], [.ack, .psh], [.syn], [.syn, .ack], [.fin, .ack], [.rst], [.ack, .psh, .fin]]
        return choices[Int(random.next() % UInt64(choices.count))]
    }
}

enum IPAddressRandom {
    static let client = IPAddress("192.0.2.10")!
    static let server = IPAddress("192.0.2.20")!
}
