import ArgumentParser
import Classifier
import Detection
import Foundation
import JSONOutput

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum DefaultPaths {
    static let model = "Dataset/diffai-model.bin"

    /// `Dataset/NAME` when a user put files there, else the shared copy beside the project.
    static func dataset(_ name: String) -> String {
        for candidate in ["Dataset/\(name)", "../shared/Dataset/\(name)"] where access(candidate, R_OK) == 0 {
            return candidate
        }
        return "Dataset/\(name)"
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the ML model on benign and malicious request targets (one per line).",
        discussion: "Prints metrics on a seeded 80/20 split and on generated benign traffic, then writes the model atomically."
    )

    @Option(help: "Benign targets (default: Dataset/goodqueries.txt, else ../shared/Dataset/goodqueries.txt).")
    var good: String?
    @Option(help: "Malicious targets (default: Dataset/badqueries.txt, else ../shared/Dataset/badqueries.txt).")
    var bad: String?
    @Option(help: "Where to write the model.")
    var out: String = DefaultPaths.model
    @Option(help: "Random seed (split, shuffling, generated data): the same seed gives the same model.")
    var seed: UInt64 = 42
    @Option(name: .customLong("max-iterations"), help: "L-BFGS iterations at most.")
    var maxIterations = 150
    @Option(name: .customLong("generated-benign"), help: "Generated benign parameterised requests added to training.")
    var generatedBenign = 20_000
    @Option(name: .customLong("audit-rules"), help: "Rule file whose incidents mark benign-file lines as mislabelled attacks, dropped from training (\"none\": keep every line).")
    var auditRules = "rules.json"

    func run() throws {
        let goodPath = good ?? DefaultPaths.dataset("goodqueries.txt")
        let badPath = bad ?? DefaultPaths.dataset("badqueries.txt")
        var options = TrainingOptions()
        options.seed = seed
        options.maxIterations = maxIterations
        options.generatedBenignForTraining = generatedBenign
        // A file given by name that does not open is the loader's error; missing defaults mean
        // the data was never put in place.
        for (path, given) in [(goodPath, good), (badPath, bad)] where given == nil && access(path, R_OK) != 0 {
            printError(TrainingData.missing)
            throw ExitCode(66)
        }
        if auditRules != "none" {
            if access(auditRules, R_OK) == 0 || auditRules != "rules.json" {
                options.benignAudit = Detector.benignAudit(rules: try RulesOption.load(path: auditRules))
            } else {
                printError("diffai: no rules.json here to check the benign file's labels with; training on every line (--audit-rules FILE)")
            }
        }
        let progress = ProgressPrinter()
        do {
            progress.line("reading \(goodPath) and \(badPath)")
            let goodLines = try Trainer.loadLines(path: goodPath)
            let badLines = try Trainer.loadLines(path: badPath)
            let (model, report) = try Trainer.train(good: goodLines, bad: badLines, options: options) { progress.update($0) }
            progress.finish()
            try ModelFile.save(model, to: out)
            print(TrainingSummary.text(report, goodPath: goodPath, badPath: badPath, out: out))
        } catch let error as TrainingError {
            progress.finish()
            printError("diffai: \(error.description)")
            throw ExitCode(65)
        } catch let error as ModelFile.LoadError {
            printError("diffai: \(error.description)")
            throw ExitCode(73)
        }
    }
}

/// Where the default training data comes from, for the commands and pages that need it.
enum TrainingData {
    static let missing = """
        diffai: no training data. The default model (Dataset/diffai-model.bin) was trained on the public \
        fwaf dataset's goodqueries.txt (benign request paths) and badqueries.txt (attacks) \
        (https://github.com/faizann24/Fwaf-Machine-Learning-driven-Web-Application-Firewall); the project does not ship them. \
        Put those two files (or your own: one request target per line) in Dataset/, or pass --good FILE --bad FILE.
        """
}

enum TrainingSummary {
    static func text(_ report: TrainingReport, goodPath: String, badPath: String, out: String) -> String {
        """
        data: \(report.goodLines) benign lines (\(goodPath)), \(report.badLines) malicious lines (\(badPath)); \
        \(report.inertDropped) lines with nothing the model judges (bare paths and words), \(report.mislabelledDropped) benign lines the rules flag, \
        \(report.duplicatesDropped) duplicates and \(report.conflictsDropped) lines found under both labels dropped
        trained on \(report.trainSamples) samples in \(report.iterations) L-BFGS iterations, \(String(Int(report.seconds * 10) / 10)).\(Int(report.seconds * 10) % 10) s
        threshold \(report.threshold)
        seeded 80/20 split (\(report.testSamples) held-out lines):
        \(report.split.description)
        generated benign parameterised requests (held out): false-positive rate \((report.generatedBenignFPR * 100).fixed(2)) %
        model written to \(out)
        """
    }
}

/// A progress bar on a terminal, plain lines otherwise (logs, pipes, CI).
final class ProgressPrinter {
    private let terminal = isatty(STDERR_FILENO) != 0
    private var lastLine = ""

    func line(_ text: String) {
        if terminal { printError("\r\u{1b}[K" + text) } else { printError(text) }
    }

