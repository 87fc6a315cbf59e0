import Capture
import HTTP
import JSONOutput
import Reassembly
import TLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every stage of a run counted, and above all what was not inspected and why: the one
/// place the replay summary, the monitor's statistics and the console's counters read from.
public struct PipelineStatistics: Sendable {
    public var decoder = PacketDecoder.Statistics()
    public var fragments = IPFragmentReassembler.Statistics()
    public var reassembly = TCPReassembler.Statistics()
    public var activeFlows = 0
    public var requests = 0
    public var responses = 0
    public var notHTTPConnections = 0
    public var requestsShedForMemory = 0
    public var httpMemory = HTTPMemoryPool.Statistics()
    /// Live capture only: packets the kernel dropped, and packets diffai's queue dropped.
    public var kernelDrops = 0
    public var queueDrops = 0
    public var tls = TLSStatistics()
    public var peakResidentBytes = 0
    public var memoryBudgetBytes = MemoryBudget.defaultTotalBytes

    public init() {}

    /// One reason something was not inspected, or inspected before it was complete.
    public struct Loss: Sendable, Equatable {
        /// Stable snake_case name (JSON, metrics).
        public let key: String
        public let label: String
        public let count: Int
    }

    /// Every reason with a count above zero, in pipeline order.
    public var losses: [Loss] {
        let all = [
            Loss(key: "kernel_drops", label: "packets dropped by the kernel", count: kernelDrops),
            Loss(key: "queue_drops", label: "packets dropped by diffai's capture queue", count: queueDrops),
            Loss(key: "malformed_frames", label: "malformed frames", count: decoder.malformed),
            Loss(key: "snaplen_cuts", label: "packets cut by snaplen", count: decoder.cutBySnaplen),
            Loss(key: "fragments_malformed", label: "fragments that fit no datagram", count: fragments.malformed),
            Loss(key: "fragment_datagrams_evicted", label: "fragmented datagrams given up for memory", count: fragments.evicted),
            Loss(key: "fragment_datagrams_timed_out", label: "fragmented datagrams never completed", count: fragments.timedOut),
            Loss(key: "flows_evicted_without_data", label: "half-open flows evicted at the flow limit", count: reassembly.flowsEvictedWithoutData),
            Loss(key: "flows_evicted_with_data", label: "flows with data evicted at the flow limit",
                 count: reassembly.flowsEvicted - reassembly.flowsEvictedWithoutData),
            Loss(key: "out_of_order_flushes", label: "out-of-order holds delivered past their holes for memory", count: reassembly.pendingFlushes),
            Loss(key: "out_of_order_hole_bytes", label: "bytes never seen behind those holes", count: reassembly.pendingFlushGapBytes),
            Loss(key: "requests_inspected_early", label: "requests inspected early for memory", count: requestsShedForMemory),
        ]
        return all.filter { $0.count > 0 }
    }

    /// `not inspected: none`, or each reason and its count.
    public var lossSummary: String {
        let found = losses
        guard !found.isEmpty else { return "not inspected: nothing" }
        return "not inspected: " + found.map { "\($0.label) \($0.count)" }.joined(separator: ", ")
    }

    public var memorySummary: String {
        "memory: peak resident \(peakResidentBytes >> 20) MB of a \(MemoryBudget.describe(memoryBudgetBytes)) budget"
    }

    public var details: String {
        """
        details: tcp segments \(decoder.tcpSegments), not tcp/ip \(decoder.notIP + decoder.notTCP), \
        fragments \(fragments.fragments) (reassembled \(fragments.reassembled), overlaps \(fragments.overlaps), duplicates \(fragments.duplicates)), \
        out-of-order \(reassembly.outOfOrderSegments), retransmissions \(reassembly.retransmissions), \
        overlap conflicts \(reassembly.overlapConflicts), outside window \(reassembly.outsideWindow), \
        flows expired \(reassembly.flowsExpired), non-HTTP connections \(notHTTPConnections)
        """
    }

    /// The losses as one JSON object of counters (every key, zeros included, so dashboards see
    /// the same shape every time).
    public func writeLosses(into json: inout JSONWriter) {
        json.beginObject()
        let found = losses
        for key in Self.lossKeys {
            json.key(key); json.number(found.first { $0.key == key }?.count ?? 0)
        }
        json.endObject()
    }

    public static let lossKeys = ["kernel_drops", "queue_drops", "malformed_frames", "snaplen_cuts", "fragments_malformed",
                                  "fragment_datagrams_evicted", "fragment_datagrams_timed_out", "flows_evicted_without_data",
                                  "flows_evicted_with_data", "out_of_order_flushes", "out_of_order_hole_bytes", "requests_inspected_early"]

    /// The process's peak resident set so far. Linux: VmHWM of this address space, since
    /// getrusage's maxrss carries a forked parent's peak across exec.
    public static func peakResidentBytes() -> Int {
        if let fd = Optional(open("/proc/self/status", O_RDONLY | O_CLOEXEC)), fd >= 0 {
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0, let text = Optional(String(decoding: buffer[0..<count], as: UTF8.self)),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
               let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") {
                return kilobytes * 1024
            }
        }
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
    }
}
