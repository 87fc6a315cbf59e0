import NetworkTypes

/// Decodes link, IP and TCP headers in place and hands TCP segments on without copying.
///
/// Checksums are deliberately not verified: captures taken on the sending host carry the
/// unfinished checksums of offloading NICs, and loopback traffic has none to speak of.
public final class PacketDecoder {
    public struct Statistics: Sendable, Equatable {
        public var packets = 0
        public var bytes = 0
        public var tcpSegments = 0
        public var ipv4 = 0
        public var ipv6 = 0
        public var notIP = 0
        public var notTCP = 0
        /// Frames whose headers were cut or inconsistent.
        public var malformed = 0
        /// Frames captured shorter than they were on the wire (snaplen).
        public var cutBySnaplen = 0
        public init() {}
    }

    public enum Outcome: Equatable, Sendable {
        case tcp
        case ignored
        case fragmentHeld
        case malformed(String)
    }

    public private(set) var statistics = Statistics()
    public let fragments: IPFragmentReassembler

    public init(fragmentLimits: IPFragmentReassembler.Limits = .init()) {
        fragments = IPFragmentReassembler(limits: fragmentLimits)
    }

    /// Decodes one frame; `deliver` is called at most once with the TCP segment it carries.
    @discardableResult
    public func decode(
        frame: UnsafeRawBufferPointer, linkType: LinkType, timestamp: Timestamp, wireLength: Int,
        deliver: (TCPSegment) -> Void
    ) -> Outcome {
        statistics.packets += 1
        statistics.bytes += wireLength
        let cut = max(0, wireLength - frame.count)
        if cut > 0 { statistics.cutBySnaplen += 1 }

        var offset = 0
        var etherType: UInt16 = 0
        switch linkType {
        case .ethernet:
            guard frame.count >= 14 else { return malformed("Ethernet header cut short") }
            etherType = frame.readUInt16(at: 12)
            offset = 14
            // 802.1Q, 802.1ad (QinQ) and the legacy 0x9100 outer tag, possibly stacked.
            while etherType == 0x8100 || etherType == 0x88A8 || etherType == 0x9100 {
                guard frame.count >= offset + 4 else { return malformed("VLAN tag cut short") }
                etherType = frame.readUInt16(at: offset + 2)
                offset += 4
            }
        case .null, .loop:
            guard frame.count >= 4 else { return malformed("loopback header cut short") }
            let raw = frame.loadUnaligned(as: UInt32.self)
            // NULL stores the family in the capturing host's byte order; try both.
            let family = linkType == .loop ? UInt32(bigEndian: raw) : (raw > 0xFFFF ? raw.byteSwapped : raw)
            switch family {
            case 2: etherType = 0x0800
            case 10, 24, 28, 30: etherType = 0x86DD
            default:
                statistics.notIP += 1
                return .ignored
            }
            offset = 4
        case .linuxSLL:
            guard frame.count >= 16 else { return malformed("Linux SLL header cut short") }
            etherType = frame.readUInt16(at: 14)
            offset = 16
        case .linuxSLL2:
            guard frame.count >= 20 else { return malformed("Linux SLL2 header cut short") }
            etherType = frame.readUInt16(at: 0)
            offset = 20
        case .raw:
            guard frame.count >= 1 else { return malformed("empty raw IP packet") }
            etherType = frame[0] >> 4 == 6 ? 0x86DD : 0x0800
        case .ipv4:
            etherType = 0x0800
        case .ipv6:
            etherType = 0x86DD
        }

        let ip = UnsafeRawBufferPointer(rebasing: frame[offset...])
        switch etherType {
        case 0x0800:
            statistics.ipv4 += 1
            return decodeIPv4(ip, timestamp: timestamp, cutBytes: cut, deliver: deliver)
        case 0x86DD:
            statistics.ipv6 += 1
            return decodeIPv6(ip, timestamp: timestamp, cutBytes: cut, deliver: deliver)
        default:
            statistics.notIP += 1
            return .ignored
        }
    }

