import HTTP
import NetworkTypes

/// A tuning exclusion, as a CRS user writes one (`ctl:ruleRemoveById`,
/// `ctl:ruleRemoveTargetById`): for requests to a path prefix, for a host, or from a client
/// network, the rule is not applied, or not to some parameters. Every condition given must
/// hold; none given means every request (then `parameters` must name some: a rule off
/// everywhere is `"enabled": false`).
public struct RuleExclusion: Sendable, Equatable {
    /// What the exclusion is for (shown by `rules check`).
    public var name: String
    /// A prefix of the normalised path (percent-decoded, dot segments resolved, slashes
    /// collapsed), so `/wp-admin/post.php/../../x` is not under `/wp-admin/post.php`.
    public var pathPrefix: [UInt8]?
    /// The Host header's name, lowercase and without its port.
    public var host: String?
    public var network: IPNetwork?
    /// Argument names (query and body, exact) the rule does not read; empty: the whole rule.
    public var parameters: Set<[UInt8]>

    public init(name: String, pathPrefix: String? = nil, host: String? = nil, network: IPNetwork? = nil, parameters: [String] = []) {
        self.name = name
        self.pathPrefix = pathPrefix.map { Array($0.utf8) }
        self.host = host?.lowercased()
        self.network = network
        self.parameters = Set(parameters.map { Array($0.utf8) })
    }

    /// Whether the exclusion's conditions hold for this request (a network condition never
    /// holds without a client address).
    public func applies(to request: HTTPRequest, client: IPAddress?) -> Bool {
        if let network {
            guard let client, network.contains(client) else { return false }
        }
        if let host {
            guard let value = request.head.firstValue(named: "host") else { return false }
            var name = value.lowercased()
            if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") { name = String(name[..<colon]) }
            guard name == host else { return false }
        }
        if let pathPrefix {
            guard Self.normalisedPath(request.targetBytes).starts(with: pathPrefix) else { return false }
        }
        return true
    }

    /// The path as the server resolves it: absolute-form's scheme and authority dropped, the
    /// query dropped, percent-decoded once, backslashes as slashes (IIS), `.` and `..`
    /// segments resolved, empty segments collapsed.
    static func normalisedPath(_ target: ArraySlice<UInt8>) -> [UInt8] {
        var raw = Array(target.prefix { $0 != 0x3F && $0 != 0x23 })
        if raw.first != 0x2F, let scheme = raw.firstIndex(of: 0x3A), raw[scheme...].starts(with: [0x3A, 0x2F, 0x2F]) {
            let authority = raw.index(scheme, offsetBy: 3)
            raw = Array(raw[authority...].drop { $0 != 0x2F })
        }
        let decoded = PercentDecoding.decode(raw, plusIsSpace: false, unicode: true).map { $0 == 0x5C ? 0x2F : $0 }
        var segments: [ArraySlice<UInt8>] = []
        for segment in decoded.split(separator: 0x2F, omittingEmptySubsequences: true) {
            if segment.elementsEqual([0x2E]) { continue }
            if segment.elementsEqual([0x2E, 0x2E]) { _ = segments.popLast(); continue }
            segments.append(segment)
        }
        var out: [UInt8] = []
        for segment in segments { out.append(0x2F); out += segment }
        if out.isEmpty || decoded.last == 0x2F { out.append(0x2F) }
        return out
    }
}

/// An address block such as `10.0.0.0/8` or `2001:db8::/32` (a bare address is a block of one).
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let address = IPAddress(first) else { return nil }
        let maximum = address.isIPv6 ? 128 : 32
        let length = parts.count == 2 ? Int(parts[1]) : maximum
        guard let length, (0...maximum).contains(length) else { return nil }
        self.address = address
        prefixLength = length
    }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.isIPv6 == address.isIPv6 else { return false }
        if !address.isIPv6 {
            let mask: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << (32 - prefixLength)
            return other.ipv4Value & mask == address.ipv4Value & mask
        }
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? ~0 : ~UInt64(0) << (64 - bits) }
        let highMask = mask(prefixLength), lowMask = mask(prefixLength - 64)
        return other.high & highMask == address.high & highMask && other.low & lowMask == address.low & lowMask
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
