import Classifier
import Detection
import Foundation
import HTTP
import Testing
import TestSupport

/// Small labelled data shaped like the real files: bare benign paths, attacks with parameters.
func smallTrainingData() -> (good: [[UInt8]], bad: [[UInt8]]) {
    var good: [[UInt8]] = [], bad: [[UInt8]] = []
    let words = ["home", "about", "products", "blog", "contact", "images", "static", "news", "shop", "help"]
    let phrases = ["tom's", "it's fine", "\"quoted\"", "a/b", "50%", "q&a", "(note)", "rock'n'roll", "why?", "x+y"]
    for i in 0..<1500 {
        good.append(Array("/\(words[i % 10])/\(words[(i / 10) % 10])-\(i)/\(i % 3 == 0 ? "index.html" : "")".utf8))
        // Values with the punctuation of ordinary text: what the model judges on benign traffic.
        let phrase = phrases[i % 10].utf8.map { $0 == 0x20 ? "+" : String(format: "%%%02X", $0) }.joined()
        good.append(Array("/\(words[i % 10])?q=\(words[(i / 10) % 10])\(phrase)\(i)".utf8))
    }
    let attacks = ["/?id=1' or '1'='1", "/search?q=<script>alert(\(0))</script>", "/download?f=../../../../etc/passwd",
                   "/item?id=1 union select password from users--", "/ping?host=127.0.0.1;cat /etc/shadow",
                   "/page?x=<img src=x onerror=alert(1)>", "/a?b=${jndi:ldap://e/\(0)}", "/q?s=1 and sleep(5)--"]
    for i in 0..<800 {
        bad.append(Array((attacks[i % attacks.count].replacingOccurrences(of: "(0)", with: "(\(i))") + (i % 2 == 0 ? "" : "&n=\(i)")).utf8))
    }
    return (good, bad)
}

@Suite struct ClassifierTests {
    func quickOptions() -> TrainingOptions {
        var options = TrainingOptions()
        options.hashing = FeatureHashing(minN: 1, maxN: 3, bucketBits: 14)
        options.maxIterations = 40
        options.generatedBenignForTraining = 1000
        options.generatedBenignForValidation = 500
        return options
    }

    @Test func requestTextKeepsValuesNotParameterSyntax() {
        func text(_ target: String) -> String { String(decoding: RequestText.fromTarget(Array(target.utf8)), as: UTF8.self) }
        #expect(text("/index.php?q=O'Brien&page=2") == "/o'brien")
        #expect(text("/a?x=%2527%20OR%201%3D1&y") == "/' or 0=0")
        #expect(text("/p?s=%u003cscript%u003e+x") == "/<script> x")
        #expect(text("/cgi-bin/a.cgi;id?x=1") == "/a.cgi;id", "from the first segment with syntax on")
        #expect(text("/shop/img/../../etc/passwd") == "/../../etc/passwd")
        #expect(RequestText.fromTarget(Array(("/a?x='" + String(repeating: "a", count: 10_000)).utf8)).count == RequestText.maxLength)
    }

    /// Parts made of words, numbers, dates and addresses cannot carry code: the model does not
    /// judge them, so directory and file names that also occur in probe lists (`/scripts/`)
    /// cannot make it flag a site's assets.
    @Test func partsThatCannotCarryCodeAreLeftOut() {
        for inert in ["/scripts/app.js?v=6.4.2", "/search?q=script+writing+course&lang=ru", "/admin/login",
                      "/u?email=ana%40example.org&when=2024-05-01T10:00:00Z&n=1,5", "/caf%C3%A9/men%C3%BC", "/~bob/a+b", ""] {
            #expect(RequestText.fromTarget(Array(inert.utf8)).isEmpty, "\(inert)")
        }
        for carrying in ["/../../etc/passwd", "/a?f=../x", "/a?f=/etc/passwd", "/a?q=x%09y", "/a?q=1;id", "/a?q=1--", "/a?q=a'b", "/a?q=%253Cb%253E"] {
            #expect(!RequestText.fromTarget(Array(carrying.utf8)).isEmpty, "\(carrying)")
        }
        #expect(RequestText.fromValue(Array("running shoes".utf8)).isEmpty)
        #expect(RequestText.fromValue(Array("a+b".utf8)) == Array("/a+b".utf8), "a form-decoded body value: + is a plus")
    }

