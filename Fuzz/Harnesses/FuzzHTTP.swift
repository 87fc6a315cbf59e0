import HTTP
import NetworkTypes

/// The HTTP request and response parsers through one connection analyzer: the input cut into
/// pieces, each going to the client or server side, with gaps and ends of stream among them,
/// under a tiny memory pool so that shedding runs too.
final class CheckingSink: HTTPTransactionSink {
    var completed = 0
    func requestCompleted(_ transaction: HTTPTransaction) {
        _ = transaction.request.target
        _ = transaction.request.headers
    }
    func transactionCompleted(_ transaction: HTTPTransaction) { completed += 1 }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    var limits = HTTPParserLimits()
    let setting = input.byte()
    limits.maxHeaderBytes = [64 << 10, 1024, 300][Int(setting % 3)]
    limits.maxStartLineBytes = [8 << 10, 200][Int(setting >> 2 & 1)]
    limits.maxInspectedBodyBytes = [1 << 20, 100][Int(setting >> 3 & 1)]
    limits.bodyTailBytes = 32
    limits.maxPipelinedRequests = 8
    let memory = HTTPMemoryPool(limit: setting & 0x10 == 0 ? 1 << 20 : 4096)
    let sink = CheckingSink()
    let connection = HTTPConnectionInfo(id: 1, client: Endpoint(address: IPAddress("10.0.0.1")!, port: 5000),
                                        server: Endpoint(address: IPAddress("10.0.0.2")!, port: 80), midstream: setting & 0x20 != 0)
    var time: Int64 = 0
    do {
        let analyzer = HTTPConnectionAnalyzer(connection: connection, limits: limits, memory: memory, sink: sink)
        for piece in input.pieces() {
            time += 1
            let at = Timestamp(microseconds: time)
            guard let control = piece.first else { continue }
            let fromClient = control & 1 == 0
            switch control >> 5 {
            case 0: analyzer.gap(Int(control >> 1 & 0x0F) + 1, fromClient: fromClient, at: at)
            case 1: analyzer.endOfStream(fromClient: fromClient, at: at)
            default:
                let bytes = piece.dropFirst()
                _ = Array(bytes).withUnsafeBytes { analyzer.receive($0, fromClient: fromClient, at: at) }
            }
            precondition(memory.used >= 0, "held bytes never go negative")
        }
        analyzer.close(at: Timestamp(microseconds: time + 1))
        precondition(analyzer.heldBytes == 0, "a closed connection holds nothing")
    }
    precondition(memory.used == 0, "every connection's bytes leave the pool")
    return 0
}
