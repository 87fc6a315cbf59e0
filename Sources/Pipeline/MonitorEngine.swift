import Capture
import HTTP
import NetworkTypes
import Reassembly

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Live monitoring: a capture thread that only copies packets into a bounded queue, and the
/// calling thread running reassembly, parsing and detection. Capture never waits on analysis.
public final class MonitorEngine {
    public let core: PipelineCore
    public let queue: PacketQueue
    /// Runs on the analysis thread at least every `maintenanceMilliseconds` (statistics, signals).
    public var maintenance: (() -> Void)?
    public var maintenanceMilliseconds = 100
    public private(set) var packetsAnalysed = 0
    /// Nice value for the analysis thread (negative: more CPU when the machine is saturated).
    public var analysisNice: Int32 = 0
    private let diagnostics: @Sendable (String) -> Void

    /// The budget the options were made from (reported with the statistics).
    public let memoryBudget: MemoryBudget

    /// `queueBytes`: the capture queue, by default the budget's share for it.
    public init(options: PipelineOptions, sink: HTTPTransactionSink, memoryBudget: MemoryBudget = MemoryBudget(),
                queueBytes: Int? = nil, diagnostics: @escaping @Sendable (String) -> Void) {
        core = PipelineCore(options: options, sink: sink)
        self.memoryBudget = memoryBudget
        queue = PacketQueue(capacityBytes: queueBytes ?? memoryBudget.captureQueueBytes)
        self.diagnostics = diagnostics
    }

    /// Captures until `shouldStop` turns true, then analyses what is still queued, closes
    /// every flow and returns.
    public func run(source: PcapLiveSource, shouldStop: @escaping @Sendable () -> Bool) {
        let queue = self.queue
        let diagnostics = self.diagnostics
        let capture = Threads.start {
            do {
                try source.run(shouldStop: shouldStop, batchEnded: { queue.publish() }) { queue.push($0) }
            } catch {
                diagnostics("\(error)")
            }
            queue.close()
        }
        let linkType = source.linkType
        if analysisNice != 0 {
            // On Linux, PRIO_PROCESS with id 0 sets the calling thread's nice only.
            if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, analysisNice) != 0 {
                diagnostics("cannot set the analysis thread's nice to \(analysisNice): \(String(cString: strerror(errno))) (needs root or CAP_SYS_NICE)")
            }
        }
        var lastMaintenance = SystemClock.monotonicSeconds()
        var lastPacket = SystemClock.monotonicSeconds()
        let core = self.core
        var analysed = 0
        var stopping = false
        while queue.drain(timeoutMilliseconds: maintenanceMilliseconds, { frame in
            core.process(frame, linkType: linkType)
            analysed += 1
        }) {
            // In immediate mode libpcap may block without a timeout: wake it from here.
            if !stopping && shouldStop() {
                stopping = true
                source.stop()
            }
            let now = SystemClock.monotonicSeconds()
            if analysed != packetsAnalysed {
                packetsAnalysed = analysed
                lastPacket = now
            } else if now - lastPacket > 1 {
                // A quiet link still moves time on: idle flows expire by the clock.
                core.reassembler.advanceTime(to: SystemClock.now())
            }
            if now - lastMaintenance >= Double(maintenanceMilliseconds) / 1000 {
                lastMaintenance = now
                maintenance?()
            }
        }
        pthread_join(capture, nil)
        core.reassembler.finish(at: SystemClock.now())
        maintenance?()
    }
}