    @Test func trainingIsDeterministicAndLearns() throws {
        let data = smallTrainingData()
        let (first, report) = try Trainer.train(good: data.good, bad: data.bad, options: quickOptions())
        let (second, _) = try Trainer.train(good: data.good, bad: data.bad, options: quickOptions())
        #expect(ModelFile.encode(first) == ModelFile.encode(second), "the same seed must give the same model")
        #expect(report.split.accuracy > 0.97, "\(report.split.description)")
        #expect(report.testSamples > 50)
        #expect(first.score(target: Array("/search?q=<script>alert(99)</script>".utf8)) > first.threshold)
        #expect(first.score(target: Array("/blog/news-12/index.html".utf8)) < first.threshold)
        var options = quickOptions()
        options.seed = 7
        let (other, _) = try Trainer.train(good: data.good, bad: data.bad, options: options)
        #expect(ModelFile.encode(other) != ModelFile.encode(first))
    }

    @Test func progressIsReported() throws {
        let data = smallTrainingData()
        var iterations = 0, evaluating = false
        _ = try Trainer.train(good: data.good, bad: data.bad, options: quickOptions()) { event in
            switch event {
            case .iteration: iterations += 1
            case .evaluating: evaluating = true
            default: break
            }
        }
        #expect(iterations > 5)
        #expect(evaluating)
    }

    @Test func badTrainingInputIsExplained() throws {
        let data = smallTrainingData()
        #expect(throws: TrainingError.self) { try Trainer.train(good: [], bad: data.bad) }
        #expect(throws: TrainingError.self) { try Trainer.train(good: data.good, bad: []) }
        // All one class: the same lines in both files leave nothing to learn.
        do {
            _ = try Trainer.train(good: data.good, bad: data.good, options: quickOptions())
            Issue.record("training on one class must fail")
        } catch {
            #expect(error.description.contains("no attack line is left"))
        }
        #expect(throws: TrainingError.self) { try Trainer.loadLines(path: "/nonexistent/good.txt") }
    }

    @Test func linesAreBytesCappedAndStripped() throws {
        let directory = TestPaths.temporaryDirectory("lines")
        let path = directory.appendingPathComponent("mixed.txt").path
        var bytes: [UInt8] = Array("/crlf\r\n/lf\n\n/invalid-\u{FF}".utf8) + [0xC3, 0x28, 0xFF, 0x0A]
        bytes += [UInt8](repeating: 0x41, count: 100_000) + [0x0A]
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let lines = try Trainer.loadLines(path: path)
        #expect(lines.count == 4)
        #expect(lines[0] == Array("/crlf".utf8))
        #expect(lines[1] == Array("/lf".utf8))
        #expect(lines[2].suffix(3) == [0xC3, 0x28, 0xFF])
        #expect(lines[3].count == Trainer.maxLineBytes)
    }

