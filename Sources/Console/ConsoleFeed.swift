import JSONOutput
import Synchronization

/// One message on the console's WebSocket, already encoded as a JSON object.
public struct ConsoleEvent: Sendable {
    /// Alerts are numbered so that a page that reconnects can ask for what it missed.
    public let sequence: Int
    public let json: [UInt8]
}

/// The live side of the console: alerts as they are raised, statistics, training progress.
///
/// Producers (the analysis thread, the training thread, the file tailer) publish without
/// waiting; each WebSocket client has its own bounded buffer, so a slow or stalled browser
/// loses its oldest messages instead of holding memory or the analysis thread.
public final class ConsoleFeed: Sendable {
    public static let retainedAlerts = 1000
    private static let clientBuffer = 2000

    private struct State {
        var recentAlerts: [ConsoleEvent] = []
        var nextSequence = 1
        var alertCount = 0
        var lastStats: [UInt8]?
        var subscribers: [Int: AsyncStream<ConsoleEvent>.Continuation] = [:]
        var nextSubscriber = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// An alert as its EVE line; the page renders the same shape as in View Logs.
    public func publishAlert(eveLine: [UInt8]) {
        state.withLock { state in
            let sequence = state.nextSequence
            state.nextSequence += 1
            state.alertCount += 1
            var json = JSONWriter(capacity: eveLine.count + 48)
            json.beginObject()
            json.key("type"); json.string("alert")
            json.key("seq"); json.number(sequence)
            json.key("alert"); json.embed(json: eveLine)
            json.endObject()
            let event = ConsoleEvent(sequence: sequence, json: json.bytes)
            state.recentAlerts.append(event)
            if state.recentAlerts.count > Self.retainedAlerts + Self.retainedAlerts / 4 {
                state.recentAlerts.removeFirst(state.recentAlerts.count - Self.retainedAlerts)
            }
            for continuation in state.subscribers.values { continuation.yield(event) }
        }
    }

    /// Any other message (training, rules): not numbered, not replayed.
    public func publish(_ json: [UInt8]) {
        state.withLock { state in
            let event = ConsoleEvent(sequence: 0, json: json)
            for continuation in state.subscribers.values { continuation.yield(event) }
        }
    }

    /// The sensor's counters as a JSON object; sent as `{"type":"stats","stats":{...}}`, and the
    /// latest is given to each page that connects.
    public func publishStatistics(_ object: [UInt8]) {
        let message = Self.statisticsMessage(object)
        state.withLock { state in
            state.lastStats = object
            let event = ConsoleEvent(sequence: 0, json: message)
            for continuation in state.subscribers.values { continuation.yield(event) }
        }
    }

    static func statisticsMessage(_ object: [UInt8]) -> [UInt8] {
        var json = JSONWriter(capacity: object.count + 32)
        json.beginObject()
        json.key("type"); json.string("stats")
        json.key("stats"); json.embed(json: object)
        json.endObject()
        return json.bytes
    }

    public var alertsPublished: Int { state.withLock { $0.alertCount } }
    public var lastSequence: Int { state.withLock { $0.nextSequence - 1 } }
    /// The latest statistics object (not the message around it).
    public var latestStatistics: [UInt8]? { state.withLock { $0.lastStats } }

    /// The alerts after `since` still held (and whether some were already dropped), then
    /// everything new. Both under one lock, so nothing falls between the two.
    public func subscribe(since: Int?) -> (missed: [ConsoleEvent], complete: Bool, stream: AsyncStream<ConsoleEvent>, id: Int) {
        let (stream, continuation) = AsyncStream<ConsoleEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.clientBuffer))
        return state.withLock { state in
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = continuation
            var missed: [ConsoleEvent] = []
            var complete = true
            if let since {
                missed = state.recentAlerts.filter { $0.sequence > since }
                let oldest = state.recentAlerts.first?.sequence ?? state.nextSequence
                complete = since + 1 >= oldest || since >= state.nextSequence - 1
            }
            if let stats = state.lastStats { missed.append(ConsoleEvent(sequence: 0, json: Self.statisticsMessage(stats))) }
            return (missed, complete, stream, id)
        }
    }

    public func unsubscribe(_ id: Int) {
        let continuation = state.withLock { $0.subscribers.removeValue(forKey: id) }
        continuation?.finish()
    }

    /// Ends every client stream (server shutdown).
    public func finishAll() {
        let all = state.withLock { state in
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for continuation in all { continuation.finish() }
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}
