import NIOCore
import NIOPosix
import NetworkTypes

/// `diffai proxy`: listens where the backend used to, inspects, forwards or refuses.
public final class ProxyServer {
    public let port: Int
    public let inspector: RequestInspector
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let pools: [ObjectIdentifier: UpstreamPool]

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func start(_ configuration: ProxyConfiguration, inspector: RequestInspector) throws(StartError) -> ProxyServer {
        let threads = configuration.threads > 0 ? configuration.threads : ProxyConfiguration.defaultThreads(cores: System.coreCount)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var pools: [ObjectIdentifier: UpstreamPool] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = UpstreamPool(eventLoop: loop, host: configuration.upstreamHost, port: configuration.upstreamPort,
                                                         capacity: configuration.upstreamPoolSize,
                                                         connectTimeout: .milliseconds(Int64(configuration.upstreamConnectTimeoutSeconds * 1000)))
        }
        let listen = Endpoint(address: IPAddress(configuration.listenHost) ?? IPAddress("127.0.0.1")!, port: UInt16(clamping: configuration.listenPort))
        let shared = ProxyShared(configuration: configuration, inspector: inspector, pools: pools, listenEndpoint: listen)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 << 10, high: 256 << 10))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(shared: shared))
                }
            }
        do {
            let channel = try bootstrap.bind(host: configuration.listenHost, port: configuration.listenPort).wait()
            return ProxyServer(port: channel.localAddress?.port ?? configuration.listenPort, inspector: inspector, group: group, channel: channel, pools: pools)
        } catch {
            try? group.syncShutdownGracefully()
            throw StartError(description: "cannot listen on \(configuration.listenHost):\(configuration.listenPort): \(error)")
        }
    }

    private init(port: Int, inspector: RequestInspector, group: MultiThreadedEventLoopGroup, channel: Channel, pools: [ObjectIdentifier: UpstreamPool]) {
        self.port = port
        self.inspector = inspector
        self.group = group
        self.channel = channel
        self.pools = pools
    }

    /// Stops accepting, closes pooled backend connections, and lets the event loops go.
    public func stop() {
        try? channel.close().wait()
        for pool in pools.values {
            try? pool.eventLoop.submit { pool.closeAll() }.wait()
        }
        try? group.syncShutdownGracefully()
    }
}
