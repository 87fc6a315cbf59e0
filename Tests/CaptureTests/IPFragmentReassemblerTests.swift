@testable import Capture
import CaptureSynthesis
import NetworkTypes
import Testing
import TestSupport

/// Fragment sets a hostile sender can craft: none may crash the decoder, and whatever is
/// reassembled must be exactly what the fragments carried.
@Suite struct IPFragmentReassemblerTests {
    let client = IPAddress("192.0.2.1")!
    let server = IPAddress("192.0.2.2")!
    let client6 = IPAddress("2001:db8::a")!
    let server6 = IPAddress("2001:db8::b")!

    func v4(_ id: UInt16, offset: Int, more: Bool, _ bytes: ArraySlice<UInt8>) -> [UInt8] {
        FrameBuilder.ipv4(source: client, destination: server, identification: id, moreFragments: more,
                          fragmentOffset: offset, dontFragment: false, payload: Array(bytes))
    }

    func v6(_ id: UInt32, offset: Int, more: Bool, _ bytes: ArraySlice<UInt8>) -> [UInt8] {
        let field = UInt16(offset & 0xFFF8) | (more ? 1 : 0)
        let body: [UInt8] = [0, UInt8(field >> 8), UInt8(field & 0xFF), UInt8(id >> 24), UInt8((id >> 16) & 0xFF), UInt8((id >> 8) & 0xFF), UInt8(id & 0xFF)]
        return FrameBuilder.ipv6(source: client6, destination: server6, extensions: [(44, body)], payload: Array(bytes))
    }

    /// Feeds raw IP packets; returns the TCP payloads delivered.
    func feed(_ packets: [[UInt8]], decoder: PacketDecoder) -> [[UInt8]] {
        var delivered: [[UInt8]] = []
        for packet in packets {
            packet.withUnsafeBytes { raw in
                _ = decoder.decode(frame: raw, linkType: .raw, timestamp: Timestamp(microseconds: 1), wireLength: raw.count) {
                    delivered.append(Array($0.payload))
                }
            }
        }
        return delivered
    }

    func segment(_ text: String) -> [UInt8] {
        FrameBuilder.tcp(sourcePort: 40000, destinationPort: 8080, sequence: 1, acknowledgment: 1, flags: [.ack, .psh], payload: Array(text.utf8))
    }

    /// The crash the hostile review found: a fragment held past the end the last fragment
    /// announces made the byte count look complete while a hole remained.
    @Test func fragmentPastTheAnnouncedEndDiscardsTheDatagram() {
        let data = [UInt8](repeating: 0x41, count: 64)
        for order in [[0, 1], [1, 0]] {
            let decoder = PacketDecoder()
            let pieces = [v4(7, offset: 24, more: true, data[24..<32]), v4(7, offset: 8, more: false, data[8..<16])]
            let delivered = feed(order.map { pieces[$0] }, decoder: decoder)
            #expect(delivered.isEmpty)
            #expect(decoder.fragments.statistics.overlaps == 1)
            #expect(decoder.fragments.pendingDatagrams == 0)
            #expect(decoder.fragments.bufferedBytes == 0)
        }
        let decoder = PacketDecoder()
        let pieces6 = [v6(9, offset: 24, more: true, data[24..<32]), v6(9, offset: 8, more: false, data[8..<16])]
        #expect(feed(pieces6, decoder: decoder).isEmpty)
        #expect(decoder.fragments.statistics.overlaps == 1)
    }

    @Test func misalignedMiddleFragments() {
        let whole = segment("GET /aligned HTTP/1.1\r\n\r\n")
        // IPv4: Linux trims a middle fragment to a multiple of 8; the trimmed byte comes again.
        let decoder = PacketDecoder()
        let delivered = feed([v4(3, offset: 0, more: true, whole[0..<17]), v4(3, offset: 16, more: false, whole[16...])], decoder: decoder)
        #expect(delivered.count == 1)
        #expect(delivered.first.map { String(decoding: $0, as: UTF8.self) } == "GET /aligned HTTP/1.1\r\n\r\n")
        // IPv6: such a fragment is invalid and dropped.
        let decoder6 = PacketDecoder()
        #expect(feed([v6(3, offset: 0, more: true, whole[0..<17])], decoder: decoder6).isEmpty)
        #expect(decoder6.fragments.statistics.malformed == 1)
    }

