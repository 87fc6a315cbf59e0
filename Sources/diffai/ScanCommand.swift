import Alerts
import ArgumentParser
import Classifier
import Detection
import HTTP
import JSONOutput

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Run detection on request targets (one per line) or on access-log lines.",
        discussion: """
        Prints one line per input line: 1 when the request is an incident (its anomaly score \
        reached the threshold) or 0, a tab, the ids of the matching rules (comma-separated), and \
        with the ML model a tab and its score. --explain adds, below each line, what produced the \
        verdict: each rule with its points, target and matched text, the model's score and points, \
        and the total against the threshold. Reads FILE, or standard input when no file is given; \
        answers line by line, so it works in a pipe.
        """
    )

    @OptionGroup var detectionOptions: DetectionOptions

    @Flag(name: .customLong("access-log"), help: "Input lines are Apache/nginx combined-format log lines.")
    var accessLog = false

    @Flag(help: "After each line, the rules and ML score that produced its verdict, with the matched text.")
    var explain = false

    @Argument(help: "Input file (default: standard input).")
    var file: String?

    func run() throws {
        let detector = try detectionOptions.makeDetector()
        // fdopen(0) rather than the `stdin` global, which Swift 6 treats as shared mutable state.
        guard let input = file.map({ fopen($0, "rb") }) ?? fdopen(STDIN_FILENO, "rb") else {
            printError("diffai: \(file ?? "-"): cannot open: \(String(cString: strerror(errno)))")
            throw ExitCode(66)
        }
        let output = BufferedFileOutput(descriptor: STDOUT_FILENO)
        let interactive = isatty(STDIN_FILENO) != 0 || file == nil
        // No length cap: a long target is inspected whole.
        LineReader.forEachLine(in: input) { bytes in
            let request: HTTPRequest?
            if accessLog {
                request = AccessLogLine(bytes).map { HTTPRequest.synthesize(method: $0.method, target: $0.target, headers: $0.headers) } ?? nil
            } else {
                request = HTTPRequest.synthesize(target: bytes)
            }
            // An empty line is no request: nothing to judge.
            let verdict = request.flatMap { bytes.isEmpty ? nil : detector.evaluate($0) } ?? Verdict()
            var text = (verdict.isIncident ? "1\t" : "0\t") + verdict.matches.map { String($0.match.rule.id) }.joined(separator: ",")
            if detector.model != nil { text += "\t" + ScoreText.format(verdict.model?.score ?? 0) }
            output.write(text + "\n")
            if explain { output.write(Self.explanation(verdict, scoring: detector.scoring)) }
            if interactive { output.flush() }
        }
        output.flush()
        if file != nil { fclose(input) }
    }

    /// `  rule 1001 (critical, +5) in args: 1' union select ...`, one line per piece of evidence.
    static func explanation(_ verdict: Verdict, scoring: AnomalyScoring) -> String {
        var lines = ""
        for (match, points) in verdict.matches {
            lines += "  rule \(match.rule.id) (\(match.rule.severity.rawValue), +\(points)) \(match.rule.message) in \(match.target): "
            lines += AlertFormat.escapedText(match.snippet) + "\n"
        }
        if let model = verdict.model {
            lines += "  model score \(ScoreText.format(model.score)) (+\(verdict.modelPoints)) in \(model.target): \(AlertFormat.escapedText(model.snippet))\n"
        }
        lines += "  anomaly score \(verdict.score) of \(scoring.threshold) at paranoia \(scoring.paranoiaLevel): "
        lines += verdict.isIncident ? (verdict.forcedByRule && verdict.score < scoring.threshold ? "incident (a blocking rule)" : "incident") : "not an incident"
        return lines + "\n"
    }
}

/// `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`, with Apache's `\"` escapes.
struct AccessLogLine {
    var method: String
    var target: [UInt8]
    var headers: [(String, String)]

    init?(_ line: [UInt8]) {
        var quoted: [[UInt8]] = []
        var i = 0
        while i < line.count {
            guard line[i] == 0x22 else { i += 1; continue }
            var field: [UInt8] = []
            i += 1
            while i < line.count, line[i] != 0x22 {
                if line[i] == 0x5C, i + 1 < line.count { field.append(line[i + 1]); i += 2; continue }
                field.append(line[i])
                i += 1
            }
            quoted.append(field)
            i += 1
        }
        guard let requestLine = quoted.first else { return nil }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return nil }
        method = String(decoding: parts[0], as: UTF8.self)
        // The target is everything between the method and the protocol (it may hold spaces).
        let end = parts.count >= 3 && parts.last!.starts(with: Array("HTTP/".utf8)) ? parts.count - 1 : parts.count
        target = Array(parts[1..<end].joined(separator: [0x20]))
        headers = [("Host", "localhost")]
        if quoted.count >= 3 { headers.append(("User-Agent", String(decoding: quoted[2], as: UTF8.self))) }
        if quoted.count >= 2, quoted[1] != [0x2D] { headers.append(("Referer", String(decoding: quoted[1], as: UTF8.self))) }
    }
}