    private func malformed(_ reason: String) -> Outcome {
        statistics.malformed += 1
        return .malformed(reason)
    }

    private func decodeIPv4(
        _ ip: UnsafeRawBufferPointer, timestamp: Timestamp, cutBytes: Int, deliver: (TCPSegment) -> Void
    ) -> Outcome {
        guard ip.count >= 20, ip[0] >> 4 == 4 else { return malformed("IPv4 header cut short or wrong version") }
        let headerLength = Int(ip[0] & 0x0F) * 4
        guard headerLength >= 20, ip.count >= headerLength else { return malformed("IPv4 header length invalid") }
        var totalLength = Int(ip.readUInt16(at: 2))
        // TSO/GRO captures on the sending host record a total length of 0; trust the frame then.
        if totalLength == 0 { totalLength = ip.count + cutBytes }
        guard totalLength >= headerLength else { return malformed("IPv4 total length shorter than its header") }
        let source = IPAddress(ipv4: ip.readUInt32(at: 12))
        let destination = IPAddress(ipv4: ip.readUInt32(at: 16))
        let proto = ip[9]
        let flagsAndOffset = ip.readUInt16(at: 6)
        let moreFragments = flagsAndOffset & 0x2000 != 0
        let fragmentOffset = Int(flagsAndOffset & 0x1FFF) * 8
        // Ethernet pads short frames: the IP length, not the frame, says where the packet ends.
        let available = min(totalLength, ip.count)
        let missing = totalLength - available
        let body = UnsafeRawBufferPointer(rebasing: ip[headerLength..<available])

        let fragment = (moreFragments || fragmentOffset != 0)
            ? FragmentInfo(offset: fragmentOffset, more: moreFragments, identification: UInt32(ip.readUInt16(at: 4)), isIPv6: false) : nil
        return transport(body, proto: proto, fragment: fragment, source: source, destination: destination,
                         missing: missing, timestamp: timestamp, deliver: deliver)
    }

    private func decodeIPv6(
        _ ip: UnsafeRawBufferPointer, timestamp: Timestamp, cutBytes: Int, deliver: (TCPSegment) -> Void
    ) -> Outcome {
        guard ip.count >= 40, ip[0] >> 4 == 6 else { return malformed("IPv6 header cut short or wrong version") }
        var payloadLength = Int(ip.readUInt16(at: 4))
        // Jumbograms and BIG TCP carry 0 here; the frame length is all we have.
        if payloadLength == 0 { payloadLength = ip.count - 40 + cutBytes }
        let source = IPAddress(ipv6High: ip.readUInt64(at: 8), low: ip.readUInt64(at: 16))
        let destination = IPAddress(ipv6High: ip.readUInt64(at: 24), low: ip.readUInt64(at: 32))
        let end = 40 + payloadLength
        let available = min(end, ip.count)
        var next = ip[6]
        var offset = 40
        var fragment: FragmentInfo?
        // Skip extension headers; hop-by-hop, routing, destination options and AH chain on.
        extensionLoop: while true {
            switch next {
            case 0, 43, 60:
                guard available >= offset + 8 else { return malformed("IPv6 extension header cut short") }
                let length = (Int(ip[offset + 1]) + 1) * 8
                next = ip[offset]
                offset += length
            case 51:
                guard available >= offset + 8 else { return malformed("IPv6 AH header cut short") }
                let length = (Int(ip[offset + 1]) + 2) * 4
                next = ip[offset]
                offset += length
            case 44:
                guard available >= offset + 8 else { return malformed("IPv6 fragment header cut short") }
                let field = ip.readUInt16(at: offset + 2)
                fragment = FragmentInfo(offset: Int(field & 0xFFF8), more: field & 1 != 0, identification: ip.readUInt32(at: offset + 4), isIPv6: true)
                next = ip[offset]
                offset += 8
            default:
                break extensionLoop
            }
            guard offset <= available else { return malformed("IPv6 extension headers overrun the packet") }
        }
        let body = UnsafeRawBufferPointer(rebasing: ip[offset..<available])
        let isFragment = fragment.map { $0.more || $0.offset != 0 } ?? false
        return transport(body, proto: next, fragment: isFragment ? fragment : nil, source: source, destination: destination,
                         missing: max(0, end - available), timestamp: timestamp, deliver: deliver)
    }

