import CPCRE2
import NetworkTypes

/// A rule file that cannot be used, with a message that says where and why.
public struct RuleFileError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Reads `rules.json`: an array of rule objects.
///
/// The original format keeps its meaning: every key other than `alert` and `headers` names a
/// request field (`url`, `content`, `method`) whose value must occur, case-sensitively, in that
/// field; `headers` maps header names to substrings. Extensions: `id`, `severity`, `action`,
/// `category`, `rev`, and `conditions` (see README).
public enum RuleFile {
    /// Rules without an `id` get `autoIDBase + position`.
    public static let autoIDBase = 1_000_000

    static let ruleKeys: Set<String> = ["id", "alert", "severity", "action", "category", "rev", "conditions", "headers",
                                        "url", "content", "method", "description", "reference", "enabled", "paranoia"]
    static let conditionKeys: Set<String> = ["target", "operator", "value", "caseInsensitive", "negate", "transforms"]

    /// Far beyond any real rule set (the defaults are some 50 KB): a wrong path fails fast.
    static let maxFileBytes = 64 << 20

    public static func load(path: String) throws(RuleFileError) -> [Rule] {
        let bytes: [UInt8]
        do { bytes = try FileReading.bytes(path, limit: maxFileBytes) } catch {
            throw RuleFileError("\(path): cannot read the rule file (\(error.description))")
        }
        return try parse(bytes, fileName: path)
    }

    public static func parse(_ bytes: [UInt8], fileName: String) throws(RuleFileError) -> [Rule] {
        let document: JSONValue
        do {
            document = try JSONReader.parse(bytes)
        } catch {
            throw RuleFileError("\(fileName):\(error.line):\(error.column): \(error.message)")
        }
        guard case .array(let elements) = document else {
            throw RuleFileError("\(fileName): the file must hold a JSON array of rules, found \(document.typeName)")
        }
        var rules: [Rule] = []
        var seenIDs: [Int: Int] = [:]
        var exclusions: [(index: Int, ids: [ClosedRange<Int>], exclusion: RuleExclusion)] = []
        for (index, element) in elements.enumerated() {
            if let members = element.objectMembers, members.contains(where: { $0.key == "exclusion" }) {
                let (ids, exclusion) = try parseExclusion(members, index: index, fileName: fileName)
                exclusions.append((index, ids, exclusion))
                continue
            }
            let rule = try parseRule(element, index: index, fileName: fileName)
            if let previous = seenIDs[rule.id] {
                throw RuleFileError("\(fileName): rule \(index) (id \(rule.id)): field id: id \(rule.id) is already used by rule \(previous)")
            }
            seenIDs[rule.id] = index
            rules.append(rule)
        }
        for (index, ranges, exclusion) in exclusions {
            var named = 0
            for r in rules.indices where ranges.contains(where: { $0.contains(rules[r].id) }) {
                rules[r].exclusions.append(exclusion)
                named += 1
            }
            guard named > 0 else {
                throw RuleFileError("\(fileName): entry \(index) (exclusion \"\(exclusion.name)\"): field rules: names no rule of this file")
            }
        }
        return rules
    }

    static let exclusionKeys: Set<String> = ["exclusion", "rules", "path_prefix", "host", "client", "parameters"]

