/// How serious a match is. EVE prints an integer where 1 is the most severe.
public enum Severity: String, Sendable, CaseIterable, Comparable {
    case low, medium, high, critical

    public var eveSeverity: Int {
        switch self {
        case .critical: 1
        case .high: 2
        case .medium: 3
        case .low: 4
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.eveSeverity > b.eveSeverity }
}

/// What a match means. `alert`: the rule adds its severity's points to the request's anomaly
/// score, and the request is an incident when the total reaches the threshold. `block`: a match
/// makes the request an incident on its own, whatever the total (the inline proxy refuses every
/// incident with `--block`; monitor and replay report them).
public enum RuleAction: String, Sendable {
    case alert, block
}

/// The part of a request a condition looks at. Multi-valued targets match when any value does.
public enum RuleTarget: Hashable, Sendable {
    /// `http://` + Host + target, as the original diffai saw it.
    case url
    /// The request target exactly as on the wire.
    case uri
    case path
    case query
    case method
    case host
    case userAgent
    /// The de-chunked body (and, when cut, its kept tail).
    case body
    /// Every argument value: query string, urlencoded, multipart and JSON bodies.
    case args
    case argNames
    /// Values of one argument, name matched case-insensitively.
    case arg(String)
    case cookies
    case cookieNames
    case cookie(String)
    /// Every header value; `header(name)` one header by case-insensitive name.
    case headers
    case headerNames
    case header(String)
    /// File names of multipart uploads.
    case files
    /// Parser anomaly names (`content_length_with_transfer_encoding`, ...).
    case anomalies

    /// Parses `args`, `arg:id`, `header:User-Agent`, ...
    public init?(name: String) {
        if let colon = name.firstIndex(of: ":") {
            let kind = name[..<colon].lowercased()
            let argument = String(name[name.index(after: colon)...])
            guard !argument.isEmpty else { return nil }
            switch kind {
            case "arg", "args": self = .arg(argument.lowercased())
            case "cookie", "cookies": self = .cookie(argument)
            case "header", "headers": self = .header(argument.lowercased())
            default: return nil
            }
            return
        }
        switch name.lowercased() {
        case "url": self = .url
        case "uri", "target": self = .uri
        case "path": self = .path
        case "query": self = .query
        case "method": self = .method
        case "host": self = .host
        case "user_agent", "useragent", "user-agent": self = .userAgent
        case "body", "content": self = .body
        case "args": self = .args
        case "arg_names", "args_names": self = .argNames
        case "cookies": self = .cookies
        case "cookie_names": self = .cookieNames
        case "headers": self = .headers
        case "header_names": self = .headerNames
        case "files", "filenames": self = .files
        case "anomalies", "anomaly": self = .anomalies
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .url: "url"
        case .uri: "uri"
        case .path: "path"
        case .query: "query"
        case .method: "method"
        case .host: "host"
        case .userAgent: "user_agent"
        case .body: "body"
        case .args: "args"
        case .argNames: "arg_names"
        case .arg(let n): "arg:\(n)"
        case .cookies: "cookies"
        case .cookieNames: "cookie_names"
        case .cookie(let n): "cookie:\(n)"
        case .headers: "headers"
        case .headerNames: "header_names"
        case .header(let n): "header:\(n)"
        case .files: "files"
        case .anomalies: "anomalies"
        }
    }

    static let documentedNames = "url, uri, path, query, method, host, user_agent, body, args, arg_names, arg:NAME, cookies, cookie_names, cookie:NAME, headers, header_names, header:NAME, files, anomalies"
}

public enum RuleOperator: String, Sendable, CaseIterable {
    case contains, equals, startsWith, endsWith, regex
    /// The SQL tokenizer (`SQLInjection`): no value.
    case detectSQLi
    /// The HTML and script tokenizer (`CrossSiteScripting`): no value.
    case detectXSS
    /// Any phrase of a list file (value: its path, beside the rule file), see `PhraseList`.
    case pmFromFile

    /// Operators that need no value to match with.
    var takesNoValue: Bool { self == .detectSQLi || self == .detectXSS }
    /// Operators whose value is not a literal to find.
    var hasNoLiteral: Bool { self != .contains && self != .equals && self != .startsWith && self != .endsWith }
}

/// Byte transformations applied, in order, before matching.
public enum Transform: String, Sendable, CaseIterable, Hashable {
    case urlDecode, urlDecodeUni, htmlEntityDecode, lowercase, compressWhitespace, removeWhitespace,
         removeNulls, normalizePath, removeComments, replaceComments, normalizeUnicode, shellUnquote
}

/// One test on one target. All conditions of a rule must hold.
public struct RuleCondition: Sendable {
    /// The condition holds when any value of any of these targets matches (`uri|body`).
    public var targets: [RuleTarget]
    public var target: RuleTarget { targets[0] }
    public var operation: RuleOperator
    /// Literal for the string operators, pattern for `regex`.
    public var value: String
    public var caseInsensitive: Bool
    public var negate: Bool
    public var transforms: [Transform]
    /// For `pmFromFile`: the list, read when the rule file is.
    public var phrases: PhraseList?

    public init(target: RuleTarget, operation: RuleOperator = .contains, value: String, caseInsensitive: Bool = false,
                negate: Bool = false, transforms: [Transform] = []) {
        self.init(targets: [target], operation: operation, value: value, caseInsensitive: caseInsensitive,
                  negate: negate, transforms: transforms)
    }

    public init(targets: [RuleTarget], operation: RuleOperator = .contains, value: String, caseInsensitive: Bool = false,
                negate: Bool = false, transforms: [Transform] = []) {
        precondition(!targets.isEmpty)
        self.targets = targets
        self.operation = operation
        self.value = value
        self.caseInsensitive = caseInsensitive
        self.negate = negate
        self.transforms = transforms
    }
}

public struct Rule: Sendable {
    public var id: Int
    public var message: String
    /// How serious a match is, and so how many points it adds (see `AnomalyScoring`).
    public var severity: Severity
    public var action: RuleAction
    /// EVE `alert.category`.
    public var category: String
    public var rev: Int
    public var conditions: [RuleCondition]
    /// A disabled rule is loaded and checked but never evaluated.
    public var enabled: Bool
    /// 1 to 4, as in OWASP CRS: a rule counts only when the configured paranoia level is at
    /// least this. Level 1 holds the rules that are quiet on ordinary traffic.
    public var paranoia: Int
    /// Where the rule is not applied (rules.json's exclusion entries that name it).
    public var exclusions: [RuleExclusion] = []

    /// A rule without a severity is critical: on its own it makes an incident, as every match
    /// did before requests were scored (the original rules.json format keeps its meaning).
    public init(id: Int, message: String, severity: Severity = .critical, action: RuleAction = .alert,
                category: String = "Web Application Attack", rev: Int = 1, conditions: [RuleCondition], enabled: Bool = true,
                paranoia: Int = 1) {
        precondition((1...4).contains(paranoia), "paranoia levels are 1 to 4")
        self.id = id
        self.message = message
        self.severity = severity
        self.action = action
        self.category = category
        self.rev = rev
        self.conditions = conditions
        self.enabled = enabled
        self.paranoia = paranoia
    }
}
