/// How `diffai proxy` listens, forwards and refuses.
public struct ProxyConfiguration: Sendable {
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    public var upstreamHost = "127.0.0.1"
    public var upstreamPort = 8081
    /// Inspect before forwarding and refuse what `action: block` rules (or the model above
    /// `blockThreshold`) match. Off: forward at once, detect out of band.
    public var block = false
    /// ML score at or above which a request is refused (with `block`); nil: the model only alerts.
    public var blockThreshold: Float?
    /// Body bytes held and inspected before a request is forwarded (with `block`); the rest streams.
    public var inspectBodyBytes = 1 << 20
    /// Request line plus headers; larger gets 431, as soon as the limit is passed.
    public var maxHeaderBytes = 32 << 10
    /// Request line; longer gets 414 at once (Apache's and nginx's limit is about 8 KiB too).
    public var maxRequestLineBytes = 8 << 10
    /// Requests read ahead of their responses on one connection; beyond it the proxy stops
    /// reading from the client until responses have gone out (a client that pipelines and never
    /// reads its responses holds this many, not millions).
    public var maxPipelinedRequests = 16
    /// A request body must arrive within this many seconds of its head, extended by one second
    /// for every `bodyMinimumRate` bytes received (Apache mod_reqtimeout's `body=20,MinRate=500`):
    /// a body trickling in a byte at a time cannot hold a connection forever.
    public var bodyTimeoutSeconds = 20.0
    public var bodyMinimumRate = 500
    /// Whole request body; larger gets 413.
    public var maxBodyBytes = 100 << 20
    /// A client must send a complete request head within this many seconds of being idle.
    public var headerTimeoutSeconds = 10.0
    /// A connection with no traffic either way for this long is closed.
    public var idleTimeoutSeconds = 60.0
    public var upstreamConnectTimeoutSeconds = 3.0
    /// Idle upstream connections kept per event loop.
    public var upstreamPoolSize = 64
    /// When detection itself fails (a regex engine limit): forward (true) or refuse with 503.
    public var failOpen = true
    /// Event loop threads; 0: two per core (see `defaultThreads`).
    public var threads = 0

    /// The proxy shares its machine with Apache and the backend (the deployment this mode is
    /// for), so its threads get preempted. With one loop per core, a preempted loop stalls all
    /// of its connections while the other core may sit idle; with two per core a busy core
    /// still leaves a runnable loop for the free one. On the 2-core benchmark at 64 connections
    /// this moved throughput from 0.54–0.77x to 0.73–0.90x of nginx's (1 and 16 connections:
    /// unchanged); eight loops was worse again.
    public static func defaultThreads(cores: Int) -> Int { max(2, cores * 2) }

    public init() {}
}