    /// `{"exclusion": "why", "rules": [942100, "9000-9099"], "path_prefix": "/wp-admin/",
    /// "host": "blog.example", "client": "10.0.0.0/8", "parameters": ["content"]}`.
    private static func parseExclusion(_ members: [(key: String, value: JSONValue)], index: Int,
                                       fileName: String) throws(RuleFileError) -> ([ClosedRange<Int>], RuleExclusion) {
        let name = members.first { $0.key == "exclusion" }?.value.stringValue ?? ""
        func fail(_ field: String, _ message: String) -> RuleFileError {
            RuleFileError("\(fileName): entry \(index) (exclusion \"\(name)\"): field \(field): \(message)")
        }
        guard !name.isEmpty else { throw fail("exclusion", "must be a non-empty string saying what the exclusion is for") }
        var seen: Set<String> = []
        for (key, _) in members {
            guard exclusionKeys.contains(key) else { throw fail(key, "unknown (an exclusion has \(exclusionKeys.sorted().joined(separator: ", ")))") }
            guard seen.insert(key).inserted else { throw fail(key, "given twice") }
        }
        func value(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }
        func string(_ key: String) throws(RuleFileError) -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v.stringValue, !s.isEmpty else { throw fail(key, "must be a non-empty string") }
            return s
        }
        guard case .array(let ruleValues)? = value("rules"), !ruleValues.isEmpty else {
            throw fail("rules", "must be a non-empty array of rule ids or id ranges such as \"9000-9099\"")
        }
        var ranges: [ClosedRange<Int>] = []
        for v in ruleValues {
            if let id = v.wholeNumber(in: 1...3_999_999_999) {
                ranges.append(id...id)
            } else if let text = v.stringValue, let dash = text.firstIndex(of: "-"),
                      let low = Int(text[..<dash]), let high = Int(text[text.index(after: dash)...]), 1 <= low, low <= high {
                ranges.append(low...high)
            } else {
                throw fail("rules", "\(v.typeName) is neither a rule id nor a range \"LOW-HIGH\"")
            }
        }
        let path = try string("path_prefix")
        if let path, !path.hasPrefix("/") { throw fail("path_prefix", "must start with /") }
        let host = try string("host")
        var network: IPNetwork?
        if let client = try string("client") {
            guard let parsed = IPNetwork(client) else { throw fail("client", "\(client) is not an address or a network such as 10.0.0.0/8") }
            network = parsed
        }
        var parameters: [String] = []
        if let v = value("parameters") {
            guard case .array(let items) = v, !items.isEmpty, items.allSatisfy({ $0.stringValue?.isEmpty == false }) else {
                throw fail("parameters", "must be a non-empty array of parameter names")
            }
            parameters = items.compactMap(\.stringValue)
        }
        guard path != nil || host != nil || network != nil || !parameters.isEmpty else {
            throw fail("exclusion", "names no path_prefix, host, client or parameters: to turn a rule off everywhere, give it \"enabled\": false")
        }
        return (ranges, RuleExclusion(name: name, pathPrefix: path, host: host, network: network, parameters: parameters))
    }

    private static func parseRule(_ value: JSONValue, index: Int, fileName: String) throws(RuleFileError) -> Rule {
        guard let members = value.objectMembers else {
            throw RuleFileError("\(fileName): rule \(index): a rule must be an object, found \(value.typeName)")
        }
        var explicitID: Int?
        if let idValue = members.first(where: { $0.key == "id" })?.value {
            guard let number = idValue.wholeNumber(in: 1...3_999_999_999) else {
                throw RuleFileError("\(fileName): rule \(index): field id: must be a whole number from 1 to 3999999999")
            }
            explicitID = number
        }
        let id = explicitID ?? autoIDBase + index
        let label = explicitID.map { "rule \(index) (id \($0))" } ?? "rule \(index) (no id)"
        func fail(_ field: String, _ message: String) -> RuleFileError {
            RuleFileError("\(fileName): \(label): field \(field): \(message)")
        }

        var seen: Set<String> = []
        var message: String?
        var severity = Severity.critical
        var paranoia = 1
        var action = RuleAction.alert
        var category = "Web Application Attack"
        var rev = 1
        var enabled = true
        var conditions: [RuleCondition] = []
        for (key, member) in members {
            guard seen.insert(key).inserted else { throw fail(key, "appears twice") }
            switch key {
            case "id", "description", "reference":
                continue
            case "alert":
                guard let text = member.stringValue, !text.isEmpty else { throw fail(key, "must be a non-empty string (the alert message)") }
                message = text
            case "severity":
                guard let text = member.stringValue, let parsed = Severity(rawValue: text.lowercased()) else {
                    throw fail(key, "must be one of low, medium, high, critical")
                }
                severity = parsed
            case "action":
                guard let text = member.stringValue, let parsed = RuleAction(rawValue: text.lowercased()) else {
                    throw fail(key, "must be alert or block")
                }
                action = parsed
            case "enabled":
                guard case .bool(let flag) = member else { throw fail(key, "must be true or false") }
                enabled = flag
            case "paranoia":
                guard let level = member.wholeNumber(in: 1...4) else { throw fail(key, "must be a paranoia level from 1 to 4") }
                paranoia = level
            case "category":
                guard let text = member.stringValue else { throw fail(key, "must be a string") }
                category = text
            case "rev":
                guard let number = member.wholeNumber(in: 1...Int(Int32.max)) else {
                    throw fail(key, "must be a whole number from 1 to \(Int32.max)")
                }
                rev = number
            case "headers":
                guard let map = member.objectMembers else { throw fail(key, "must be an object of header names to substrings") }
                for (name, expected) in map {
                    guard let text = expected.stringValue else { throw fail("headers.\(name)", "must be a string") }
                    conditions.append(RuleCondition(target: RuleTarget(.header, selector: name), value: text))
                }
            case "url", "content", "method":
                guard let text = member.stringValue else { throw fail(key, "must be a string") }
                let target = RuleTarget(key == "url" ? .url : key == "content" ? .body : .method)
                conditions.append(RuleCondition(target: target, value: text))
            case "conditions":
                guard case .array(let list) = member, !list.isEmpty else { throw fail(key, "must be a non-empty array of conditions") }
                for (position, element) in list.enumerated() {
                    conditions.append(try parseCondition(element, field: "conditions[\(position)]", directory: directory(of: fileName), fail: fail))
                }
            default:
                throw fail(key, "unknown field; a rule has alert, id, severity, action, category, rev, enabled, paranoia, description, reference, conditions, headers, url, content, method")
            }
        }
        guard let message else { throw fail("alert", "is missing: every rule needs its alert message") }
        guard !conditions.isEmpty else { throw fail("conditions", "the rule has no condition, so it would match every request") }
        return Rule(id: id, message: message, severity: severity, action: action, category: category, rev: rev,
                    conditions: conditions, enabled: enabled, paranoia: paranoia)
    }

    /// Where a rule file's phrase lists are looked up: its own folder.
    static func directory(of fileName: String) -> String {
        guard let slash = fileName.lastIndex(of: "/") else { return "." }
        return slash == fileName.startIndex ? "/" : String(fileName[..<slash])
    }

    private static func parseCondition(
        _ value: JSONValue, field: String, directory: String, fail: (String, String) -> RuleFileError
    ) throws(RuleFileError) -> RuleCondition {
        guard let members = value.objectMembers else { throw fail(field, "a condition must be an object") }
        var targets: [RuleTarget] = []
        var operation = RuleOperator.contains
        var literal: String?
        var caseInsensitive = false
        var negate = false
        var transforms: [Transform] = []
        for (key, member) in members {
            let path = "\(field).\(key)"
            switch key {
            case "target":
                guard let text = member.stringValue else { throw fail(path, "must be a string such as \"args\" or \"uri|body\"") }
                for name in text.split(separator: "|").map({ $0.trimming(" ") }) {
                    guard let parsed = RuleTarget(name: name) else {
                        throw fail(path, "unknown target '\(name)'; targets are \(RuleTarget.documentedNames)")
                    }
                    targets.append(parsed)
                }
            case "operator":
                guard let text = member.stringValue, let parsed = RuleOperator.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
                    throw fail(path, "unknown operator \(member.stringValue.map { "'\($0)'" } ?? member.typeName); operators are \(RuleOperator.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                operation = parsed
            case "value":
                guard let text = member.stringValue else { throw fail(path, "must be a string") }
                literal = text
            case "caseInsensitive":
                guard case .bool(let flag) = member else { throw fail(path, "must be true or false") }
                caseInsensitive = flag
            case "negate":
                guard case .bool(let flag) = member else { throw fail(path, "must be true or false") }
                negate = flag
            case "transforms":
                guard case .array(let names) = member else { throw fail(path, "must be an array of transform names") }
                for name in names {
                    guard let text = name.stringValue, let parsed = Transform.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
                        throw fail(path, "unknown transform \(name.stringValue.map { "'\($0)'" } ?? name.typeName); transforms are \(Transform.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    transforms.append(parsed)
                }
            default:
                throw fail(path, "unknown field; a condition has target, operator, value, caseInsensitive, negate, transforms")
            }
        }
        guard !targets.isEmpty else { throw fail("\(field).target", "is missing") }
        if operation.takesNoValue {
            guard literal == nil || literal == "" else { throw fail("\(field).value", "\(operation.rawValue) takes no value") }
            return RuleCondition(targets: targets, operation: operation, value: "", caseInsensitive: caseInsensitive,
                                 negate: negate, transforms: transforms)
        }
        guard let literal else { throw fail("\(field).value", "is missing") }
        if operation == .regex, let problem = CompiledRegex.validate(literal, caseInsensitive: caseInsensitive) {
            throw fail("\(field).value", "invalid regex '\(literal)': \(problem)")
        }
        if operation != .regex && literal.isEmpty { throw fail("\(field).value", "must not be empty") }
        if operation == .pmFromFile {
            guard !literal.hasPrefix("/"), !literal.split(separator: "/").contains("..") else {
                throw fail("\(field).value", "a phrase list is named relative to the rule file's folder, without '..'")
            }
            let list: PhraseList
            do {
                list = try PhraseList.load(path: directory == "." ? literal : directory + "/" + literal)
            } catch {
                throw fail("\(field).value", error.description)
            }
            // Phrases match without regard to ASCII case by themselves (their automaton folds
            // case), so the condition reads the same buffer as the rules beside it, not a
            // lowercased copy.
            var condition = RuleCondition(targets: targets, operation: operation, value: literal, caseInsensitive: false,
                                          negate: negate, transforms: transforms)
            condition.phrases = list
            return condition
        }
        return RuleCondition(targets: targets, operation: operation, value: literal, caseInsensitive: caseInsensitive,
                             negate: negate, transforms: transforms)
    }
}
