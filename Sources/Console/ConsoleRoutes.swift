import Alerts
import Detection
import Dispatch
import Hummingbird
import HummingbirdWebSocket
import JSONOutput
import NetworkTypes
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every URL the console answers; the JSON shapes are documented in the README.
struct ConsoleRoutes: Sendable {
    let configuration: ConsoleConfiguration
    let hooks: ConsoleHooks
    let feed: ConsoleFeed
    let jobs: TrainingJobs
    let access: ConsoleAccess
    let assets: StaticAssets
    let started: Double

    typealias Context = BasicWebSocketRequestContext

    func register(on router: Router<Context>) {
        router.get("/api/stats") { _, _ in stats() }
        router.get("/api/alerts") { request, _ in await alerts(request) }
        router.get("/api/alerts/export") { request, _ in export(request) }
        router.get("/api/rules") { _, _ in rules() }
        router.post("/api/rules/reload") { _, _ in await reloadRules() }
        router.get("/api/datasets") { _, _ in datasets() }
        router.post("/api/datasets") { request, _ in try await upload(request) }
        router.get("/api/training") { _, _ in trainingJobs() }
        router.post("/api/training") { request, _ in try await startTraining(request) }
        router.get("/api/training/:id") { _, context in trainingJob(context.parameters.get("id", as: Int.self)) }
        router.post("/api/training/:id/activate") { _, context in await activate(context.parameters.get("id", as: Int.self)) }
        router.post("/api/login") { request, _ in try await login(request) }
        router.get("/login") { request, _ in loginLink(request) }
        router.ws("/ws") { inbound, outbound, context in
            try await stream(since: context.request.uri.queryParameters.get("since", as: Int.self), inbound: inbound, outbound: outbound)
        }
        for path in assets.assets.keys {
            router.get(RouterPath(path)) { _, _ in assets.response(path: path) ?? ConsoleJSON.error(.notFound, "not found") }
        }
    }

    // MARK: live stream