    func update(_ progress: TrainingProgress) {
        let text: String
        switch progress {
        case .preparing(let what): text = what
        case .features(let done, let total): text = "features \(done)/\(total)"
        case .iteration(let i, let max, let loss):
            let width = 30, filled = min(width, i * width / max)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            text = terminal ? "training [\(bar)] iteration \(i)/\(max) loss \((loss * 100).fixed(2))e-2" : (i % 10 == 0 ? "training: iteration \(i), loss \((loss * 100).fixed(2))e-2" : "")
        case .evaluating: text = "evaluating"
        }
        guard !text.isEmpty, text != lastLine else { return }
        lastLine = text
        if terminal {
            var out = "\r\u{1b}[K" + text
            out.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
        } else {
            printError(text)
        }
    }

    func finish() {
        if terminal { printError("") }
    }
}

struct ModelOption: ParsableArguments {
    @Option(name: .customLong("model"), help: "Model file.")
    var path: String = DefaultPaths.model

    func load() throws -> URLClassifier {
        do {
            return try ModelFile.load(path: path)
        } catch {
            printError("diffai: \(error.description)")
            throw ExitCode(66)
        }
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "Metrics of a model on labelled files.")

    @Option(help: "Benign targets, one per line.")
    var good: String
    @Option(help: "Malicious targets, one per line.")
    var bad: String
    @OptionGroup var model: ModelOption
    @Option(help: "Decision threshold (default: the model's).")
    var threshold: Float?
    @Flag(help: "Print the metrics as JSON.")
    var json = false

    func run() throws {
        let classifier = try model.load()
        let goodLines: [[UInt8]], badLines: [[UInt8]]
        do {
            goodLines = try Trainer.loadLines(path: good)
            badLines = try Trainer.loadLines(path: bad)
        } catch {
            printError("diffai: \(error.description)")
            throw ExitCode(66)
        }
        if let threshold, !(threshold > 0 && threshold < 1) { throw ValidationError("--threshold is between 0 and 1 (exclusive)") }
        let t = threshold ?? classifier.threshold
        let metrics = Trainer.evaluate(classifier, good: goodLines, bad: badLines, threshold: t)
        if json {
            let encoded = try JSONEncoder().encode(Evaluation(threshold: t, metrics: metrics))
            print(String(decoding: encoded, as: UTF8.self))
        } else {
            print("\(model.path) on \(goodLines.count) benign and \(badLines.count) malicious lines, threshold \(t):")
            print(metrics.description)
        }
    }
}

/// `evaluate --json`: the threshold beside the metrics, in their one encoding.
struct Evaluation: Encodable {
    let threshold: Float
    let metrics: ClassificationMetrics

    enum CodingKeys: String, CodingKey { case threshold }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(threshold, forKey: .threshold)
        try metrics.encode(to: encoder)
    }
}

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Score request targets read from standard input, one per line.",
        discussion: "Writes one line per input line: 1 or 0, a tab, the probability of attack. Answers line by line."
    )

    @OptionGroup var model: ModelOption
    @Option(help: "Decision threshold (default: the model's).")
    var threshold: Float?

    func run() throws {
        let classifier = try model.load()
        if let threshold, !(threshold > 0 && threshold < 1) { throw ValidationError("--threshold is between 0 and 1 (exclusive)") }
        let t = threshold ?? classifier.threshold
        guard let input = fdopen(STDIN_FILENO, "rb") else { throw ExitCode(66) }
        let output = BufferedFileOutput(descriptor: STDOUT_FILENO)
        LineReader.forEachLine(in: input, maxBytes: Trainer.maxLineBytes) { bytes in
            let score = classifier.score(target: bytes)
            output.write("\(score >= t ? 1 : 0)\t\(ScoreText.format(score))\n")
            output.flush()
        }
    }
}

enum ScoreText {
    static func format(_ score: Float) -> String {
        // Scores are probabilities; anything else would be a defect, never a reason to trap.
        guard score.isFinite else { return "nan" }
        let scaled = Int((Double(score) * 10000).rounded())
        let fraction = String(scaled % 10000)
        return "\(scaled / 10000)." + String(repeating: "0", count: 4 - fraction.count) + fraction
    }
}

/// `--model`, `--no-ml`, `--ml-threshold` for the commands that detect.
struct MLOptions: ParsableArguments {
    @Option(name: .customLong("model"), help: "ML model file (default: Dataset/diffai-model.bin when present).")
    var path: String?
    @Flag(name: .customLong("no-ml"), help: "Rules only: do not use the ML model.")
    var disabled = false
    @Option(name: .customLong("ml-threshold"), help: "ML decision threshold (default: the model's, chosen for few false alarms).")
    var threshold: Float?

    /// The detector, nil with `--no-ml`. A model asked for by path must load; the default one
    /// may be missing (rules only, with a note saying how to train one).
    func load(incidentThreshold: Float? = nil) throws -> ModelDetector? {
        guard !disabled else { return nil }
        if let threshold, !(threshold > 0 && threshold < 1) { throw ValidationError("--ml-threshold is between 0 and 1 (exclusive)") }
        let path = self.path ?? DefaultPaths.model
        do {
            return ModelDetector(model: try ModelFile.load(path: path), threshold: threshold, incidentThreshold: incidentThreshold)
        } catch {
            if self.path != nil {
                printError("diffai: \(error.description)")
                throw ExitCode(66)
            }
            printError("diffai: note: \(error.description); detecting with rules only")
            return nil
        }
    }
}
