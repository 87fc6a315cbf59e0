import HTTP
import NetworkTypes
import Reassembly
import TLS

/// Connects reassembled TCP streams to HTTP analysis. The initiator of a connection is its
/// client. With key logs, a stream that opens with a TLS record is decrypted first
/// (`TLSSession`) and its plaintext goes to the same HTTP analysis.
final class HTTPFlowAdapter: TCPFlowHandler {
    private enum Mode {
        /// No bytes yet: the first ones say HTTP or TLS.
        case undecided
        case http
        case tls(TLSSession)
        /// A TLS session that will not be decrypted: its bytes are let go.
        case opaque
    }

    private let analyzer: HTTPConnectionAnalyzer
    private let tls: TLSDecryption?
    private var mode = Mode.undecided
    /// The capture time of the bytes being decrypted (the plaintext is parsed at that time).
    private var now = Timestamp(microseconds: 0)
    private var tlsNoted = false
    private var lookedAtGeneration = -1

    init(analyzer: HTTPConnectionAnalyzer, tls: TLSDecryption?) {
        self.analyzer = analyzer
        self.tls = tls
    }

    func receive(_ bytes: UnsafeRawBufferPointer, direction: FlowDirection, at time: Timestamp) -> StreamVerdict {
        switch mode {
        case .undecided:
            if let tls, TLSSession.looksLikeTLS(bytes) {
                let session = TLSSession(lookup: { tls.keyLog.secrets(forClientRandom: $0) }, memory: tls.memory) { [unowned self] direction, plaintext in
                    decrypted(plaintext, from: direction)
                }
                mode = .tls(session)
                return receive(bytes, direction: direction, at: time)
            }
            mode = .http
            return receive(bytes, direction: direction, at: time)
        case .http:
            return analyzer.receive(bytes, fromClient: direction == .fromInitiator, at: time) ? .keepGoing : .ignoreFlow
        case .tls(let session):
            now = time
            retryIfSecretsArrived(session)
            session.receive(bytes, from: direction == .fromInitiator ? .clientToServer : .serverToClient)
            guard session.isFinished else { return .keepGoing }
            finishTLS(session)
            return .ignoreFlow
        case .opaque:
            return .ignoreFlow
        }
    }

    private func decrypted(_ plaintext: [UInt8], from direction: TLSSession.Direction) {
        guard case .tls(let session) = mode else { return }
        if !tlsNoted, let version = session.versionName {
            tlsNoted = true
            analyzer.noteTLS(TLSConnectionInfo(serverName: session.serverName, version: version))
        }
        _ = plaintext.withUnsafeBytes { analyzer.receive($0, fromClient: direction == .clientToServer, at: now) }
    }

    /// A followed key log grew since this session last looked: held records are tried again.
    private func retryIfSecretsArrived(_ session: TLSSession) {
        guard let tls, session.isWaitingForSecrets else { return }
        tls.keyLog.refresh()
        let generation = tls.keyLog.generation
        guard generation != lookedAtGeneration else { return }
        lookedAtGeneration = generation
        session.secretsMayHaveArrived()
    }

    /// Counts the session's outcome once.
    private func finishTLS(_ session: TLSSession) {
        // The secrets may have come after the session's last bytes.
        retryIfSecretsArrived(session)
        tls?.statistics.record(session.finish())
        mode = session.state == .decrypting ? .http : .opaque
    }

    func gap(_ length: Int, direction: FlowDirection, at time: Timestamp) {
        if case .tls(let session) = mode {
            // Records after a hole cannot be found again: the session ends here.
            session.lost()
            finishTLS(session)
            mode = .opaque
        }
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
        if case .tls(let session) = mode { finishTLS(session) }
        analyzer.close(at: time)
    }
}

/// Makes one HTTP analyzer per TCP connection, all reporting to the same sink.
public final class HTTPFlowFactory: TCPFlowHandlerFactory {
    public let limits: HTTPParserLimits
    public let statistics: HTTPStatistics
    public let memory: HTTPMemoryPool
    /// Decryption of TLS streams with key logs; nil: TLS streams are let go at their first bytes.
    public let tls: TLSDecryption?
    private let sink: HTTPTransactionSink

    public init(limits: HTTPParserLimits, statistics: HTTPStatistics, memory: HTTPMemoryPool, sink: HTTPTransactionSink,
                tls: TLSDecryption? = nil) {
        self.limits = limits
        self.statistics = statistics
        self.memory = memory
        self.sink = sink
        self.tls = tls
    }

    public func makeHandler(for flow: FlowDescriptor) -> TCPFlowHandler? {
        let connection = HTTPConnectionInfo(
            id: flow.id, client: flow.initiator, server: flow.responder, midstream: !flow.sawHandshake)
        return HTTPFlowAdapter(analyzer: HTTPConnectionAnalyzer(
            connection: connection, limits: limits, statistics: statistics, memory: memory, sink: sink), tls: tls)
    }
}

/// The key logs TLS streams are decrypted with, and what became of the sessions (counted on
/// the thread that runs the HTTP stage).
public final class TLSDecryption {
    public let keyLog: KeyLogStore
    public var statistics = TLSStatistics()
    /// What all TLS sessions hold together, at most.
    public let memory: TLSMemory

    public init(keyLog: KeyLogStore, memory: TLSMemory = TLSMemory()) {
        self.keyLog = keyLog
        self.memory = memory
    }
}