    func stream(since: Int?, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let subscription = feed.subscribe(since: since)
        defer { feed.unsubscribe(subscription.id) }
        let hello = Hello(mode: hooks.mode, seq: feed.lastSequence, complete: subscription.complete)
        try await outbound.writeTextMessage(String(decoding: ConsoleEvents.encoded(hello), as: UTF8.self))
        for event in subscription.missed {
            try await outbound.writeTextMessage(String(decoding: event.json, as: UTF8.self))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // The page sends nothing that matters; reading notices when it goes away.
                for try await _ in inbound {}
            }
            group.addTask {
                for await event in subscription.stream {
                    try await outbound.writeTextMessage(String(decoding: event.json, as: UTF8.self))
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    // MARK: history

    func query(_ request: Request) -> AlertQuery {
        let parameters = request.uri.queryParameters
        return AlertQuery(limit: parameters.get("limit", as: Int.self) ?? 50, before: parameters.get("before", as: Int64.self),
                          text: parameters.get("q"), severity: parameters.get("severity"), source: parameters.get("source"))
    }

    /// Read off the server's event loops (a search may read the whole history), by at most
    /// `HistoryReaders.concurrent` at once, each page within the history's time limit.
    ///
    /// The one answer not built from a Codable value: each alert is the EVE line as stored, put
    /// in as it is (decoding and re-encoding it would cost a page's worth of parsing and could
    /// only drift from what the SIEM reads).
    func alerts(_ request: Request) async -> Response {
        let history = configuration.history
        let query = query(request)
        let page = await HistoryReaders.shared.run { history.page(query) }
        var json = JSONWriter(capacity: 4096)
        json.beginObject()
        json.key("file"); json.string(page.file)
        json.key("partial"); json.bool(page.partial)
        json.key("skipped_lines"); json.number(page.skippedLines)
        json.key("alerts")
        json.beginArray()
        for alert in page.alerts {
            json.beginObject()
            json.key("offset"); json.number(alert.offset)
            json.key("alert"); json.embed(json: alert.eve)
            json.endObject()
        }
        json.endArray()
        json.key("next_before"); if let next = page.nextBefore { json.number(next) } else { json.null() }
        json.endObject()
        return ConsoleJSON.response(.ok, json.bytes)
    }

    /// Streamed a megabyte at a time, each piece read off the event loops.
    func export(_ request: Request) -> Response {
        let reader = configuration.history.export(query(request))
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        headers[.contentDisposition] = "attachment; filename=\"diffai-alerts.jsonl\""
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            if let reader {
                while let piece = await HistoryReaders.shared.run({ reader.next() }) {
                    try await writer.write(ByteBuffer(bytes: piece))
                }
            }
            try await writer.finish(nil)
        })
    }

    // MARK: statistics, rules

    /// The sensor's counters arrive as the JSON object the stream also carries (see
    /// `ConsoleFeed.publishStatistics`); they are put in as they are.
    func stats() -> Response {
        var json = JSONWriter()
        json.beginObject()
        json.key("mode"); json.string(hooks.mode)
        json.key("alerts_streamed"); json.number(feed.alertsPublished)
        json.key("seq"); json.number(feed.lastSequence)
        json.key("uptime_seconds"); json.number(Int(SystemClock.monotonicSeconds() - started))
        json.key("stats")
        if let latest = feed.latestStatistics { json.embed(json: latest) } else { json.null() }
        json.endObject()
        return ConsoleJSON.response(.ok, json.bytes)
    }

    func rules() -> JSONReply {
        JSONReply(.ok, RuleList(file: hooks.rulesFile, rules: hooks.rules().map {
            RuleList.Entry(id: $0.id, message: $0.message, severity: $0.severity, action: $0.action, category: $0.category, enabled: $0.enabled)
        }))
    }

    func reloadRules() async -> JSONReply {
        switch await hooks.reloadRules() {
        case .success(let count):
            // The answer, and the same fields typed for the pages listening on the stream.
            var answer = RulesReloaded(rules: count, message: "\(count) rules loaded from \(hooks.rulesFile)")
            answer.type = "rules"
            feed.publish(ConsoleEvents.encoded(answer))
            answer.type = nil
            return JSONReply(.ok, answer)
        case .failure(let failure):
            return JSONReply(.unprocessableContent, Failed(error: failure.description))
        }
    }

    // MARK: datasets and training

    func datasets() -> JSONReply {
        JSONReply(.ok, DatasetList(datasets: configuration.datasets.list().map(DatasetList.Entry.init),
                                   uploadFolder: configuration.datasets.uploadFolder.label))
    }

    /// `POST /api/datasets?name=FILE.txt` with the file as the body, streamed to disk.
    func upload(_ request: Request) async throws -> JSONReply {
        guard let requested = request.uri.queryParameters.get("name"), let name = DatasetCatalog.sanitizedUploadName(requested) else {
            return .error(.badRequest, "give the file name as ?name=NAME.txt")
        }
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > DatasetCatalog.maxUploadBytes {
            return .error(.contentTooLarge, "uploads are limited to \(DatasetCatalog.maxUploadBytes >> 20) MB")
        }
        let folder = configuration.datasets.uploadFolder.path
        TrainingJobs.makeFolder(folder)
        let partial = folder + "/.upload-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return .error(.internalServerError, "cannot write into \(folder): \(String(cString: strerror(errno)))") }
        var total: Int64 = 0
        var failed: String?
        do {
            for try await buffer in request.body {
                total += Int64(buffer.readableBytes)
                if total > DatasetCatalog.maxUploadBytes { failed = "uploads are limited to \(DatasetCatalog.maxUploadBytes >> 20) MB"; break }
                let written = buffer.withUnsafeReadableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written != buffer.readableBytes { failed = "cannot write the upload: \(String(cString: strerror(errno)))"; break }
            }
        } catch {
            failed = "the upload was interrupted"
        }
        close(fd)
        if let failed {
            unlink(partial)
            return .error(failed.hasPrefix("uploads are limited") ? .contentTooLarge : .badRequest, failed)
        }
        guard rename(partial, folder + "/" + name) == 0 else {
            unlink(partial)
            return .error(.internalServerError, "cannot store the upload: \(String(cString: strerror(errno)))")
        }
        guard let entry = configuration.datasets.entry(id: configuration.datasets.uploadFolder.label + "/" + name) else {
            return .error(.internalServerError, "the upload was stored but cannot be listed")
        }
        return JSONReply(.created, DatasetList.Entry(entry))
    }

    func trainingJobs() -> JSONReply {
        JSONReply(.ok, TrainingJobList(jobs: jobs.jobs.reversed().map(TrainingJobJSON.init)))
    }

    func trainingJob(_ id: Int?) -> JSONReply {
        guard let id, let job = jobs.job(id) else { return .error(.notFound, "no such training job") }
        return JSONReply(.ok, TrainingJobJSON(job))
    }

    /// `{"benign": DATASET-ID, "malicious": DATASET-ID}`: ids from /api/datasets only.
    func startTraining(_ request: Request) async throws -> JSONReply {
        guard let body = try await Self.jsonBody(request) else { return .error(.badRequest, "send JSON: {\"benign\": ID, \"malicious\": ID}") }
        guard let benignID = body["benign"]?.stringValue, let maliciousID = body["malicious"]?.stringValue else {
            return .error(.badRequest, "both \"benign\" and \"malicious\" dataset ids are needed (see /api/datasets)")
        }
        guard let benign = configuration.datasets.entry(id: benignID) else {
            return .error(.badRequest, "unknown dataset \"\(benignID)\": choose one listed by /api/datasets")
        }
        guard let malicious = configuration.datasets.entry(id: maliciousID) else {
            return .error(.badRequest, "unknown dataset \"\(maliciousID)\": choose one listed by /api/datasets")
        }
        do {
            let job = try jobs.start(benign: benign, malicious: malicious)
            return JSONReply(.accepted, TrainingJobJSON(job))
        } catch {
            guard case .busy(let running) = error else { return .error(.conflict, "busy") }
            return .error(.conflict, "training job \(running) is still running")
        }
    }

    func activate(_ id: Int?) async -> JSONReply {
        guard let id, let job = jobs.job(id) else { return .error(.notFound, "no such training job") }
        guard job.state == .succeeded else { return .error(.conflict, "job \(id) has not finished successfully") }
        switch await hooks.activateModel(job.modelPath) {
        case .success(let message):
            jobs.markActive(id, message: message)
            return JSONReply(.ok, Done(message: message))
        case .failure(let failure):
            return .error(.unprocessableContent, failure.description)
        }
    }

    // MARK: login

    func login(_ request: Request) async throws -> Response {
        guard let body = try await Self.jsonBody(request), let token = body["token"]?.stringValue, access.checkToken(token) else {
            return ConsoleJSON.error(.unauthorized, "wrong token (it is in keys/console-token on the sensor)")
        }
        var response = ConsoleJSON.response(.ok, ConsoleEvents.encoded(Done(message: "signed in")))
        response.headers[.setCookie] = "\(ConsoleAccess.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict"
        return response
    }

    /// The link printed on the terminal: sets the cookie, then shows the console.
    func loginLink(_ request: Request) -> Response {
        guard let token = request.uri.queryParameters.get("token"), access.checkToken(token) else {
            return ConsoleJSON.error(.unauthorized, "wrong token")
        }
        var headers = HTTPFields()
        headers[.location] = "/"
        headers[.setCookie] = "\(ConsoleAccess.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict"
        return Response(status: .seeOther, headers: headers)
    }

    static func jsonBody(_ request: Request) async throws -> JSONValue? {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: 64 * 1024) else { return nil }
        return try? JSONReader.parse(Array(buffer.readableBytesView))
    }
}

/// Where history reads run: threads of their own, never the server's event loops (which also
/// carry the live stream and /api/stats), and only a few at once so that many searches
/// queue up instead of taking every core.
final class HistoryReaders: Sendable {
    static let shared = HistoryReaders()
    static let concurrent = 2
    private let slots = DispatchSemaphore(value: HistoryReaders.concurrent)
    private let queue = DispatchQueue(label: "diffai.console.history", qos: .utility, attributes: .concurrent)

    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async {
                self.slots.wait()
                defer { self.slots.signal() }
                continuation.resume(returning: work())
            }
        }
    }
}
