import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ClassificationMetrics: Sendable, Equatable {
    public var truePositives = 0, falsePositives = 0, trueNegatives = 0, falseNegatives = 0
    public init() {}

    public var total: Int { truePositives + falsePositives + trueNegatives + falseNegatives }
    public var accuracy: Double { ratio(truePositives + trueNegatives, total) }
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    public var f1: Double { precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0 }
    public var falsePositiveRate: Double { ratio(falsePositives, falsePositives + trueNegatives) }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }

    mutating func add(attack: Bool, flagged: Bool) {
        switch (attack, flagged) {
        case (true, true): truePositives += 1
        case (true, false): falseNegatives += 1
        case (false, true): falsePositives += 1
        case (false, false): trueNegatives += 1
        }
    }

    public var description: String {
        func pct(_ v: Double) -> String { String(Int((v * 10000).rounded())).withDecimal(2) + " %" }
        return """
        accuracy \(pct(accuracy)), precision \(pct(precision)), recall \(pct(recall)), F1 \(pct(f1)), false-positive rate \(pct(falsePositiveRate))
        confusion matrix (rows: actual, columns: predicted)
                      benign    attack
          benign  \(String(trueNegatives).padded(8))  \(String(falsePositives).padded(8))
          attack  \(String(falseNegatives).padded(8))  \(String(truePositives).padded(8))
        """
    }
}

public enum TrainingProgress: Sendable {
    case preparing(String)
    case features(done: Int, total: Int)
    case iteration(Int, of: Int, loss: Double)
    case evaluating
}

public struct TrainingOptions: Sendable {
    public var seed: UInt64 = 42
    public var hashing = FeatureHashing()
    /// L2 strength on the mean log-loss.
    public var l2 = 1e-6
    public var maxIterations = 150
    public var testFraction = 0.2
    /// Generated benign requests with parameters added to training (0 to disable).
    public var generatedBenignForTraining = 20_000
    /// Generated benign requests held out to measure false positives on parameterised traffic.
    public var generatedBenignForValidation = 10_000
    /// The default threshold keeps the false-positive rate on the held-out generated set at or below this.
    public var targetGeneratedFPR = 0.005
    /// Tells whether a line of the benign file is in fact an attack (the train commands pass the
    /// signature rules): such lines are dropped, since the benign file's label noise (remote
    /// inclusion probes, `|sleep` payloads) otherwise teaches the model that they are benign.
    public var benignAudit: (@Sendable ([UInt8]) -> Bool)? = nil
    public init() {}
}

public struct TrainingReport: Sendable {
    public var goodLines = 0, badLines = 0
    public var duplicatesDropped = 0, conflictsDropped = 0
    /// Lines with no part that can carry code (bare paths, plain words): never scored, so not trained on.
    public var inertDropped = 0
    /// Benign lines the audit (the rules) found to be attacks.
    public var mislabelledDropped = 0
    public var trainSamples = 0, testSamples = 0
    public var split = ClassificationMetrics()
    public var generatedBenignFPR = 0.0
    public var threshold: Float = 0.5
    public var iterations = 0
    public var seconds = 0.0
}

public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Trains the TF-IDF + logistic-regression model.
///
/// Solver: L-BFGS on the L2-regularised mean log-loss. The problem is smooth and convex, each
/// iteration is one pass over a sparse matrix (split over the cores, summed in a fixed order so
/// a seed always gives the same model), and it converges in ~100 passes without the step-size
/// tuning SGD needs or the bookkeeping of liblinear's dual coordinate descent.
public enum Trainer {
    public static let maxLineBytes = 4096

