import Detection
import Foundation
import HTTP
import NetworkTypes
import Testing
import TestSupport

/// Tuning exclusions in rules.json (what a CRS user writes as a rule exclusion): a rule is
/// taken out for a path prefix, a host or a client network, or kept from named parameters, and
/// nothing else changes: other requests, other rules and other parameters are judged as before.
@Suite struct RuleExclusionTests {
    static let rules = #"""
    [
      {"id": 100, "alert": "evil word", "conditions": [{"target": "uri|args|body", "operator": "contains", "value": "evil"}]},
      {"id": 200, "alert": "bad word", "conditions": [{"target": "args", "operator": "contains", "value": "bad"}]},
      {"exclusion": "the editor posts any text", "rules": [100], "path_prefix": "/admin/editor"},
      {"exclusion": "the intranet host", "rules": ["100-199"], "host": "intra.example"},
      {"exclusion": "the scanner of our own team", "rules": [100, 200], "client": "10.1.0.0/16"},
      {"exclusion": "free text in comments", "rules": [100], "parameters": ["comment"]}
    ]
    """#

    let detector: Detector
    init() throws {
        detector = Detector(rules: try RuleSet(rules: RuleFile.parse(Array(Self.rules.utf8), fileName: "rules.json")))
    }

    func ids(_ target: String, host: String = "shop.example", body: String? = nil, client: String? = nil) -> [Int] {
        let request = HTTPRequest.synthesize(method: body == nil ? "GET" : "POST", target: Array(target.utf8),
                                             headers: [("Host", host)] + (body == nil ? [] : [("Content-Type", "application/x-www-form-urlencoded")]),
                                             body: Array((body ?? "").utf8))!
        return detector.evaluate(request, client: client.flatMap(IPAddress.init)).matches.map { $0.0.rule.id }
    }

    @Test func pathPrefixExcludesOnTheNormalisedPath() {
        #expect(ids("/shop?q=evil") == [100])
        #expect(ids("/admin/editor/save?q=evil").isEmpty)
        #expect(ids("/admin/editor?q=evil&x=bad") == [200], "only the rule named")
        // The server resolves these to paths outside the prefix: no exclusion.
        #expect(ids("/admin/editor/../../shop?q=evil") == [100])
        #expect(ids("/admin/editor/%2e%2e/%2e%2e/shop?q=evil") == [100])
        #expect(ids("//admin//editor/./x?q=evil").isEmpty, "collapsed slashes and dot segments are the same path")
        #expect(ids("http://shop.example/admin/editor/x?q=evil").isEmpty, "absolute form")
    }

    @Test func hostAndRangeExclude() {
        #expect(ids("/a?q=evil", host: "intra.example").isEmpty)
        #expect(ids("/a?q=evil", host: "INTRA.example:8443").isEmpty, "case and port do not matter")
        #expect(ids("/a?q=evil", host: "intra.example.attacker.tld") == [100], "exact names, no suffixes")
        #expect(ids("/a?q=evil&x=bad", host: "intra.example") == [200], "200 is outside 100-199")
    }

    @Test func clientNetworkExcludes() {
        #expect(ids("/a?q=evil&x=bad", client: "10.1.200.7").isEmpty)
        #expect(ids("/a?q=evil&x=bad", client: "10.2.0.1") == [100, 200])
        #expect(ids("/a?q=evil&x=bad") == [100, 200], "no client address: a network condition never holds")
        let network = IPNetwork("2001:db8:abcd::/48")!
        #expect(network.contains(IPAddress("2001:db8:abcd:12::1")!))
        #expect(!network.contains(IPAddress("2001:db8:abce::1")!))
        #expect(!network.contains(IPAddress("10.1.0.1")!))
        #expect(IPNetwork("0.0.0.0/0")!.contains(IPAddress("192.0.2.1")!))
        #expect(IPNetwork("10.0.0.0/33") == nil && IPNetwork("nonsense") == nil)
    }

    @Test func parameterExclusionKeepsTheRuleFromThoseParametersOnly() {
        #expect(ids("/post", body: "comment=evil+twin&title=hello").isEmpty)
        #expect(ids("/post?comment=evil").isEmpty, "in the query string, which the rule also reads as part of the URI")
        let both = detector.evaluate(HTTPRequest.synthesize(method: "POST", target: Array("/post".utf8),
                                                            headers: [("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")],
                                                            body: Array("comment=evil&title=evil".utf8))!)
        #expect(both.matches.map { $0.0.rule.id } == [100], "another parameter still counts")
        #expect(ids("/evil/post", body: "comment=evil") == [100], "and so does the path")
    }

    /// `rules check` lists each exclusion with the rules it names.
    @Test func rulesCheckListsExclusions() throws {
        let path = TestPaths.temporaryDirectory("exclusions").appendingPathComponent("rules.json")
        try Data(Self.rules.utf8).write(to: path)
        let result = try run(TestPaths.diffaiBinary, ["rules", "check", path.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("exclusion \"the scanner of our own team\": 2 rules (100-200)"))
        #expect(result.stdout.contains("exclusion \"the editor posts any text\": rule 100"))
    }

    @Test func badExclusionsAreExplained() {
        func error(_ entry: String) -> String {
            let file = #"[{"id": 100, "alert": "x", "conditions": [{"target": "uri", "operator": "contains", "value": "x"}]}, "# + entry + "]"
            do {
                _ = try RuleFile.parse(Array(file.utf8), fileName: "r.json")
                return ""
            } catch {
                return error.description
            }
        }
        #expect(error(#"{"exclusion": "e", "rules": [999], "host": "h"}"#).contains("names no rule"))
        #expect(error(#"{"exclusion": "e", "rules": [100]}"#).contains("enabled"))
        #expect(error(#"{"exclusion": "e", "rules": [100], "client": "10.0.0.0/40"}"#).contains("client"))
        #expect(error(#"{"exclusion": "e", "rules": [100], "path": "/x"}"#).contains("unknown"))
        #expect(error(#"{"exclusion": "e", "rules": [100], "path_prefix": "x"}"#).contains("start with /"))
        #expect(error(#"{"exclusion": "", "rules": [100], "host": "h"}"#).contains("non-empty"))
        #expect(error(#"{"exclusion": "e", "rules": ["9-1"], "host": "h"}"#).contains("range"))
        #expect(error(#"{"exclusion": "e", "rules": [100], "parameters": []}"#).contains("parameters"))
        #expect(error(#"{"exclusion": "e", "rules": [100], "host": "h"}"#).isEmpty)
    }
}
