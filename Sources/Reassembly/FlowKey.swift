import NetworkTypes

/// Both directions of a connection map to the same key: the smaller endpoint comes first.
struct FlowKey: Hashable {
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
