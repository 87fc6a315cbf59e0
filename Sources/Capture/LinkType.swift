/// The link layers diffai decodes. Raw values are libpcap DLT numbers as `pcap_datalink` reports them.
public enum LinkType: Sendable, Equatable {
    case ethernet
    /// BSD loopback: 4-byte address family in the byte order of the machine that captured.
    case null
    /// OpenBSD loopback: 4-byte address family in network byte order.
    case loop
    case linuxSLL
    case linuxSLL2
    /// Bare IP; the version nibble says which.
    case raw
    case ipv4
    case ipv6

    public init?(dlt: Int32) {
        switch dlt {
        case 1: self = .ethernet
        case 0: self = .null
        case 108: self = .loop
        case 113: self = .linuxSLL
        case 276: self = .linuxSLL2
        case 12, 14, 101: self = .raw  // DLT_RAW differs between platforms; 101 is LINKTYPE_RAW
        case 228: self = .ipv4
        case 229: self = .ipv6
        default: return nil
        }
    }

    /// LINKTYPE_* value written into capture files.
    public var linktypeValue: UInt32 {
        switch self {
        case .ethernet: 1
        case .null: 0
        case .loop: 108
        case .linuxSLL: 113
        case .linuxSLL2: 276
        case .raw: 101
        case .ipv4: 228
        case .ipv6: 229
        }
    }
}
