import Capture
import HTTP
import NetworkTypes
import Reassembly
import TLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct PipelineOptions: Sendable {
    public var filter: String?
    public var reassembly = TCPReassembler.Limits()
    public var http = HTTPParserLimits()
    public var fragments = IPFragmentReassembler.Limits()
    /// What the HTTP stage may hold for all its connections together (`HTTPMemoryPool`).
    public var httpHeldBytes = MemoryBudget().httpHeldBytes
    /// Snaplen warnings printed per file before they are only counted.
    public var maxWarningsPerFile = 5
    /// Secrets for decrypting TLS streams (`--keylog`); nil: TLS streams are let go unread.
    public var keyLog: KeyLogStore?

    /// Limits from the default memory budget.
    public init() {
        MemoryBudget().apply(to: &self)
    }
}

/// Everything a replay counted, printed to stderr at the end.
public struct ReplaySummary: Sendable {
    public var files = 0
    public var filesFailed = 0
    public var pipeline = PipelineStatistics()
    public var elapsedSeconds = 0.0

    public var decoder: PacketDecoder.Statistics { pipeline.decoder }
    public var fragments: IPFragmentReassembler.Statistics { pipeline.fragments }
    public var reassembly: TCPReassembler.Statistics { pipeline.reassembly }
    public var requests: Int { pipeline.requests }
    public var responses: Int { pipeline.responses }
    public var notHTTPConnections: Int { pipeline.notHTTPConnections }

    public var requestsPerSecond: Double { elapsedSeconds > 0 ? Double(requests) / elapsedSeconds : 0 }

    public var description: String {
        let rate = String(Int(requestsPerSecond.rounded()))
        let mb = Double(decoder.bytes) / 1_048_576
        return """
        replay: \(files) file(s)\(filesFailed > 0 ? " (\(filesFailed) with errors)" : ""), \
        \(decoder.packets) packets, \(decoder.bytes) bytes, \(reassembly.flowsCreated) flows, \
        \(requests) requests, \(responses) responses, \(reassembly.gaps) gaps (\(reassembly.gapBytes) bytes), \
        \(elapsedSeconds.fixed(2)) s, \(rate) requests/s, \((mb / max(elapsedSeconds, 1e-9)).fixed(2)) MB/s
        \(pipeline.lossSummary)
        \(pipeline.memorySummary)
        \(pipeline.details)\(pipeline.tls.summaryLine.map { "\n" + $0 } ?? "")
        """
    }
}

/// The stages every mode shares: decode → reassemble → parse HTTP → the sink.
public final class PipelineCore {
    public let decoder: PacketDecoder
    public let reassembler: TCPReassembler
    /// The counters of the HTTP stage these streams go to.
    public let httpStatistics: HTTPStatistics
    /// The HTTP stage's share of the memory budget.
    public let httpMemory: HTTPMemoryPool
    /// TLS decryption on this thread's HTTP stage (monitor), when there are key logs.
    public let tls: TLSDecryption?

    /// Streams go straight to the HTTP stage on this thread.
    public convenience init(options: PipelineOptions, sink: HTTPTransactionSink) {
        let statistics = HTTPStatistics()
        let memory = HTTPMemoryPool(limit: options.httpHeldBytes)
        let tls = options.keyLog.map { TLSDecryption(keyLog: $0) }
        self.init(options: options, httpStatistics: statistics, httpMemory: memory,
                  factory: HTTPFlowFactory(limits: options.http, statistics: statistics, memory: memory, sink: sink, tls: tls),
                  tls: tls)
    }

    /// Streams go to `factory`'s handlers (replay: the hand-off to the analysing thread, whose
    /// HTTP stage counts into `httpStatistics` and holds its memory in `httpMemory`).
    public init(options: PipelineOptions, httpStatistics: HTTPStatistics, httpMemory: HTTPMemoryPool, factory: TCPFlowHandlerFactory,
                tls: TLSDecryption? = nil) {
        self.tls = tls
        decoder = PacketDecoder(fragmentLimits: options.fragments)
        reassembler = TCPReassembler(limits: options.reassembly, factory: factory)
        self.httpStatistics = httpStatistics
        self.httpMemory = httpMemory
    }

    /// The counters of every stage. Read it on the thread that runs them (replay: after the
    /// run, once the reading thread has ended).
    public var statistics: PipelineStatistics {
        var statistics = PipelineStatistics()
        statistics.decoder = decoder.statistics
        statistics.fragments = decoder.fragments.statistics
        statistics.reassembly = reassembler.statistics
        statistics.activeFlows = reassembler.activeFlows
        statistics.requests = httpStatistics.requests
        statistics.responses = httpStatistics.responses
        statistics.notHTTPConnections = httpStatistics.notHTTPConnections
        statistics.requestsShedForMemory = httpStatistics.requestsShedForMemory
        statistics.httpMemory = httpMemory.statistics
        if let tls { statistics.tls = tls.statistics }
        statistics.peakResidentBytes = PipelineStatistics.peakResidentBytes()
        return statistics
    }

