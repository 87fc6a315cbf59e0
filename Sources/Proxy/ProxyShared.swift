import NIOCore
import NetworkTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Everything the connections of one proxy share.
///
/// Sendable by how it is used: its properties are constants or atomics, and each of `pools`
/// (not Sendable) is only ever taken by the handler running on that pool's own event loop.
final class ProxyShared: @unchecked Sendable {
    let configuration: ProxyConfiguration
    let inspector: RequestInspector
    let pools: [ObjectIdentifier: UpstreamPool]
    let listenEndpoint: Endpoint
    private let connectionCounter = Atomic<UInt64>(0)
    private let openConnections = Atomic<Int>(0)
    private let lastTrim = Atomic<Int64>(0)

    init(configuration: ProxyConfiguration, inspector: RequestInspector, pools: [ObjectIdentifier: UpstreamPool], listenEndpoint: Endpoint) {
        self.configuration = configuration
        self.inspector = inspector
        self.pools = pools
        self.listenEndpoint = listenEndpoint
    }

    func nextConnectionID() -> UInt64 { connectionCounter.add(1, ordering: .relaxed).newValue }

    func connectionOpened() { openConnections.add(1, ordering: .relaxed) }

    /// When the last client of a burst has gone, the allocator is asked to give freed memory
    /// back to the system (glibc keeps it in its arenas otherwise: after a flood of
    /// connections the proxy would stay at its peak). A second later, when the closed
    /// connections' buffers are freed too, and only if no client came back meanwhile; at most
    /// once a second.
    func connectionClosed(on eventLoop: EventLoop) {
        guard openConnections.subtract(1, ordering: .relaxed).newValue == 0 else { return }
        eventLoop.scheduleTask(in: .seconds(1)) { [self] in
            guard openConnections.load(ordering: .relaxed) == 0 else { return }
            let now = Int64(SystemClock.monotonicSeconds())
            let last = lastTrim.load(ordering: .relaxed)
            guard now > last, lastTrim.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
            _ = Self.mallocTrim?(0)
        }
    }

    /// glibc's `malloc_trim` (not in the Glibc module's headers), looked up once; nil elsewhere.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
