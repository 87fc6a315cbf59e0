import Detection
import HTTP
import JSONOutput

/// Where alerts go: any of alert.log, an EVE file, EVE or readable lines on stdout, and
/// in-process listeners (the console stream).
public final class AlertOutputs {
    public var alertLog: AlertFile?
    public var eveFile: AlertFile?
    /// EVE lines on stdout (`--json`) instead of readable ones.
    public var eveToStandardOutput = false
    public var standardOutput: BufferedFileOutput?
    public var listeners: [(Alert) -> Void] = []
    public var sensorName: String?
    public private(set) var emitted = 0

    public init() {}

    public func emit(_ alert: Alert) {
        emitted += 1
        alertLog?.append(AlertFormat.alertLogLine(alert))
        let wantsEVE = eveFile != nil || (standardOutput != nil && eveToStandardOutput)
        let eve = wantsEVE ? AlertFormat.eveLine(alert, sensor: sensorName) : []
        eveFile?.append(eve)
        if let standardOutput {
            if eveToStandardOutput {
                standardOutput.write(eve)
            } else {
                standardOutput.write(AlertFormat.consoleLine(alert))
                standardOutput.write([0x0A])
            }
        }
        for listener in listeners { listener(alert) }
    }

    /// Alert lines an output could not write (disk full, closed pipe), per output that lost
    /// any; standard output counts as one loss when its writes failed (it is buffered, so
    /// which alerts were in the lost bytes is not known).
    public var losses: [(output: String, alerts: Int)] {
        var found: [(String, Int)] = []
        for file in [alertLog, eveFile].compactMap({ $0 }) where file.linesLost > 0 { found.append((file.path, file.linesLost)) }
        if let standardOutput, standardOutput.failed { found.append(("standard output", 1)) }
        return found
    }

    /// The alerts that did not reach at least one of their outputs.
    public var alertsNotWritten: Int { losses.map(\.alerts).max() ?? 0 }

    /// One line for the end of a run, nil when nothing was lost.
    public var lossReport: String? {
        let found = losses
        guard !found.isEmpty else { return nil }
        return "alerts were not written: " + found.map { "\($0.output): \($0.alerts)" }.joined(separator: ", ")
    }

    /// Log rotation: reopen every file by name.
    public func reopen() {
        alertLog?.reopen()
        eveFile?.reopen()
    }

    public func flush() {
        standardOutput?.flush()
    }
}

extension Alert {
    /// The alert for an incident: its lead names it, every match is listed.
    public init(transaction: HTTPTransaction, verdict: Verdict, action: AlertAction = .allowed) {
        var evidence: [AlertMatch] = verdict.matches.map { entry in
            let rule = entry.match.rule
            return AlertMatch(signatureID: rule.id, revision: rule.rev, message: rule.message, severity: rule.severity,
                              category: rule.category, source: .rule, points: entry.points, target: entry.match.target,
                              snippet: entry.match.snippet)
        }
        if let model = verdict.model, verdict.modelPoints > 0 { evidence.append(Self.modelMatch(model, points: verdict.modelPoints)) }
        let lead: AlertMatch
        switch verdict.lead {
        case .rule(let match)?: lead = evidence.first { $0.source == .rule && $0.signatureID == match.rule.id } ?? evidence[0]
        case .model(let model)?: lead = evidence.last ?? Self.modelMatch(model, points: verdict.modelPoints)
        case nil: lead = evidence.first ?? AlertMatch(signatureID: 0, revision: 1, message: "incident", severity: .low, category: "",
                                                       source: .rule, points: 0, target: "", snippet: [])
        }
        self.init(transaction: transaction, signatureID: lead.signatureID, revision: lead.revision, message: lead.message,
                  severity: lead.severity, category: lead.category, source: lead.source,
                  score: verdict.model.map { Double($0.score) }, matchedTarget: lead.target, snippet: lead.snippet, action: action)
        matches = [lead] + evidence.filter { $0 != lead }
        anomalyScore = verdict.score
    }

    static func modelMatch(_ model: ModelVerdict, points: Int) -> AlertMatch {
        AlertMatch(signatureID: ModelDetector.signatureID, revision: 1, message: "ML: request looks like an attack",
                   severity: points >= AnomalyScoring.points(for: .critical) ? .high : points >= AnomalyScoring.points(for: .high) ? .medium : .low,
                   category: "Web Application Attack", source: .ml, points: points, target: model.target, snippet: model.snippet)
    }

    /// A request refused for its framing or syntax (the inline proxy's 400/413/431): the
    /// parser's anomalies name what was wrong.
    public init(transaction: HTTPTransaction, protocolViolation message: String, signatureID: Int, action: AlertAction) {
        let snippet = Array(transaction.request.anomalies.names.joined(separator: ",").utf8)
        self.init(transaction: transaction, signatureID: signatureID, revision: 1, message: message, severity: .medium,
                  category: "Potentially Bad Traffic", source: .rule, score: nil, matchedTarget: "protocol",
                  snippet: snippet, action: action)
        matches = [AlertMatch(signatureID: signatureID, revision: 1, message: message, severity: .medium, category: "Potentially Bad Traffic",
                              source: .rule, points: 0, target: "protocol", snippet: snippet)]
    }

    init(transaction: HTTPTransaction, signatureID: Int, revision: Int, message: String, severity: Severity, category: String,
         source: VerdictSource, score: Double?, matchedTarget: String, snippet: [UInt8], action: AlertAction) {
        let request = transaction.request
        let head = request.head
        self.init(
            timestamp: request.endTime, flowID: transaction.connection.id, transactionIndex: transaction.index,
            source: transaction.client, destination: transaction.server,
            method: Array(request.methodBytes), host: head.valueBytes(named: "host").first, target: Array(request.targetBytes),
            userAgent: head.valueBytes(named: "user-agent").first, contentType: head.valueBytes(named: "content-type").first,
            httpVersion: request.version.description, status: transaction.status,
            responseLength: transaction.response?.bodyLength, signatureID: signatureID, revision: revision,
            message: message, severity: severity, category: category,
            verdictSource: source, score: score, matchedTarget: matchedTarget, snippet: snippet, action: action,
            anomalies: request.anomalies.names)
        tls = transaction.connection.tls
    }
}
