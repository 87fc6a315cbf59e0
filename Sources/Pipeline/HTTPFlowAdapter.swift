import HTTP
import NetworkTypes
import Reassembly

/// Connects reassembled TCP streams to HTTP analysis. The initiator of a connection is its client.
final class HTTPFlowAdapter: TCPFlowHandler {
    private let analyzer: HTTPConnectionAnalyzer

    init(analyzer: HTTPConnectionAnalyzer) {
        self.analyzer = analyzer
    }

    func receive(_ bytes: UnsafeRawBufferPointer, direction: FlowDirection, at time: Timestamp) -> StreamVerdict {
        analyzer.receive(bytes, fromClient: direction == .fromInitiator, at: time) ? .keepGoing : .ignoreFlow
    }

    func gap(_ length: Int, direction: FlowDirection, at time: Timestamp) {
        analyzer.gap(length, fromClient: direction == .fromInitiator, at: time)
    }

    func anomaly(_ anomaly: StreamAnomaly, direction: FlowDirection, at time: Timestamp) {
        let mapped: HTTPAnomalies = switch anomaly {
        case .overlapConflict: .tcpOverlapConflict
        case .fragmented: .ipFragmented
        case .outsideWindow: .tcpOutsideWindow
        }
        analyzer.noteStreamAnomaly(mapped, fromClient: direction == .fromInitiator)
    }

    func halfClosed(_ direction: FlowDirection, reason: HalfCloseReason, at time: Timestamp) {
        analyzer.endOfStream(fromClient: direction == .fromInitiator, at: time)
    }

    func closed(reason: FlowEndReason, at time: Timestamp) {
        analyzer.close(at: time)
    }
}

/// Makes one HTTP analyzer per TCP connection, all reporting to the same sink.
public final class HTTPFlowFactory: TCPFlowHandlerFactory {
    public let limits: HTTPParserLimits
    public let statistics: HTTPStatistics
    public let memory: HTTPMemoryPool
    private let sink: HTTPTransactionSink

    public init(limits: HTTPParserLimits, statistics: HTTPStatistics, memory: HTTPMemoryPool, sink: HTTPTransactionSink) {
        self.limits = limits
        self.statistics = statistics
        self.memory = memory
        self.sink = sink
    }

    public func makeHandler(for flow: FlowDescriptor) -> TCPFlowHandler? {
        let connection = HTTPConnectionInfo(
            id: flow.id, client: flow.initiator, server: flow.responder, midstream: !flow.sawHandshake)
        return HTTPFlowAdapter(analyzer: HTTPConnectionAnalyzer(
            connection: connection, limits: limits, statistics: statistics, memory: memory, sink: sink))
    }
}
