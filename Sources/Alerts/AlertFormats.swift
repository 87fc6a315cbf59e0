import JSONOutput
import NetworkTypes

/// The three shapes an alert is written in. Every attacker-controlled byte is escaped so that
/// one alert is always exactly one line, whatever the request held.
public enum AlertFormat {
    /// `UNIXSECONDS - MESSAGE | key=value ...`: the original diffai line, so existing parsers keep
    /// working, with details after ` | `. Values never contain a space: bytes outside printable
    /// ASCII, the space and the backslash are written as `\xNN`.
    public static func alertLogLine(_ alert: Alert) -> [UInt8] {
        var line = Array("\(alert.timestamp.wholeSeconds) - ".utf8)
        appendEscaped(Array(alert.message.utf8), to: &line, keepSpaces: true)
        line += Array(" |".utf8)
        func field(_ key: String, _ value: [UInt8]) {
            line += Array(" \(key)=".utf8)
            appendEscaped(value, to: &line, keepSpaces: false)
        }
        field("src", Array(alert.source.description.utf8))
        field("dst", Array(alert.destination.description.utf8))
        field("method", alert.method)
        field("url", alert.url)
        field("rule", Array(String(alert.signatureID).utf8))
        field("severity", Array(alert.severity.rawValue.utf8))
        field("action", Array(alert.action.rawValue.utf8))
        field("source", Array(alert.verdictSource.rawValue.utf8))
        if let score = alert.score { field("score", Array(score.fixed(4).utf8)) }
        field("target", Array(alert.matchedTarget.utf8))
        if !alert.snippet.isEmpty { field("snippet", alert.snippet) }
        if let incident = alert.incidentID { field("incident", Array(incident.utf8)) }
        if let tls = alert.tls { field("tls_sni", Array((tls.serverName ?? "-").utf8)) }
        if !alert.matches.isEmpty {
            field("rules", Array(alert.matches.map { $0.source == .ml ? "ml" : String($0.signatureID) }.joined(separator: ",").utf8))
            field("anomaly_score", Array(String(alert.anomalyScore).utf8))
        }
        line.append(0x0A)
        return line
    }

    /// Bytes from the wire as one line of text: control bytes, non-ASCII and `\` as `\xNN`.
    public static func escapedText(_ bytes: [UInt8]) -> String {
        var line: [UInt8] = []
        appendEscaped(bytes, to: &line, keepSpaces: true)
        return String(decoding: line, as: UTF8.self)
    }

