import Alerts
import Detection
import NIOCore
import NIOEmbedded
import NetworkTypes
@testable import Proxy

/// The proxy's use of the HTTP parser: a client connection's bytes, cut into pieces, through
/// the real channel handler on an embedded channel (no backend: requests that would be
/// forwarded wait), with the clock moved between pieces so the timeouts fire too. Whatever the
/// bytes, the handler answers, refuses or waits; it never traps.
nonisolated(unsafe) let fuzzShared: ProxyShared = {
    var configuration = ProxyConfiguration()
    configuration.block = true
    configuration.maxHeaderBytes = 2048
    configuration.maxRequestLineBytes = 512
    configuration.maxBodyBytes = 4096
    configuration.inspectBodyBytes = 1024
    let rules = (try? RuleFile.load(path: "rules.json")).flatMap { try? RuleSet(rules: $0) } ?? (try! RuleSet(rules: []))
    let inspector = RequestInspector(detector: Detector(rules: rules), outputs: AlertOutputs())
    return ProxyShared(configuration: configuration, inspector: inspector, pools: [:],
                       listenEndpoint: Endpoint(address: IPAddress("127.0.0.1")!, port: 8080))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxy(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let loop = EmbeddedEventLoop()
    let channel = EmbeddedChannel(handler: ClientConnectionHandler(shared: fuzzShared), loop: loop)
    _ = try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
    for piece in input.pieces() {
        guard channel.isActive else { break }
        if let first = piece.first, first < 8 {
            loop.advanceTime(by: .seconds(Int64(first) * 3))
            continue
        }
        var buffer = channel.allocator.buffer(capacity: piece.count)
        buffer.writeBytes(piece)
        _ = try? channel.writeInbound(buffer)
        while let _ = try? channel.readOutbound(as: ByteBuffer.self) {}
    }
    loop.advanceTime(by: .seconds(120))
    _ = try? channel.finish()
    return 0
}
