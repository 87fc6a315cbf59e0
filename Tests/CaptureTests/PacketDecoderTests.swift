import Capture
import CaptureSynthesis
import NetworkTypes
import Testing
import TestSupport

@Suite struct PacketDecoderTests {
    let v4Client = IPAddress("192.0.2.1")!
    let v4Server = IPAddress("192.0.2.2")!

    func tcp(_ payload: String = "GET / HTTP/1.1\r\n\r\n", flags: TCPFlags = [.ack, .psh]) -> [UInt8] {
        FrameBuilder.tcp(sourcePort: 1234, destinationPort: 8080, sequence: 77, acknowledgment: 88, flags: flags,
                         windowScale: 7, payload: Array(payload.utf8))
    }

    func decodeOne(_ frame: [UInt8], _ linkType: LinkType, decoder: PacketDecoder = PacketDecoder(),
                   wireLength: Int? = nil) -> (PacketDecoder.Outcome, [String]) {
        var seen: [String] = []
        let outcome = frame.withUnsafeBytes { raw in
            decoder.decode(frame: raw, linkType: linkType, timestamp: Timestamp(microseconds: 5), wireLength: wireLength ?? frame.count) {
                seen.append("\($0.source)>\($0.destination) seq=\($0.sequence) ack=\($0.acknowledgment) \(String(decoding: $0.payload, as: UTF8.self)) missing=\($0.missingPayloadBytes) ws=\($0.windowScale.map(String.init) ?? "-")")
            }
        }
        return (outcome, seen)
    }

    @Test(arguments: [LinkType.ethernet, .null, .loop, .linuxSLL, .linuxSLL2, .raw, .ipv4])
    func everyLinkTypeDecodesIPv4(_ linkType: LinkType) {
        let frame = FrameBuilder(linkType: linkType).frame(ipPacket: FrameBuilder.ipv4(source: v4Client, destination: v4Server, payload: tcp()))
        let (outcome, seen) = decodeOne(frame, linkType)
        #expect(outcome == .tcp)
        #expect(seen == ["192.0.2.1:1234>192.0.2.2:8080 seq=77 ack=88 GET / HTTP/1.1\r\n\r\n missing=0 ws=-"])
    }

    @Test(arguments: [LinkType.ethernet, .null, .loop, .linuxSLL, .linuxSLL2, .raw, .ipv6])
    func everyLinkTypeDecodesIPv6(_ linkType: LinkType) {
        let a = IPAddress("2001:db8::a")!, b = IPAddress("2001:db8::b")!
        let frame = FrameBuilder(linkType: linkType).frame(ipPacket: FrameBuilder.ipv6(source: a, destination: b, payload: tcp()))
        let (_, seen) = decodeOne(frame, linkType)
        #expect(seen.first?.hasPrefix("[2001:db8::a]:1234>[2001:db8::b]:8080") == true)
    }

    @Test func nullLoopbackInEitherByteOrder() {
        var frame = FrameBuilder(linkType: .null).frame(ipPacket: FrameBuilder.ipv4(source: v4Client, destination: v4Server, payload: tcp()))
        frame[0] = 0; frame[3] = 2  // written by a big-endian host
        #expect(decodeOne(frame, .null).0 == .tcp)
    }

    @Test func stackedVLANTagsAreSkipped() {
        let builder = FrameBuilder(linkType: .ethernet, vlanTags: [(0x88A8, 10), (0x8100, 20), (0x8100, 30)])
        let frame = builder.frame(ipPacket: FrameBuilder.ipv4(source: v4Client, destination: v4Server, payload: tcp()))
        #expect(decodeOne(frame, .ethernet).1.count == 1)
    }

    @Test func synOptionsGiveWindowScale() {
        let frame = FrameBuilder(linkType: .raw).frame(ipPacket: FrameBuilder.ipv4(source: v4Client, destination: v4Server, payload: tcp("", flags: .syn)))
        #expect(decodeOne(frame, .raw).1.first?.hasSuffix("ws=7") == true)
    }

    @Test func ethernetPaddingIsNotPayload() {
        let frame = FrameBuilder(linkType: .ethernet).frame(ipPacket: FrameBuilder.ipv4(source: v4Client, destination: v4Server, payload: tcp("")))
        #expect(frame.count == 60)
        #expect(decodeOne(frame, .ethernet).1.first?.contains("ack=88  missing=0") == true)
    }