    struct FragmentInfo {
        var offset: Int
        var more: Bool
        var identification: UInt32
        var isIPv6: Bool
    }

    /// Hands the IP payload on: through fragment reassembly when it is a fragment, then to TCP.
    private func transport(
        _ body: UnsafeRawBufferPointer, proto: UInt8, fragment: FragmentInfo?, source: IPAddress, destination: IPAddress,
        missing: Int, timestamp: Timestamp, deliver: (TCPSegment) -> Void
    ) -> Outcome {
        if let fragment {
            guard missing == 0 else { return malformed("IP fragment cut by snaplen") }
            let whole = fragments.add(
                source: source, destination: destination, identification: fragment.identification, proto: proto, isIPv6: fragment.isIPv6,
                offset: fragment.offset, moreFragments: fragment.more, payload: body, timestamp: timestamp)
            guard let whole else { return .fragmentHeld }
            guard proto == 6 else { statistics.notTCP += 1; return .ignored }
            return whole.withUnsafeBytes {
                decodeTCP($0, source: source, destination: destination, missing: 0,
                          timestamp: timestamp, fromFragments: true, deliver: deliver)
            }
        }
        guard proto == 6 else { statistics.notTCP += 1; return .ignored }
        return decodeTCP(body, source: source, destination: destination, missing: missing,
                         timestamp: timestamp, fromFragments: false, deliver: deliver)
    }

    private func decodeTCP(
        _ tcp: UnsafeRawBufferPointer, source: IPAddress, destination: IPAddress, missing: Int,
        timestamp: Timestamp, fromFragments: Bool, deliver: (TCPSegment) -> Void
    ) -> Outcome {
        guard tcp.count >= 20 else { return malformed("TCP header cut short") }
        let dataOffset = Int(tcp[12] >> 4) * 4
        guard dataOffset >= 20, tcp.count >= dataOffset else { return malformed("TCP header length invalid") }
        let flags = TCPFlags(rawValue: tcp[13] & 0x3F)
        var windowScale: UInt8?
        if flags.contains(.syn) {
            windowScale = Self.windowScaleOption(UnsafeRawBufferPointer(rebasing: tcp[20..<dataOffset]))
        }
        statistics.tcpSegments += 1
        deliver(TCPSegment(
            timestamp: timestamp,
            source: Endpoint(address: source, port: tcp.readUInt16(at: 0)),
            destination: Endpoint(address: destination, port: tcp.readUInt16(at: 2)),
            sequence: tcp.readUInt32(at: 4),
            acknowledgment: tcp.readUInt32(at: 8),
            flags: flags,
            window: tcp.readUInt16(at: 14),
            windowScale: windowScale,
            payload: UnsafeRawBufferPointer(rebasing: tcp[dataOffset...]),
            missingPayloadBytes: UInt32(clamping: missing),
            fromFragments: fromFragments))
        return .tcp
    }

    private static func windowScaleOption(_ options: UnsafeRawBufferPointer) -> UInt8? {
        var i = 0
        while i < options.count {
            let kind = options[i]
            if kind == 0 { return nil }
            if kind == 1 { i += 1; continue }
            guard i + 1 < options.count else { return nil }
            let length = Int(options[i + 1])
            guard length >= 2, i + length <= options.count else { return nil }
            if kind == 3 && length == 3 { return min(options[i + 2], 14) }
            i += length
        }
        return nil
    }
}