    /// 8,191 eight-byte fragments (the most one datagram can have), last first and the rest in
    /// reverse: reassembled exactly (the neighbour search keeps this linear in practice).
    @Test func maximalFragmentCountReassembles() {
        let tcpHeader = segment("")
        var payload = tcpHeader + Array("GET /x HTTP/1.1\r\n\r\n".utf8)
        while payload.count < 8191 * 8 { payload.append(UInt8(ascii: "a") + UInt8(payload.count % 26)) }
        payload = Array(payload.prefix(8191 * 8))
        var packets: [[UInt8]] = []
        for index in stride(from: 8190, through: 0, by: -1) {
            packets.append(v4(11, offset: index * 8, more: index != 8190, payload[(index * 8)..<(index * 8 + 8)]))
        }
        let decoder = PacketDecoder()
        let delivered = feed(packets, decoder: decoder)
        #expect(delivered.count == 1)
        #expect(delivered.first == Array(payload[tcpHeader.count...]))
    }

    /// Random fragment sets cut from one datagram (random offsets, lengths, flags, duplicates,
    /// overlaps, order): never a crash, and anything reassembled equals the datagram's bytes.
    @Test func randomFragmentSetsNeverCrashAndNeverInvent() {
        let seed = TestSeed.value("fragment sets")
        var generator = SeededGenerator(seed: seed)
        var reassembled = 0
        for round in 0..<5000 {
            let length = Int.random(in: 1...600, using: &generator)
            let original = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let reassembler = IPFragmentReassembler()
            let isIPv6 = round % 2 == 1
            for _ in 0..<Int.random(in: 1...16, using: &generator) {
                let start = Int.random(in: 0...(length / 8), using: &generator) * 8
                let end = Int.random(in: start...min(length, start + 96), using: &generator)
                let more = end < length ? Int.random(in: 0..<8, using: &generator) != 0 : Bool.random(using: &generator)
                let piece = Array(original[start..<end])
                let copies = Int.random(in: 0..<4, using: &generator) == 0 ? 2 : 1
                for _ in 0..<copies {
                    let whole = piece.withUnsafeBytes {
                        reassembler.add(source: client, destination: server, identification: 1, proto: 6, isIPv6: isIPv6,
                                        offset: start, moreFragments: more, payload: $0, timestamp: .zero)
                    }
                    if let whole {
                        reassembled += 1
                        #expect(whole == Array(original.prefix(whole.count)), "seed \(seed) round \(round)")
                    }
                }
            }
            #expect(reassembler.bufferedBytes >= 0)
        }
        #expect(reassembled > 100, "the generator should complete some datagrams (seed \(seed))")
    }

    /// Incomplete datagrams flooding the bound make room for new ones: a fragmented request
    /// sent after the flood is still reassembled.
    @Test func floodOfIncompleteDatagramsDoesNotBlindTheNextOne() {
        var limits = IPFragmentReassembler.Limits()
        limits.maxBufferedBytes = 256 << 10
        let decoder = PacketDecoder(fragmentLimits: limits)
        let filler = [UInt8](repeating: 0x42, count: 1024)
        for id in 0..<2000 {
            _ = feed([v4(UInt16(id), offset: 0, more: true, filler[...])], decoder: decoder)
        }
        #expect(decoder.fragments.bufferedBytes <= limits.maxBufferedBytes)
        #expect(decoder.fragments.statistics.evicted > 0)
        let attack = segment("GET /?q=1%20UNION%20SELECT%20password HTTP/1.1\r\n\r\n")
        let delivered = feed([v4(60000, offset: 24, more: false, attack[24...]), v4(60000, offset: 0, more: true, attack[0..<24])], decoder: decoder)
        #expect(delivered.count == 1)
        #expect(delivered.first.map { String(decoding: $0, as: UTF8.self).contains("UNION") } == true)
    }
}