    @discardableResult
    public func process(_ frame: CapturedFrame, linkType: LinkType) -> PacketDecoder.Outcome {
        let reassembler = self.reassembler
        return decoder.decode(frame: frame.bytes, linkType: linkType, timestamp: frame.timestamp, wireLength: frame.wireLength) { segment in
            reassembler.process(segment)
        }
    }
}

/// Capture → Reassembly → HTTP over capture files, as fast as the disk allows.
/// Flows continue across files given together (rotated captures of one session).
///
/// Two threads share the work: a reading thread runs libpcap, decoding and TCP reassembly,
/// the calling thread runs HTTP parsing and the sink (detection, output, `maintenance`). The
/// reassembled streams travel between them as ordered event batches (`StreamEventQueue`), so
/// the sink sees exactly the calls, in exactly the order, that one thread would have made.
public final class ReplayEngine {
    public let options: PipelineOptions
    /// The reading thread's stages (decoding, reassembly); read its counters after `run`.
    public let core: PipelineCore
    public var decoder: PacketDecoder { core.decoder }
    public var reassembler: TCPReassembler { core.reassembler }
    public var httpStatistics: HTTPStatistics { core.httpStatistics }
    private let queue = StreamEventQueue()
    private let writer: StreamEventWriter
    private let dispatcher: StreamEventDispatcher
    /// The analysing side's TLS decryption, when there are key logs.
    private let tls: TLSDecryption?
    // Reading thread's own state.
    private var lastTimestamp = Timestamp.zero
    private var filesFailed = 0
    /// Called on the calling thread between event batches (signal handling, reloads).
    public var maintenance: (() -> Void)?

    /// `diagnostics` receives one human-readable line per problem (file, packet, offset), on
    /// the calling thread, in order with the traffic around it.
    public init(options: PipelineOptions, sink: HTTPTransactionSink, diagnostics: @escaping (String) -> Void) {
        self.options = options
        writer = StreamEventWriter(queue: queue)
        let statistics = HTTPStatistics()
        let memory = HTTPMemoryPool(limit: options.httpHeldBytes)
        core = PipelineCore(options: options, httpStatistics: statistics, httpMemory: memory, factory: writer)
        tls = options.keyLog.map { TLSDecryption(keyLog: $0) }
        dispatcher = StreamEventDispatcher(
            factory: HTTPFlowFactory(limits: options.http, statistics: statistics, memory: memory, sink: sink, tls: tls),
            diagnostics: diagnostics)
    }

    /// Replays the files in order, then flushes every open flow. Call once.
    public func run(files: [String]) -> ReplaySummary {
        let started = SystemClock.monotonicSeconds()
        let reading = ReadingSide(engine: self, files: files)
        let thread = Threads.start { reading.run() }
        var done: StreamEventQueue.Batch?
        while let batch = queue.next(returning: done, ignoring: dispatcher.takeIgnored()) {
            dispatcher.dispatch(batch)
            maintenance?()
            done = batch
        }
        pthread_join(thread, nil)

        var summary = ReplaySummary()
        summary.files = files.count
        summary.filesFailed = filesFailed
        summary.elapsedSeconds = SystemClock.monotonicSeconds() - started
        summary.pipeline = core.statistics
        summary.pipeline.reassembly.flowsIgnored = dispatcher.flowsIgnored
        if let tls { summary.pipeline.tls = tls.statistics }
        return summary
    }

    /// The reading thread's whole job. The engine is shared only through the queue: this side
    /// touches the decoder, the reassembler, the writer and the counters read after the join.
    private struct ReadingSide: @unchecked Sendable {
        let engine: ReplayEngine
        let files: [String]

        func run() {
            for file in files where !engine.replay(file: file) {
                engine.filesFailed += 1
            }
            engine.reassembler.finish(at: engine.lastTimestamp)
            engine.writer.finish()
        }
    }

    /// Returns false when the file could not be read to its end.
    private func replay(file: String) -> Bool {
        let reader: PcapFileReader
        do {
            reader = try PcapFileReader(path: file, filter: options.filter)
        } catch {
            writer.message(error.description)
            return false
        }
        let linkType = reader.linkType
        var warnings = 0
        var cutPackets = 0
        let core = self.core
        do {
            try reader.forEachFrame { frame in
                if frame.timestamp > lastTimestamp { lastTimestamp = frame.timestamp }
                if frame.bytes.count < frame.wireLength {
                    cutPackets += 1
                    if warnings < options.maxWarningsPerFile {
                        warnings += 1
                        writer.message("\(file): packet \(frame.number): cut by snaplen (\(frame.bytes.count) of \(frame.wireLength) bytes captured); the missing bytes count as a gap")
                    }
                }
                let outcome = core.process(frame, linkType: linkType)
                if case .malformed(let reason) = outcome, warnings < options.maxWarningsPerFile {
                    warnings += 1
                    writer.message("\(file): packet \(frame.number): \(reason); packet skipped")
                }
            }
        } catch {
            writer.message(error.description)
            return false
        }
        if cutPackets > warnings {
            writer.message("\(file): \(cutPackets) packets in all were cut by snaplen")
        }
        return true
    }
}