    /// Lines as bytes (any encoding), CR/LF stripped, empty lines skipped, long ones capped.
    public static func loadLines(path: String) throws(TrainingError) -> [[UInt8]] {
        guard let file = fopen(path, "rb") else {
            throw TrainingError(description: "\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        defer { fclose(file) }
        var lines: [[UInt8]] = []
        LineReader.forEachLine(in: file, maxBytes: maxLineBytes) { if !$0.isEmpty { lines.append($0) } }
        return lines
    }

    struct Matrix {
        var rowStart: [Int] = [0]
        var indices: [Int32] = []
        var values: [Float] = []
        var labels: [Double] = []   // +1 attack, -1 benign
        var rows: Int { labels.count }
    }

    public static func train(good: [[UInt8]], bad: [[UInt8]], options: TrainingOptions = .init(),
                             progress: (TrainingProgress) -> Void = { _ in }) throws(TrainingError) -> (URLClassifier, TrainingReport) {
        let started = DispatchTime.now().uptimeNanoseconds
        var report = TrainingReport()
        report.goodLines = good.count
        report.badLines = bad.count
        guard !good.isEmpty else { throw TrainingError(description: "no benign lines to train on: the benign file is empty") }
        guard !bad.isEmpty else { throw TrainingError(description: "no attack lines to train on: the malicious file is empty") }

        progress(.preparing("normalising and de-duplicating"))
        var goodTexts = Set<[UInt8]>(), badTexts = Set<[UInt8]>()
        var kept = 0
        var inertGood: [[UInt8]] = []
        for line in good {
            let text = RequestText.fromTarget(line)
            if text.isEmpty { report.inertDropped += 1; inertGood.append(line); continue }
            if let audit = options.benignAudit, audit(line) { report.mislabelledDropped += 1; continue }
            goodTexts.insert(text)
            kept += 1
        }
        for line in bad {
            let text = RequestText.fromTarget(line)
            if text.isEmpty { report.inertDropped += 1; continue }
            badTexts.insert(text)
            kept += 1
        }
        report.duplicatesDropped = kept - goodTexts.count - badTexts.count
        // The same text under both labels teaches nothing but noise.
        let conflicts = goodTexts.intersection(badTexts)
        report.conflictsDropped = conflicts.count * 2
        goodTexts.subtract(conflicts)
        badTexts.subtract(conflicts)
        guard !badTexts.isEmpty else {
            throw TrainingError(description: "no attack line is left to train on: the malicious file's lines are bare paths or words (nothing the model judges) or are all in the benign file too")
        }
        guard !goodTexts.isEmpty || options.generatedBenignForTraining > 0 else {
            throw TrainingError(description: "no benign line is left to train on: the benign file's lines are bare paths or words (nothing the model judges), flagged by the rules, or in the malicious file too")
        }

        var random = SplitMix(seed: options.seed)
        var goodList = goodTexts.sorted { $0.lexicographicallyPrecedes($1) }
        var badList = badTexts.sorted { $0.lexicographicallyPrecedes($1) }
        random.shuffle(&goodList)
        random.shuffle(&badList)
        let goodTest = Int(Double(goodList.count) * options.testFraction), badTest = Int(Double(badList.count) * options.testFraction)
        // The benign file's bare paths teach the model nothing themselves (it does not judge
        // them), but their words are the site's vocabulary: generated text uses them.
        let vocabulary = BenignRequestGenerator.vocabulary(of: inertGood)
        inertGood = []
        var generator = BenignRequestGenerator(seed: options.seed &+ 1, vocabulary: vocabulary)
        let generatedTrain = generator.targets(options.generatedBenignForTraining).map { RequestText.fromTarget($0) }.filter { !$0.isEmpty }
        var validationGenerator = BenignRequestGenerator(seed: options.seed &+ 1000, vocabulary: vocabulary)
        // All of them, inert ones included: the rate is per request, as a site sees it.
        let generatedValidation = validationGenerator.targets(options.generatedBenignForValidation).map { RequestText.fromTarget($0) }

        let trainTexts: [([UInt8], Double)] = goodList[goodTest...].map { ($0, -1.0) } + badList[badTest...].map { ($0, 1.0) }
            + generatedTrain.map { ($0, -1.0) }
        report.trainSamples = trainTexts.count
        report.testSamples = goodTest + badTest

        // Term frequencies, document frequencies, idf.
        let hashing = options.hashing
        var counted: [(indices: [Int32], counts: [Float])] = []
        counted.reserveCapacity(trainTexts.count)
        var documentFrequency = [Int32](repeating: 0, count: hashing.buckets)
        for (index, sample) in trainTexts.enumerated() {
            let c = hashing.counts(sample.0)
            for i in c.indices { documentFrequency[Int(i)] += 1 }
            counted.append(c)
            if index % 20_000 == 0 { progress(.features(done: index, total: trainTexts.count)) }
        }
        let n = Float(trainTexts.count)
        let idf = documentFrequency.map { logf((1 + n) / (1 + Float($0))) + 1 }

        var matrix = Matrix()
        matrix.indices.reserveCapacity(counted.reduce(0) { $0 + $1.indices.count })
        matrix.values.reserveCapacity(matrix.indices.capacity)
        for (k, c) in counted.enumerated() {
            var norm: Float = 0
            var row = [Float](repeating: 0, count: c.indices.count)
            for j in 0..<c.indices.count {
                row[j] = (1 + logf(c.counts[j])) * idf[Int(c.indices[j])]
                norm += row[j] * row[j]
            }
            let scale = norm > 0 ? 1 / norm.squareRoot() : 0
            matrix.indices += c.indices
            matrix.values += row.map { $0 * scale }
            matrix.rowStart.append(matrix.indices.count)
            matrix.labels.append(trainTexts[k].1)
        }
        counted = []
        progress(.features(done: trainTexts.count, total: trainTexts.count))

        let (weights, bias, iterations) = minimize(matrix, dimension: hashing.buckets, l2: options.l2, maxIterations: options.maxIterations, progress: progress)
        report.iterations = iterations

        progress(.evaluating)
        let provisional = URLClassifier(hashing: hashing, idf: idf, weights: weights.map(Float.init), bias: Float(bias), threshold: 0.5, info: "")
        // Threshold: at least 0.5, raised until the held-out generated benign traffic stays
        // under the target false-positive rate.
        let generatedScores = generatedValidation.map { provisional.score(text: $0) }.sorted()
        let quantileIndex = min(generatedScores.count - 1, Int(Double(generatedScores.count) * (1 - options.targetGeneratedFPR)))
        let threshold = min(0.99, max(0.5, generatedScores.isEmpty ? 0.5 : generatedScores[quantileIndex] + 1e-4))
        report.threshold = threshold
        report.generatedBenignFPR = Double(generatedScores.filter { $0 >= threshold }.count) / Double(max(1, generatedScores.count))
        for text in goodList[..<goodTest] { report.split.add(attack: false, flagged: provisional.score(text: text) >= threshold) }
        for text in badList[..<badTest] { report.split.add(attack: true, flagged: provisional.score(text: text) >= threshold) }
        report.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9

        let info = "trained on \(report.trainSamples) samples (seed \(options.seed)); split: \(report.split.description.split(separator: "\n")[0]); generated benign FPR \(String(Int((report.generatedBenignFPR * 10000).rounded())).withDecimal(2)) %"
        let model = URLClassifier(hashing: hashing, idf: idf, weights: weights.map(Float.init), bias: Float(bias), threshold: threshold, info: info)
        return (model, report)
    }

    /// Metrics of a model on labelled lines.
    public static func evaluate(_ model: URLClassifier, good: [[UInt8]], bad: [[UInt8]], threshold: Float? = nil) -> ClassificationMetrics {
        let t = threshold ?? model.threshold
        var metrics = ClassificationMetrics()
        for line in good { metrics.add(attack: false, flagged: model.score(target: line) >= t) }
        for line in bad { metrics.add(attack: true, flagged: model.score(target: line) >= t) }
        return metrics
    }

    // MARK: - L-BFGS

    /// Mean logistic loss + l2/2 |w|² and its gradient; the last coordinate is the bias (not regularised).
    static func lossAndGradient(_ m: Matrix, _ x: [Double], l2: Double, gradient: inout [Double]) -> Double {
        let dimension = x.count - 1
        let parts = 2
        let chunk = (m.rows + parts - 1) / parts
        let results = PartialResults(parts: parts)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            var g = [Double](repeating: 0, count: dimension + 1)
            var loss = 0.0
            let bias = x[dimension]
            m.indices.withUnsafeBufferPointer { idx in
                m.values.withUnsafeBufferPointer { val in
                    x.withUnsafeBufferPointer { w in
                        for row in (part * chunk)..<min(m.rows, (part + 1) * chunk) {
                            var margin = bias
                            for k in m.rowStart[row]..<m.rowStart[row + 1] { margin += w[Int(idx[k])] * Double(val[k]) }
                            let y = m.labels[row]
                            let z = -y * margin
                            loss += z > 30 ? z : log1p(exp(z))
                            let coefficient = -y / (1 + exp(-z))   // d loss / d margin
                            for k in m.rowStart[row]..<m.rowStart[row + 1] { g[Int(idx[k])] += coefficient * Double(val[k]) }
                            g[dimension] += coefficient
                        }
                    }
                }
            }
            results.store(part, gradient: g, loss: loss)
        }
        let partialGradients = results.gradients, partialLoss = results.losses
        let scale = 1 / Double(m.rows)
        var loss = 0.0
        for part in 0..<parts { loss += partialLoss[part] }   // fixed order: deterministic
        loss *= scale
        for i in 0..<dimension {
            gradient[i] = (partialGradients[0][i] + partialGradients[1][i]) * scale + l2 * x[i]
            loss += 0.5 * l2 * x[i] * x[i]
        }
        gradient[dimension] = (partialGradients[0][dimension] + partialGradients[1][dimension]) * scale
        return loss
    }

    static func minimize(_ m: Matrix, dimension: Int, l2: Double, maxIterations: Int,
                         progress: (TrainingProgress) -> Void) -> ([Double], Double, Int) {
        let size = dimension + 1
        var x = [Double](repeating: 0, count: size)
        var g = [Double](repeating: 0, count: size)
        var f = lossAndGradient(m, x, l2: l2, gradient: &g)
        let memory = 8
        var sList: [[Double]] = [], yList: [[Double]] = [], rhoList: [Double] = []
        var iteration = 0
        func dot(_ a: [Double], _ b: [Double]) -> Double {
            var s = 0.0
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in for i in 0..<a.count { s += a[i] * b[i] } } }
            return s
        }
        while iteration < maxIterations {
            iteration += 1
            // Two-loop recursion: d = -H g.
            var q = g
            var alphas = [Double](repeating: 0, count: sList.count)
            for i in stride(from: sList.count - 1, through: 0, by: -1) {
                alphas[i] = rhoList[i] * dot(sList[i], q)
                for j in 0..<size { q[j] -= alphas[i] * yList[i][j] }
            }
            if let lastS = sList.last, let lastY = yList.last {
                let gamma = dot(lastS, lastY) / dot(lastY, lastY)
                for j in 0..<size { q[j] *= gamma }
            } else {
                let norm = dot(g, g).squareRoot()
                if norm > 0 { for j in 0..<size { q[j] /= norm } }
            }
            for i in 0..<sList.count {
                let beta = rhoList[i] * dot(yList[i], q)
                for j in 0..<size { q[j] += sList[i][j] * (alphas[i] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 {
                // Not a descent direction (numerical trouble): restart from steepest descent.
                sList = []; yList = []; rhoList = []
                direction = g.map { -$0 }
                slope = dot(g, direction)
            }
            // Backtracking line search (Armijo).
            var step = 1.0
            var newX = x, newG = g
            var newF = f
            for _ in 0..<30 {
                for j in 0..<size { newX[j] = x[j] + step * direction[j] }
                newF = lossAndGradient(m, newX, l2: l2, gradient: &newG)
                if newF <= f + 1e-4 * step * slope { break }
                step *= 0.5
            }
            let s = zip(newX, x).map { $0 - $1 }
            let y = zip(newG, g).map { $0 - $1 }
            let sy = dot(s, y)
            if sy > 1e-12 {
                sList.append(s); yList.append(y); rhoList.append(1 / sy)
                if sList.count > memory { sList.removeFirst(); yList.removeFirst(); rhoList.removeFirst() }
            }
            let improvement = (f - newF) / max(1, abs(f))
            x = newX; g = newG; f = newF
            progress(.iteration(iteration, of: maxIterations, loss: f))
            if improvement >= 0 && improvement < 1e-7 { break }
        }
        return (Array(x[0..<dimension]), x[dimension], iteration)
    }
}

/// One slot per worker; each worker writes only its own slot, read after all have finished.
final class PartialResults: @unchecked Sendable {
    private let gradientSlots: UnsafeMutablePointer<[Double]>
    private let lossSlots: UnsafeMutablePointer<Double>
    let parts: Int

    init(parts: Int) {
        self.parts = parts
        gradientSlots = .allocate(capacity: parts)
        gradientSlots.initialize(repeating: [], count: parts)
        lossSlots = .allocate(capacity: parts)
        lossSlots.initialize(repeating: 0, count: parts)
    }

    deinit {
        gradientSlots.deinitialize(count: parts)
        gradientSlots.deallocate()
        lossSlots.deallocate()
    }

    func store(_ part: Int, gradient: [Double], loss: Double) {
        gradientSlots[part] = gradient
        lossSlots[part] = loss
    }

    var gradients: [[Double]] { (0..<parts).map { gradientSlots[$0] } }
    var losses: [Double] { (0..<parts).map { lossSlots[$0] } }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Fisher–Yates with this generator: the same seed gives the same order everywhere.
    mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            array.swapAt(i, j)
        }
    }
}

extension String {
    func withDecimal(_ places: Int) -> String {
        let padded = count <= places ? String(repeating: "0", count: places - count + 1) + self : self
        return String(padded.dropLast(places)) + "." + String(padded.suffix(places))
    }

    func padded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
