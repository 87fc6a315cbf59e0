import Detection
import JSONOutput
import NetworkTypes

/// Reads a line of alert.log (`UNIXSECONDS - MESSAGE | key=value ...`, values `\\xNN`-escaped)
/// back into the EVE shape, so View Logs shows one kind of record whichever file it reads.
public enum AlertLogLine {
    public static func eveJSON(_ line: ArraySlice<UInt8>) -> [UInt8]? {
        let bytes = Array(line)
        guard let dash = bytes.firstIndex(ofBytes: " - ".utf8), let seconds = Int64(String(decoding: bytes[0..<dash], as: UTF8.self)) else {
            return nil
        }
        let messageStart = dash + 3
        // Values never hold a space, so the details start at the last " | " followed by key=.
        guard let bar = bytes[messageStart...].firstIndex(ofBytes: " | src=".utf8) else { return nil }
        let message = unescape(bytes[messageStart..<bar])
        var fields: [String: [UInt8]] = [:]
        for token in bytes[(bar + 3)...].split(separator: 0x20) {
            guard let equals = token.firstIndex(of: 0x3D) else { continue }
            fields[String(decoding: token[token.startIndex..<equals], as: UTF8.self)] = unescape(token[(equals + 1)...])
        }
        func text(_ key: String) -> String? { fields[key].map { String(decoding: $0, as: UTF8.self) } }
        func endpoint(_ key: String) -> (String, Int)? {
            guard let value = text(key), let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]) else { return nil }
            var address = String(value[..<colon])
            if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
            return (address, port)
        }
        let severity = text("severity") ?? "medium"
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        json.key("timestamp"); json.string(AlertFormat.eveTimestamp(Timestamp(seconds: seconds, microseconds: 0)))
        json.key("event_type"); json.string("alert")
        if let (address, port) = endpoint("src") { json.key("src_ip"); json.string(address); json.key("src_port"); json.number(port) }
        if let (address, port) = endpoint("dst") { json.key("dest_ip"); json.string(address); json.key("dest_port"); json.number(port) }
        json.key("alert")
        json.beginObject()
        json.key("action"); json.string(text("action") ?? "allowed")
        json.key("signature_id"); json.number(Int(text("rule") ?? "") ?? 0)
        json.key("signature"); json.string(message)
        json.key("severity"); json.number(Severity(rawValue: severity)?.eveSeverity ?? 2)
        json.endObject()
        json.key("http")
        json.beginObject()
        if var url = fields["url"] {
            // `http://HOST/target`: split like EVE does.
            let scheme = Array("http://".utf8)
            if url.starts(with: scheme) {
                url.removeFirst(scheme.count)
                let slash = url.firstIndex(where: { $0 == 0x2F || $0 == 0x3F || $0 == 0x2A }) ?? url.endIndex
                if slash > 0 { json.key("hostname"); json.string(url[0..<slash]) }
                url = Array(url[slash...])
            }
            json.key("url"); json.string(url)
        }
        if let method = fields["method"] { json.key("http_method"); json.string(method) }
        json.endObject()
        json.key("diffai")
        json.beginObject()
        json.key("source"); json.string(text("source") ?? "rule")
        if let score = text("anomaly_score").flatMap({ Int($0) }) { json.key("score"); json.number(score) }
        // `score=` is the model's score (the name lines had before anomaly scores).
        if let score = text("score"), Double(score) != nil { json.key("ml_score"); json.number(literal: score) }
        if let target = fields["target"] { json.key("target"); json.string(target) }
        json.key("snippet"); json.string(fields["snippet"] ?? [])
        json.key("severity"); json.string(severity)
        if let incident = fields["incident"] { json.key("incident_id"); json.string(incident) }
        if let rules = text("rules") {
            // The line keeps only the ids; the lead's message is the line's own.
            json.key("matches")
            json.beginArray()
            for id in rules.split(separator: ",") {
                json.beginObject()
                if id == "ml" {
                    json.key("signature_id"); json.number(ModelDetector.signatureID)
                    json.key("source"); json.string("ml")
                } else {
                    json.key("signature_id"); json.number(Int(id) ?? 0)
                    json.key("source"); json.string("rule")
                }
                json.endObject()
            }
            json.endArray()
        }
        json.endObject()
        json.endObject()
        return json.bytes
    }


    /// `\\xNN` back to the byte.
    static func unescape(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == 0x5C, i + 3 < bytes.endIndex, bytes[i + 1] == 0x78,
               let high = ASCII.hexValue(bytes[i + 2]), let low = ASCII.hexValue(bytes[i + 3]) {
                out.append(high << 4 | low)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }
}
