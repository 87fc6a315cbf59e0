import Classifier
import Foundation
import Hummingbird

/// A JSON answer of the console's API: a `Codable` value that Hummingbird's response encoder
/// writes, with its status and `Cache-Control: no-store` (answers describe a running sensor;
/// nothing should keep them).
struct JSONReply: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    let value: any Encodable & Sendable

    init(_ status: HTTPResponse.Status = .ok, _ value: any Encodable & Sendable) {
        self.status = status
        self.value = value
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> JSONReply {
        JSONReply(status, ErrorMessage(error: message))
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(value, from: request, context: context)
        response.status = status
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

/// Events on the live stream that are not alerts, encoded as the API's answers are.
enum ConsoleEvents {
    static func encoded(_ value: some Encodable) -> [UInt8] {
        (try? Array(JSONEncoder().encode(value))) ?? Array("{}".utf8)
    }
}

struct ErrorMessage: Codable, Sendable {
    let error: String
}

struct Done: Codable, Sendable {
    var ok = true
    let message: String
}

struct Failed: Codable, Sendable {
    var ok = false
    let error: String
}

struct RuleList: Codable, Sendable {
    struct Entry: Codable, Sendable {
        let id: Int
        let message: String
        let severity: String
        let action: String
        let category: String
        let enabled: Bool
    }

    let file: String
    let rules: [Entry]
}

/// The answer to a reload, and (with `type: "rules"`) the event the other pages receive.
struct RulesReloaded: Codable, Sendable {
    var type: String?
    var ok = true
    let rules: Int
    let message: String
}

struct DatasetList: Codable, Sendable {
    struct Entry: Codable, Sendable {
        let id: String
        let folder: String
        let name: String
        let bytes: Int64

        init(_ entry: DatasetCatalog.Entry) {
            id = entry.id
            folder = entry.folder
            name = entry.name
            bytes = entry.bytes
        }
    }

    let datasets: [Entry]
    let uploadFolder: String

    enum CodingKeys: String, CodingKey {
        case datasets
        case uploadFolder = "upload_folder"
    }
}

/// A training job as the Train page shows it.
struct TrainingJobJSON: Encodable, Sendable {
    let job: TrainingJobs.Job

    init(_ job: TrainingJobs.Job) { self.job = job }

    enum CodingKeys: String, CodingKey {
        case id, state, benign, malicious, progress, stage, started, finished, model, active, activation, error, metrics
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(job.id, forKey: .id)
        try container.encode(job.state.rawValue, forKey: .state)
        try container.encode(job.benign, forKey: .benign)
        try container.encode(job.malicious, forKey: .malicious)
        try container.encode(ClassificationMetrics.rounded(job.progress, places: 3), forKey: .progress)
        try container.encode(job.stage, forKey: .stage)
        try container.encode(Int64(job.started), forKey: .started)
        try container.encode(job.finished.map { Int64($0) }, forKey: .finished)
        try container.encode(job.modelPath, forKey: .model)
        try container.encode(job.active, forKey: .active)
        try container.encodeIfPresent(job.activationMessage, forKey: .activation)
        try container.encode(job.error, forKey: .error)
        try container.encode(job.report.map(ReportJSON.init), forKey: .metrics)
    }

    /// The split's metrics in their one encoding, with what the training saw beside them.
    struct ReportJSON: Encodable {
        let report: TrainingReport

        enum CodingKeys: String, CodingKey {
            case generatedBenignFPR = "generated_benign_fpr", benignLines = "benign_lines", maliciousLines = "malicious_lines"
            case inertDropped = "inert_dropped", mislabelledDropped = "mislabelled_dropped"
            case trainSamples = "train_samples", testSamples = "test_samples", iterations, seconds
        }

        func encode(to encoder: any Encoder) throws {
            try report.split.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(ClassificationMetrics.rounded(report.generatedBenignFPR), forKey: .generatedBenignFPR)
            try container.encode(report.goodLines, forKey: .benignLines)
            try container.encode(report.badLines, forKey: .maliciousLines)
            try container.encode(report.inertDropped, forKey: .inertDropped)
            try container.encode(report.mislabelledDropped, forKey: .mislabelledDropped)
            try container.encode(report.trainSamples, forKey: .trainSamples)
            try container.encode(report.testSamples, forKey: .testSamples)
            try container.encode(report.iterations, forKey: .iterations)
            try container.encode(ClassificationMetrics.rounded(report.seconds, places: 1), forKey: .seconds)
        }
    }
}

struct TrainingJobList: Encodable, Sendable {
    let jobs: [TrainingJobJSON]
}

/// `{"type": "training", "job": {...}}` on the live stream.
struct TrainingEvent: Encodable {
    var type = "training"
    let job: TrainingJobJSON
}

/// The first message on the live stream. `complete` is false when alerts the page missed are no
/// longer held: it should refetch the history.
struct Hello: Encodable {
    var type = "hello"
    let mode: String
    let seq: Int
    let complete: Bool
}
