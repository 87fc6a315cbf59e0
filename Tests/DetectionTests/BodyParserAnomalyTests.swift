@testable import Detection
import Foundation
import HTTP
import Testing
import TestSupport

/// Bodies the detection parser cannot read are anomalies the default rules see (9015-9018), as
/// ModSecurity's REQBODY_ERROR is, instead of silently being read some other way; well-formed
/// bodies of the same kinds raise nothing.
@Suite struct BodyParserAnomalyTests {
    let detector: Detector

    init() throws {
        detector = Detector(rules: try RuleSet(rules: RuleFile.load(path: TestPaths.packageRoot.appendingPathComponent("rules.json").path)))
    }

    func ruleIDs(contentType: String, body: String, encoding: String? = nil) -> Set<Int> {
        var headers = [("Host", "h"), ("Content-Type", contentType)]
        if let encoding { headers.append(("Content-Encoding", encoding)) }
        let request = HTTPRequest.synthesize(method: "POST", target: Array("/api".utf8), headers: headers, body: Array(body.utf8))!
        return Set(detector.evaluate(request).matches.map { $0.0.rule.id })
    }

    @Test func brokenJSONIsAnAnomaly() {
        #expect(ruleIDs(contentType: "application/json", body: #"{"user": "ann", "id": 1"#).contains(9015))
        #expect(ruleIDs(contentType: "application/json; charset=utf-8", body: "name=ann").contains(9015))
        #expect(!ruleIDs(contentType: "application/json", body: #"{"user": "ann", "id": 1}"#).contains(9015))
        // JSON sniffed by its first byte but not declared is read as a form, quietly.
        #expect(!ruleIDs(contentType: "text/plain", body: "[not json").contains(9015))
    }

    @Test func malformedMultipartIsAnAnomaly() {
        let good = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--XyZ--\r\n"
        #expect(!ruleIDs(contentType: "multipart/form-data; boundary=XyZ", body: good).contains(9016))
        #expect(ruleIDs(contentType: "multipart/form-data; boundary=XyZ", body: "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n").contains(9016),
                "no closing delimiter")
        #expect(ruleIDs(contentType: "multipart/form-data; boundary=Other", body: good).contains(9016), "the boundary is not in the body")
        #expect(ruleIDs(contentType: "multipart/form-data", body: good).contains(9016), "no boundary parameter")
        #expect(ruleIDs(contentType: "multipart/form-data; boundary=XyZ", body: "--XyZ\r\nhello\r\n--XyZ--\r\n").contains(9016), "a part without headers")
    }

    @Test func undecodableContentEncodingIsAnAnomaly() {
        #expect(ruleIDs(contentType: "application/x-www-form-urlencoded", body: "a=1", encoding: "gzip").contains(9017))
        #expect(ruleIDs(contentType: "application/x-www-form-urlencoded", body: "a=1", encoding: "br").contains(9017))
        #expect(!ruleIDs(contentType: "application/x-www-form-urlencoded", body: "a=1", encoding: "identity").contains(9017))
        #expect(!ruleIDs(contentType: "application/x-www-form-urlencoded", body: "a=1").contains(9017))
    }

    @Test func unreadableCharsetIsAnAnomaly() {
        for charset in ["utf-7", "UTF-16", "ibm037", "\"utf-32\""] {
            #expect(ruleIDs(contentType: "application/x-www-form-urlencoded; charset=\(charset)", body: "a=1").contains(9018), "\(charset)")
        }
        for charset in ["utf-8", "UTF-8", "iso-8859-1", "\"us-ascii\""] {
            #expect(!ruleIDs(contentType: "application/x-www-form-urlencoded; charset=\(charset)", body: "a=1").contains(9018), "\(charset)")
        }
    }
}

/// Content-Type and a multipart part's Content-Disposition read their `; name=value`
/// parameters one way (`HeaderParameters`).
@Suite struct HeaderParameterTests {
    func part(_ disposition: String, _ key: String) -> String? {
        RequestArguments.parameter(key, in: "Content-Disposition: \(disposition)\r\nContent-Type: text/plain\r\n\r\n")
    }

    @Test func multipartNamesKeepWhatIsQuotedAndLoseWhatIsAround() {
        #expect(part(#"form-data; name="comment""#, "name") == "comment")
        #expect(part(#"form-data; name=" a ""#, "name") == " a ", "inside the quotes stays as sent")
        #expect(part(#"form-data; NAME = "x" ; filename="shell.php""#, "name") == "x")
        #expect(part(#"form-data; name=plain"#, "name") == "plain")
        #expect(part(#"form-data; name="x"; filename="shell.php""#, "filename") == "shell.php")
        #expect(part(#"form-data; filename="shell.php;.jpg"; name="f""#, "filename") == "shell.php;.jpg", "a quoted ; is part of the value")
        #expect(part(#"form-data; filename="shell.php;.jpg"; name="f""#, "name") == "f")
        #expect(part(#"form-data; name="a\"; b""#, "name") == #"a\"; b"#, "an escaped quote does not end the string")
        #expect(part("form-data", "name") == nil)
        #expect(part(#"form-data; name="x""#, "filename") == nil)
    }

    @Test func contentTypeParametersAreReadTheSameWay() {
        #expect(ContentType(Array(#"text/plain; charset="UTF-8""#.utf8)).parameter("charset") == Array("utf-8".utf8))
        #expect(ContentType(Array(#"text/plain ; Charset = " utf-7 ""#.utf8)).parameter("charset") == Array("utf-7".utf8))
        #expect(ContentType(Array("application/json".utf8)).parameter("charset") == nil)
    }
}
