import NetworkTypes

/// Both directions of a connection map to the same key: the smaller endpoint comes first.
struct FlowKey: Hashable {
    /// Three words instead of eight fields: hashing runs once per packet.
    func hash(into hasher: inout Hasher) {
        hasher.combine(low.address.low ^ (low.address.high &* 0x9E37_79B9_7F4A_7C15))
        hasher.combine(high.address.low ^ (high.address.high &* 0x9E37_79B9_7F4A_7C15))
        hasher.combine(UInt64(low.port) << 16 | UInt64(high.port))
    }

    let low: Endpoint
    let high: Endpoint

    init(_ a: Endpoint, _ b: Endpoint) {
        if a < b {
            low = a
            high = b
        } else {
            low = b
            high = a
        }
    }
}