    @Test func snaplenCutPayloadIsReportedMissing() {
        let frame = FrameBuilder(linkType: .ethernet).frame(ipPacket: FrameBuilder.ipv4(source: v4Client, destination: v4Server, payload: tcp()))
        let (_, seen) = decodeOne(Array(frame.prefix(frame.count - 5)), .ethernet, wireLength: frame.count)
        #expect(seen.first?.hasSuffix("missing=5 ws=-") == true)
    }

    @Test func ipv6ExtensionHeadersAreSkipped() {
        let a = IPAddress("2001:db8::a")!, b = IPAddress("2001:db8::b")!
        let packet = FrameBuilder.ipv6(source: a, destination: b, extensions: [(0, [1, 2]), (43, [0, 0, 0, 0, 0, 0]), (60, [])], payload: tcp())
        #expect(decodeOne(packet, .raw).1.count == 1)
    }

    @Test func ipv6FragmentsAreReassembled() {
        let decoder = PacketDecoder()
        let a = IPAddress("2001:db8::a")!, b = IPAddress("2001:db8::b")!
        let segment = tcp("GET /fragmented-v6 HTTP/1.1\r\n\r\n")
        let first = FrameBuilder.ipv6(source: a, destination: b, extensions: [(44, [0, 0x00, 0x01, 0, 0, 0, 9])], payload: Array(segment[0..<24]))
        let second = FrameBuilder.ipv6(source: a, destination: b, extensions: [(44, [0, 0x00, 0x18, 0, 0, 0, 9])], payload: Array(segment[24...]))
        #expect(decodeOne(second, .raw, decoder: decoder).0 == .fragmentHeld)
        let (_, seen) = decodeOne(first, .raw, decoder: decoder)
        #expect(seen.first?.contains("GET /fragmented-v6") == true)
    }

    @Test func fragmentDuplicatesAreIgnoredAndBoundsHold() {
        var limits = IPFragmentReassembler.Limits()
        limits.maxDatagrams = 2
        let decoder = PacketDecoder(fragmentLimits: limits)
        for id in 1...5 {
            let packet = FrameBuilder.ipv4(source: v4Client, destination: v4Server, identification: UInt16(id), moreFragments: true, payload: [UInt8](repeating: 1, count: 16))
            _ = decodeOne(packet, .raw, decoder: decoder)
            if id == 1 { _ = decodeOne(packet, .raw, decoder: decoder) }
        }
        #expect(decoder.fragments.statistics.duplicates == 1)
        #expect(decoder.fragments.pendingDatagrams == 2)
        // The oldest datagrams make room for new ones: a flood costs the flooder's fragments.
        #expect(decoder.fragments.statistics.evicted == 3)
    }

    /// Every prefix of every kind of frame: malformed, never a crash.
    @Test func truncatedFramesNeverCrash() {
        let decoder = PacketDecoder()
        for linkType in [LinkType.ethernet, .null, .loop, .linuxSLL, .linuxSLL2, .raw] {
            let builders = [FrameBuilder.ipv4(source: v4Client, destination: v4Server, payload: tcp()),
                            FrameBuilder.ipv6(source: IPAddress("::1")!, destination: IPAddress("::2")!, extensions: [(0, [1])], payload: tcp())]
            for packet in builders {
                let frame = FrameBuilder(linkType: linkType).frame(ipPacket: packet)
                for length in 0..<frame.count {
                    _ = decodeOne(Array(frame.prefix(length)), linkType, decoder: decoder, wireLength: frame.count)
                }
            }
        }
        #expect(decoder.statistics.malformed > 0)
        var random = SeededRandom(seed: TestSeed.value("packet decoder random frames"))
        for _ in 0..<5000 {
            let frame = (0..<Int(random.next() % 120)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = decodeOne(frame, [.ethernet, .raw, .linuxSLL2][Int(random.next() % 3)], decoder: decoder)
        }
    }

    @Test func ipAddressFormatting() {
        #expect(IPAddress("2001:db8:0:0:1:0:0:1")!.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("::")!.description == "::")
        #expect(IPAddress("fe80::1:2")!.description == "fe80::1:2")
        #expect(IPAddress("1.2.3.4")!.description == "1.2.3.4")
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("1::2::3") == nil)
    }
}