    @Test func modelFilesRoundTripAndRejectDamage() throws {
        let data = smallTrainingData()
        let (model, _) = try Trainer.train(good: data.good, bad: data.bad, options: quickOptions())
        let directory = TestPaths.temporaryDirectory("model")
        let path = directory.appendingPathComponent("m.bin").path
        try ModelFile.save(model, to: path)
        let loaded = try ModelFile.load(path: path)
        let probe = Array("/x?q=<svg onload=alert(1)>".utf8)
        #expect(loaded.score(target: probe) == model.score(target: probe))
        #expect(loaded.threshold == model.threshold)

        var bytes = ModelFile.encode(model)
        bytes[bytes.count / 2] ^= 0xFF
        #expect(throws: ModelFile.LoadError.self) { try ModelFile.decode(bytes, path: "m.bin") }
        do { _ = try ModelFile.decode(bytes, path: "m.bin") } catch { #expect(error.description.contains("corrupt")) }
        var future = ModelFile.encode(model)
        future[8] = 9
        do { _ = try ModelFile.decode(future, path: "m.bin") } catch { #expect(error.description.contains("version 9")) }
        do { _ = try ModelFile.decode(Array(ModelFile.encode(model).prefix(100)), path: "m.bin") } catch { #expect(error.description.contains("m.bin")) }
        do { _ = try ModelFile.decode(Array("not a model".utf8), path: "m.bin") } catch { #expect(error.description.contains("not a diffai model")) }
        do { _ = try ModelFile.load(path: "/nonexistent/model.bin") } catch { #expect(error.description.contains("train one with `diffai train")) }
    }

    /// A checksum proves the file is whole, not that its numbers are usable: a NaN bias
    /// crashed `classify`, and -inf silently never flagged.
    @Test func modelNumbersMustBeFiniteAndBounded() throws {
        let data = smallTrainingData()
        let (model, _) = try Trainer.train(good: data.good, bad: data.bad, options: quickOptions())
        func variant(bias: Float? = nil, weight: Float? = nil, idf: Float? = nil) -> [UInt8] {
            var weights = model.weights, idfs = model.idf
            if let weight { weights[3] = weight }
            if let idf { idfs[5] = idf }
            return ModelFile.encode(URLClassifier(hashing: model.hashing, idf: idfs, weights: weights, bias: bias ?? model.bias,
                                                  threshold: model.threshold, info: model.info))
        }
        for bytes in [variant(bias: .nan), variant(bias: -.infinity), variant(bias: .infinity), variant(bias: 1e30)] {
            do {
                _ = try ModelFile.decode(bytes, path: "m.bin")
                Issue.record("a model with an unusable bias was accepted")
            } catch { #expect(error.description.contains("bias")) }
        }
        for bytes in [variant(weight: .nan), variant(weight: 3e38), variant(idf: -.infinity)] {
            #expect(throws: ModelFile.LoadError.self) { try ModelFile.decode(bytes, path: "m.bin") }
        }
        #expect((try? ModelFile.decode(variant(bias: -3), path: "m.bin")) != nil)
        // Through the command: a clear error, exit 66, never a trap.
        let path = TestPaths.temporaryDirectory("nan-model").appendingPathComponent("m.bin").path
        try Data(variant(bias: .nan)).write(to: URL(fileURLWithPath: path))
        let result = try run(TestPaths.diffaiBinary, ["classify", "--model", path], stdin: Data("/x?id=1\n".utf8))
        #expect(result.status != 0 && result.status < 128, "exit \(result.status)")
        #expect(result.stderr.contains("bias"))
    }

    @Test func defaultModelIsSmallLoadsAndSeparates() throws {
        let path = TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(size <= 10 << 20)
        let started = Date()
        let model = try ModelFile.load(path: path)
        #expect(Date().timeIntervalSince(started) < 2, "loading must be fast (debug build)")
        // Quotes in ordinary searches (phrases the generator does not contain verbatim) are not attacks.
        for benign in ["/index.php?q=madrid", "/list?page=2", "/search?q=how+to+cook+pasta", "/products?category=shoes&size=42",
                       "/search?q=tom%27s+diner&page=2", "/search?q=john%27s+pizza+menu", "/search?q=%22the+beatles%22+abbey+road"] {
            #expect(model.score(target: Array(benign.utf8)) < model.threshold, "\(benign)")
        }
        for attack in ["/?id=1' and sleep(5)--", "/search?q=<svg/onload=alert(1)>", "/page?file=....//....//etc/passwd",
                       "/x?q=1'%20OR%20'1'='1", "/login?user=admin'--", "/x?user=a'%20or%20'a'%3D'a", "/x?id=1'"] {
            #expect(model.score(target: Array(attack.utf8)) >= model.threshold, "\(attack)")
        }
    }

    /// The per-request score counts n-grams in a hash table; it must equal the weights times
    /// the TF-IDF vector, the definition the model was trained with.
    /// The console's training jobs and `evaluate --json` print metrics through this one
    /// encoding: the same names, ratios to five decimals, the confusion counts beside them.
    @Test func metricsHaveOneEncoding() throws {
        var metrics = ClassificationMetrics()
        metrics.truePositives = 2
        metrics.falsePositives = 1
        metrics.trueNegatives = 4
        let text = String(decoding: try JSONEncoder().encode(metrics), as: UTF8.self)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["accuracy", "precision", "recall", "f1", "false_positive_rate", "confusion"])
        #expect(text.contains("\"precision\":0.66667") && text.contains("\"accuracy\":0.85714"), "\(text)")
        #expect(object["confusion"] as? [String: Int] == ["true_positives": 2, "false_positives": 1, "true_negatives": 4, "false_negatives": 0])
    }

    @Test func fastScoreEqualsTheTFIDFDefinition() throws {
        let model = try ModelFile.load(path: TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path)
        #expect(model.score(text: []) == 0, "no part that can carry code: nothing to judge")
        var texts: [[UInt8]] = [[0x61], Array(repeating: 0x61, count: RequestText.maxLength), Array(0...255)]
        texts += ["/index.php/madrid/0", "/a/' or 0=0/y", "/p/<script> x", "/../../../../etc/passwd", "/x/${jndi:ldap://e/a}"].map { Array($0.utf8) }
        var random = SeededRandom(seed: TestSeed.value("fast score equals TF-IDF"))
        for _ in 0..<200 { texts.append((0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0x20...0x7E, using: &random) }) }
        for text in texts {
            let (indices, values) = model.features(text)
            var margin = model.bias
            for k in indices.indices { margin += model.weights[Int(indices[k])] * values[k] }
            let reference = 1 / (1 + exp(-margin))
            #expect(abs(model.score(text: text) - reference) < 1e-5, "\(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test func detectorScoresBodyArgumentsAndRaisesOneVerdict() throws {
        let model = try ModelFile.load(path: TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path)
        let detector = ModelDetector(model: model)
        let request = HTTPRequest.synthesize(method: "POST", target: Array("/comment".utf8),
                                             headers: [("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")],
                                             body: Array("name=alice&text=%3Cscript%3Ealert(1)%3C%2Fscript%3E&x=' or 1=1--".utf8))!
        let verdict = try #require(detector.evaluate(request))
        #expect(verdict.target.hasPrefix("arg:"))
        #expect(verdict.score >= detector.threshold)
        let benign = HTTPRequest.synthesize(method: "POST", target: Array("/comment".utf8),
                                            headers: [("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")],
                                            body: Array("name=alice&text=Great+article%2C+thanks%21".utf8))!
        #expect(detector.evaluate(benign) == nil)
    }

    /// Cookie values carry payloads as parameters do; session ids and tracking values do not
    /// make the model speak.
    @Test func detectorScoresCookieValues() throws {
        let model = try ModelFile.load(path: TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path)
        let detector = ModelDetector(model: model)
        func cookie(_ value: String) -> HTTPRequest {
            HTTPRequest.synthesize(target: Array("/account".utf8), headers: [("Host", "h"), ("Cookie", value)])!
        }
        let verdict = try #require(detector.evaluate(cookie("lang=en; id=1%27%20union%20select%20password%20from%20users--")))
        #expect(verdict.target == "cookie:id")
        #expect(detector.evaluate(cookie("_ga=GA1.2.1234567.1700000000; sid=9f86d081884c7d659a2feaa0c55ad015; theme=dark")) == nil)
    }
}

@Suite struct ModelCommandTests {
    /// A fresh clone has no training data: `train` says where the default data comes from.
    @Test func trainWithoutDataSaysWhereTheDataComesFrom() throws {
        let directory = TestPaths.temporaryDirectory("no-data")
        let result = try run("/bin/sh", ["-c", "cd '\(directory.path)' && exec '\(TestPaths.diffaiBinary)' train --out m.bin"])
        #expect(result.status == 66, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("goodqueries.txt") && result.stderr.contains("fwaf") && result.stderr.contains("Dataset/"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("m.bin").path))
    }

    @Test func classifyStreamsOneLinePerInput() throws {
        let input = "/index.html\n/?id=1' and sleep(5)--\n\n/list?page=2\n"
        let result = try run(TestPaths.diffaiBinary, ["classify", "--model", TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path],
                             stdin: Data(input.utf8))
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(lines.count == 4)
        #expect(lines.map { $0.prefix(1) } == ["0", "1", "0", "0"])
        #expect(lines.allSatisfy { $0.range(of: #"^[01]\t[01]\.\d{4}$"#, options: .regularExpression) != nil })
    }

    @Test func missingModelSaysHowToTrainOne() throws {
        let result = try run(TestPaths.diffaiBinary, ["classify", "--model", "/nonexistent/m.bin"], stdin: Data("/x\n".utf8))
        #expect(result.status == 66)
        #expect(result.stderr.contains("train one with `diffai train --out /nonexistent/m.bin`"))
    }

    @Test func trainAndEvaluateOnSmallFiles() throws {
        let data = smallTrainingData()
        let directory = TestPaths.temporaryDirectory("train")
        let good = directory.appendingPathComponent("good.txt"), bad = directory.appendingPathComponent("bad.txt")
        try Data(data.good.map { $0 + [0x0A] }.joined()).write(to: good)
        try Data(data.bad.map { $0 + [0x0D, 0x0A] }.joined()).write(to: bad)  // CRLF, like badqueries.txt
        let model = directory.appendingPathComponent("m.bin").path
        let train = try run(TestPaths.diffaiBinary, ["train", "--good", good.path, "--bad", bad.path, "--out", model,
                                                      "--max-iterations", "30", "--generated-benign", "500"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("seeded 80/20 split"))
        #expect(train.stdout.contains("false-positive rate"))
        #expect(train.stdout.contains("confusion matrix"))
        #expect(train.stderr.contains("training: iteration 10"))
        let evaluate = try run(TestPaths.diffaiBinary, ["evaluate", "--good", good.path, "--bad", bad.path, "--model", model, "--json"])
        #expect(evaluate.status == 0)
        let metrics = try JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as! [String: Any]
        // Each attack template is one distinct text to the model once digits fold and inert
        // parameters drop, so the two that read like prose (`union select password from users--`)
        // are outvoted by generated text about SQL: 6 of 8 templates are learnt from so little.
        #expect((metrics["accuracy"] as! Double) > 0.9)
        #expect((metrics["confusion"] as! [String: Int])["true_positives"]! >= 600)
        let empty = directory.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        let failed = try run(TestPaths.diffaiBinary, ["train", "--good", empty.path, "--bad", bad.path, "--out", model])
        #expect(failed.status == 65)
        #expect(failed.stderr.contains("the benign file is empty"))
    }

    @Test func replayRaisesOneMLAlertPerAttackRequest() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                                      "--model", TestPaths.packageRoot.appendingPathComponent("Dataset/diffai-model.bin").path,
                                                      "--json", "--no-summary", TestPaths.capture("http-attacks.pcap")])
        let ml = try result.stdout.split(separator: "\n").compactMap { line -> String? in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let diffai = object["diffai"] as! [String: Any]
            // The model's evidence sits among the incident's matches.
            let matches = diffai["matches"] as? [[String: Any]] ?? []
            guard let model = matches.first(where: { $0["source"] as? String == "ml" }) else { return nil }
            #expect((model["points"] as? Int ?? 0) > 0)
            #expect((diffai["ml_score"] as? Double ?? 0) > 0)
            return (object["http"] as! [String: Any])["url"] as? String
        }
        #expect(Set(ml).count == ml.count, "one incident per request")
        #expect(ml.contains("/comment") && ml.contains("/api/login"))
        for benign in ["/products?page=2&sort=price", "/search?q=caf%C3%A9+menu&lang=fr", "/about-us"] { #expect(!ml.contains(benign)) }
    }
}
