import Capture
import NetworkTypes

/// Builds link, IP and TCP headers for synthetic captures.
public struct FrameBuilder: Sendable {
    public var linkType: LinkType
    /// Outer tag first; 0x88A8 (802.1ad) for the outer one of a QinQ pair, 0x8100 otherwise.
    public var vlanTags: [(tpid: UInt16, vlan: UInt16)] = []

    public init(linkType: LinkType = .ethernet) {
        self.linkType = linkType
    }

    public init(linkType: LinkType, vlanTags: [(tpid: UInt16, vlan: UInt16)]) {
        self.linkType = linkType
        self.vlanTags = vlanTags
    }

    /// Wraps an IP packet in this builder's link-layer header.
    public func frame(ipPacket: [UInt8]) -> [UInt8] {
        let isIPv6 = (ipPacket.first ?? 0) >> 4 == 6
        let etherType: UInt16 = isIPv6 ? 0x86DD : 0x0800
        var out: [UInt8] = []
        switch linkType {
        case .ethernet:
            out += [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]
            for tag in vlanTags { out += be16(tag.tpid) + be16(tag.vlan & 0x0FFF) }
            out += be16(etherType)
            out += ipPacket
            if out.count < 60 { out += [UInt8](repeating: 0, count: 60 - out.count) }  // Ethernet padding
            return out
        case .null:
            let family: UInt32 = isIPv6 ? 30 : 2
            out += [UInt8(family & 0xFF), 0, 0, 0]  // host (little-endian) byte order
        case .loop:
            out += [0, 0, 0, isIPv6 ? 24 : 2]
        case .linuxSLL:
            out += be16(0) + be16(772) + be16(6) + [0, 0, 0, 0, 0, 0, 0, 0] + be16(etherType)
        case .linuxSLL2:
            out += be16(etherType) + be16(0) + [0, 0, 0, 1] + be16(772) + [0, 6] + [0, 0, 0, 0, 0, 0, 0, 0]
        case .raw, .ipv4, .ipv6:
            break
        }
        return out + ipPacket
    }

    public static func ipv4(source: IPAddress, destination: IPAddress, protocol proto: UInt8 = 6,
                            identification: UInt16 = 0, moreFragments: Bool = false, fragmentOffset: Int = 0,
                            dontFragment: Bool = true, payload: [UInt8]) -> [UInt8] {
        let total = 20 + payload.count
        var flags: UInt16 = UInt16(fragmentOffset / 8) & 0x1FFF
        if moreFragments { flags |= 0x2000 }
        if dontFragment && !moreFragments && fragmentOffset == 0 { flags |= 0x4000 }
        var header: [UInt8] = [0x45, 0] + be16(UInt16(total)) + be16(identification) + be16(flags) + [64, proto, 0, 0]
        header += be32(source.ipv4Value) + be32(destination.ipv4Value)
        let checksum = internetChecksum(header)
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xFF)
        return header + payload
    }

    /// `extensions`: (header type, body without the next-header byte) chained before `proto`.
    public static func ipv6(source: IPAddress, destination: IPAddress, protocol proto: UInt8 = 6,
                            extensions: [(type: UInt8, body: [UInt8])] = [], payload: [UInt8]) -> [UInt8] {
        var chain: [UInt8] = []
        for (index, ext) in extensions.enumerated() {
            let next = index + 1 < extensions.count ? extensions[index + 1].type : proto
            if ext.type == 44 {
                chain += [next] + ext.body  // fragment header: fixed 8 bytes
            } else {
                // Pad to a multiple of 8 bytes; length field counts 8-byte units beyond the first.
                var body = [next, 0] + ext.body
                while body.count % 8 != 0 { body.append(0) }
                body[1] = UInt8(body.count / 8 - 1)
                chain += body
            }
        }
        let first = extensions.first?.type ?? proto
        var header: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(chain.count + payload.count)) + [first, 64]
        header += be64(source.high) + be64(source.low) + be64(destination.high) + be64(destination.low)
        return header + chain + payload
    }

    public static func tcp(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, acknowledgment: UInt32,
                           flags: TCPFlags, window: UInt16 = 65535, windowScale: UInt8? = nil, payload: [UInt8]) -> [UInt8] {
        var options: [UInt8] = []
        if flags.contains(.syn) {
            options += [2, 4, 0x05, 0xB4]  // MSS 1460
            if let windowScale { options += [1, 3, 3, windowScale] }
        }
        let headerLength = 20 + options.count
        var header = be16(sourcePort) + be16(destinationPort) + be32(sequence) + be32(acknowledgment)
        header += [UInt8(headerLength / 4) << 4, flags.rawValue] + be16(window) + [0, 0, 0, 0]
        return header + options + payload
    }

    static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

@inline(__always) func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
@inline(__always) func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
@inline(__always) func be64(_ v: UInt64) -> [UInt8] { be32(UInt32(v >> 32)) + be32(UInt32(v & 0xFFFF_FFFF)) }