    static func appendEscaped(_ bytes: [UInt8], to line: inout [UInt8], keepSpaces: Bool) {
        let hex = ASCII.hexDigits
        for byte in bytes {
            if (byte > 0x20 && byte < 0x7F && byte != 0x5C) || (keepSpaces && byte == 0x20) {
                line.append(byte)
            } else {
                line += [0x5C, 0x78, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
    }

    /// Suricata EVE `alert` event (field names SIEM pipelines already parse); diffai's own
    /// fields sit under `diffai`.
    public static func eveLine(_ alert: Alert, sensor: String? = nil, captureFile: String? = nil) -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.key("timestamp"); json.string(eveTimestamp(alert.timestamp))
        json.key("flow_id"); json.number(alert.flowID)
        json.key("event_type"); json.string("alert")
        json.key("src_ip"); json.string(alert.source.address.description)
        json.key("src_port"); json.number(alert.source.port)
        json.key("dest_ip"); json.string(alert.destination.address.description)
        json.key("dest_port"); json.number(alert.destination.port)
        json.key("proto"); json.string("TCP")
        json.key("app_proto"); json.string("http")
        json.key("tx_id"); json.number(alert.transactionIndex)
        json.key("direction"); json.string("to_server")
        if let sensor { json.key("host"); json.string(sensor) }
        if let captureFile { json.key("pcap_filename"); json.string(captureFile) }
        json.key("alert")
        json.beginObject()
        json.key("action"); json.string(alert.action.rawValue)
        json.key("gid"); json.number(1)
        json.key("signature_id"); json.number(alert.signatureID)
        json.key("rev"); json.number(alert.revision)
        json.key("signature"); json.string(alert.message)
        json.key("category"); json.string(alert.category)
        json.key("severity"); json.number(alert.severity.eveSeverity)
        json.endObject()
        json.key("http")
        json.beginObject()
        if let host = alert.host { json.key("hostname"); json.string(host) }
        json.key("url"); json.string(alert.target)
        json.key("http_method"); json.string(alert.method)
        json.key("protocol"); json.string(alert.httpVersion)
        if let agent = alert.userAgent { json.key("http_user_agent"); json.string(agent) }
        if let type = alert.contentType { json.key("http_content_type"); json.string(type) }
        if let status = alert.status { json.key("status"); json.number(status) }
        if let length = alert.responseLength { json.key("length"); json.number(length) }
        json.endObject()
        if let tls = alert.tls {
            json.key("tls")
            json.beginObject()
            if let name = tls.serverName { json.key("sni"); json.string(name) }
            json.key("version"); json.string(tls.version)
            json.endObject()
        }
        json.key("diffai")
        json.beginObject()
        json.key("source"); json.string(alert.verdictSource.rawValue)
        // The anomaly score the evidence added up to; the model's own score apart.
        json.key("score"); json.number(alert.anomalyScore)
        if let score = alert.score { json.key("ml_score"); json.number(literal: score.fixed(4)) }
        json.key("target"); json.string(alert.matchedTarget)
        json.key("snippet"); json.string(alert.snippet)
        json.key("severity"); json.string(alert.severity.rawValue)
        json.key("anomalies")
        json.beginArray()
        for anomaly in alert.anomalies { json.string(anomaly) }
        json.endArray()
        if let incident = alert.incidentID { json.key("incident_id"); json.string(incident) }
        json.key("matches")
        json.beginArray()
        for match in alert.matches {
            json.beginObject()
            json.key("signature_id"); json.number(match.signatureID)
            json.key("rev"); json.number(match.revision)
            json.key("signature"); json.string(match.message)
            json.key("severity"); json.string(match.severity.rawValue)
            json.key("category"); json.string(match.category)
            json.key("source"); json.string(match.source.rawValue)
            json.key("points"); json.number(match.points)
            json.key("target"); json.string(match.target)
            json.key("snippet"); json.string(match.snippet)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.endObject()
        json.newline()
        return json.bytes
    }

    /// `2026-11-29T08:05:41.532140+0000`
    public static func eveTimestamp(_ time: Timestamp) -> String {
        let (year, month, day, hour, minute, second) = civil(time.wholeSeconds)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let micros = String(time.microsecondFraction)
        return "\(year)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))."
            + String(repeating: "0", count: 6 - micros.count) + micros + "+0000"
    }

    /// UTC calendar fields from Unix seconds (Howard Hinnant's days-from-civil, inverted).
    static func civil(_ seconds: Int64) -> (Int64, Int64, Int64, Int64, Int64, Int64) {
        var days = seconds / 86400
        var rest = seconds % 86400
        if rest < 0 { rest += 86400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, rest / 3600, rest % 3600 / 60, rest % 60)
    }

    /// One human-readable line for a terminal; control bytes are escaped so that a request
    /// cannot drive the analyst's terminal.
    public static func consoleLine(_ alert: Alert) -> String {
        var line: [UInt8] = []
        let time = eveTimestamp(alert.timestamp)
        line += Array("\(time.prefix(10)) \(time.dropFirst(11).prefix(15)) [\(alert.severity.rawValue)] ".utf8)
        line += Array("\(alert.verdictSource == .ml ? "ml" : String(alert.signatureID)) ".utf8)
        appendEscaped(Array(alert.message.utf8), to: &line, keepSpaces: true)
        line += Array(" | \(alert.source) -> \(alert.destination) ".utf8)
        appendEscaped(alert.method, to: &line, keepSpaces: false)
        line.append(0x20)
        appendEscaped(alert.url, to: &line, keepSpaces: false)
        if let status = alert.status { line += Array(" -> \(status)".utf8) }
        line += Array(" | \(alert.matchedTarget): ".utf8)
        appendEscaped(alert.snippet, to: &line, keepSpaces: true)
        if alert.matches.count > 1 {
            line += Array(" [+\(alert.matches.count - 1) more: \(alert.matches.dropFirst().map { $0.source == .ml ? "ml" : String($0.signatureID) }.joined(separator: ","))]".utf8)
        }
        if alert.anomalyScore > 0 { line += Array(" (anomaly score \(alert.anomalyScore))".utf8) }
        if let score = alert.score { line += Array(" (ML \(score.fixed(4)))".utf8) }
        if alert.action == .blocked { line += Array(" BLOCKED".utf8) }
        return String(decoding: line, as: UTF8.self)
    }
}
