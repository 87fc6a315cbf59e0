import Capture
import HTTP
import NetworkTypes
import Reassembly

/// One bound for what a sensor holds on behalf of the traffic it watches, divided among the
/// stages in fixed shares so that each enforces its own part without locks:
///
/// | share | what | who pays when it is full |
/// | --- | --- | --- |
/// | 1/8 | capture queue (monitor) | new packets are dropped and counted |
/// | 1/16 | IP fragments | the oldest incomplete datagrams |
/// | 1/4 | TCP flows (`bytesPerFlow` each) | flows that never carried data, then the least recently active |
/// | 1/8 | TCP out-of-order bytes | flows holding them longest: delivered past their holes |
/// | 1/4 | HTTP heads, kept bodies, requests awaiting responses | connections holding longest: inspected now |
///
/// The remaining 3/16 is left for the program itself (rules, model, buffers, allocator slack:
/// about 30 MB at rest). Eviction always falls on what has been held longest, so a flood
/// costs the flooder's connections and the next connection is still seen.
public struct MemoryBudget: Sendable, Equatable {
    public var totalBytes: Int

    /// Fits a small VM beside the web server it watches.
    public static let defaultTotalBytes = 512 << 20
    /// What one tracked connection costs across the stages (flow, table slots, HTTP state),
    /// measured on replays of SYN-only floods (bench/hostile.sh prints it).
    public static let bytesPerFlow = 1536
    /// The program itself (rules, model, buffers) takes about 30 MB of any budget.
    public static let minimumTotalBytes = 64 << 20

    public init(totalBytes: Int = MemoryBudget.defaultTotalBytes) {
        self.totalBytes = max(totalBytes, Self.minimumTotalBytes)
    }

    public var captureQueueBytes: Int { totalBytes / 8 }
    public var fragmentBytes: Int { totalBytes / 16 }
    public var flowTableBytes: Int { totalBytes / 4 }
    public var outOfOrderBytes: Int { totalBytes / 8 }
    public var httpHeldBytes: Int { totalBytes / 4 }
    public var maxFlows: Int { flowTableBytes / Self.bytesPerFlow }

    /// Sets the stage limits this budget implies.
    public func apply(to options: inout PipelineOptions) {
        options.fragments.maxBufferedBytes = fragmentBytes
        options.reassembly.maxFlows = maxFlows
        options.reassembly.maxPendingBytesTotal = outOfOrderBytes
        options.httpHeldBytes = httpHeldBytes
    }

    /// `512M`, `2G`, `64m`, `1048576`: a size in bytes, with an optional K/M/G suffix (1024s).
    public static func parseSize(_ text: String) -> Int? {
        var digits = text.trimming(" ")
        var multiplier = 1
        if let last = digits.last, !last.isNumber {
            switch last.lowercased() {
            case "k": multiplier = 1 << 10
            case "m": multiplier = 1 << 20
            case "g": multiplier = 1 << 30
            default: return nil
            }
            digits.removeLast()
        }
        guard !digits.isEmpty, digits.count <= 12, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits) else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// `512 MB`, `1.5 GB`.
    public static func describe(_ bytes: Int) -> String {
        if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30) GB" }
        return "\(bytes >> 20) MB"
    }
}
