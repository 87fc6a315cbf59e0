import NIOCore
import NIOPosix

/// Receives an upstream connection's bytes for the client connection that currently owns it.
protocol UpstreamOwner: AnyObject {
    func upstreamRead(_ buffer: ByteBuffer)
    func upstreamClosed()
    func upstreamWritable()
}

/// The upstream end of one exchange at a time. Reads are manual: the next read is asked for
/// only while the client can take more, so a slow client downloading a large body holds a
/// bounded amount of memory instead of the whole response.
final class UpstreamConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    weak var owner: UpstreamOwner?
    /// Requests sent on this connection so far.
    var exchanges = 0
    private(set) var channel: Channel?
    private(set) var isOpen = true
    /// A read was asked for and its data has not come yet: asking again would only walk the
    /// pipeline for nothing.
    private var readRequested = false

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readRequested = false
        let buffer = unwrapInboundIn(data)
        if let owner { owner.upstreamRead(buffer) } else {
            // Bytes on an idle pooled connection: the server broke the exchange; drop it.
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { owner?.upstreamWritable() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        let owner = self.owner
        self.owner = nil
        owner?.upstreamClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func read() {
        guard !readRequested, let channel else { return }
        readRequested = true
        channel.read()
    }

    /// Queues bytes; `flush` sends what is queued (a head and its body go out in one writev).
    func write(_ buffer: ByteBuffer) {
        channel?.write(buffer, promise: nil)
    }

    func flush() {
        channel?.flush()
    }

    var isWritable: Bool { channel?.isWritable ?? false }

    func close() {
        isOpen = false
        owner = nil
        channel?.close(promise: nil)
    }
}

/// Idle keep-alive connections to the backend, one pool per event loop (used only from it,
/// hence not Sendable).
final class UpstreamPool {
    let eventLoop: EventLoop
    let host: String
    let port: Int
    let capacity: Int
    let connectTimeout: TimeAmount
    private var idle: [UpstreamConnection] = []

    init(eventLoop: EventLoop, host: String, port: Int, capacity: Int, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.host = host
        self.port = port
        self.capacity = capacity
        self.connectTimeout = connectTimeout
    }

    /// An idle connection, or a new one; `done` runs on this loop (at once for an idle one).
    func acquire(_ done: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        while let connection = idle.popLast() {
            if connection.isOpen, connection.channel?.isActive == true {
                done(.success(connection))
                return
            }
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection())
                }
            }
        // The connection is made on this loop, so its result arrives here too.
        let callback = NIOLoopBound(done, eventLoop: eventLoop)
        bootstrap.connect(host: host, port: port).whenComplete { result in
            callback.value(result.flatMap { channel in
                Result { try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self) }
            })
        }
    }

    /// Back to the pool after a complete exchange (or closed, when the pool is full).
    func release(_ connection: UpstreamConnection) {
        connection.owner = nil
        guard connection.isOpen, idle.count < capacity else {
            connection.close()
            return
        }
        idle.append(connection)
        // Notice a server-side close while idle.
        connection.read()
    }

    func closeAll() {
        for connection in idle { connection.close() }
        idle.removeAll()
    }
}
