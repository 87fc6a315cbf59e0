/// Problems reading a capture. Each message names the file (and packet and byte offset where
/// known) so an analyst can find the damage; the reader carries on with the next file.
public enum CaptureError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(file: String, reason: String)
    case unsupportedLinkType(file: String, dlt: Int32, name: String)
    case badFilter(filter: String, reason: String)
    case corrupt(file: String, packet: Int, offset: Int64?, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            return "\(file): cannot open capture: \(reason)"
        case let .unsupportedLinkType(file, dlt, name):
            return "\(file): unsupported link type \(dlt) (\(name)); diffai reads Ethernet, NULL/LOOP, Linux SLL/SLL2 and raw IP; skipping this file"
        case let .badFilter(filter, reason):
            return "invalid capture filter '\(filter)': \(reason)"
        case let .corrupt(file, packet, offset, reason):
            let at = offset.map { " at byte offset \($0)" } ?? ""
            return "\(file): packet \(packet)\(at): \(reason); the rest of this file is skipped"
        }
    }
}
