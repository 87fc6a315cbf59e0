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
public struct RuleTarget: Hashable, Sendable {
    public let kind: Kind
    /// For `arg:NAME`, `cookie:NAME` and `header:NAME`: the name (lowercase for arguments and
    /// headers, which match it ignoring case; cookie names as written). Empty otherwise.
    public let selector: String

    /// Every kind of target. Each one's spelling in rule files is in `spelling` (the one table
    /// the parser, the printer and the error messages read) and how a request yields its values
    /// is `RequestView`'s: a new target is a case here, its line there, and its reading.
    public enum Kind: UInt8, CaseIterable, Sendable {
        /// `http://` + Host + target, as the original diffai saw it.
        case url
        /// The request target exactly as on the wire.
        case uri
        case path, query, method, host, userAgent
        /// The de-chunked body (and, when cut, its kept tail).
        case body
        /// Every argument value: query string, urlencoded, multipart and JSON bodies.
        case args
        case argNames
        /// Values of one argument, name matched case-insensitively.
        case arg
        case cookies, cookieNames, cookie
        /// Every header value; `header` one header by case-insensitive name.
        case headers, headerNames, header
        /// File names of multipart uploads.
        case files
        /// Parser anomaly names (`content_length_with_transfer_encoding`, ...).
        case anomalies

        /// How rule files write this target: the printed name first, then the other names
        /// accepted; `selects` for the kinds written `NAME:selector`, `folds` when the selector
        /// is matched ignoring case (and so kept lowercase).
        var spelling: (names: [String], selects: Bool, folds: Bool) {
            switch self {
            case .url: (["url"], false, false)
            case .uri: (["uri", "target"], false, false)
            case .path: (["path"], false, false)
            case .query: (["query"], false, false)
            case .method: (["method"], false, false)
            case .host: (["host"], false, false)
            case .userAgent: (["user_agent", "useragent", "user-agent"], false, false)
            case .body: (["body", "content"], false, false)
            case .args: (["args"], false, false)
            case .argNames: (["arg_names", "args_names"], false, false)
            case .arg: (["arg", "args"], true, true)
            case .cookies: (["cookies"], false, false)
            case .cookieNames: (["cookie_names"], false, false)
            case .cookie: (["cookie", "cookies"], true, false)
            case .headers: (["headers"], false, false)
            case .headerNames: (["header_names"], false, false)
            case .header: (["header", "headers"], true, true)
            case .files: (["files", "filenames"], false, false)
            case .anomalies: (["anomalies", "anomaly"], false, false)
            }
        }
    }

    /// `selector` is folded to lowercase for the kinds matched ignoring case. It may be empty
    /// (the original format's `"headers": {"": ...}` names a header no request has); only
    /// the kinds that select take one.
    public init(_ kind: Kind, selector: String = "") {
        assert(kind.spelling.selects || selector.isEmpty, "\(kind) takes no selector")
        self.kind = kind
        self.selector = kind.spelling.folds ? selector.lowercased() : selector
    }

    /// Parses `args`, `arg:id`, `header:User-Agent`, ... (kind names in any case).
    public init?(name: String) {
        if let colon = name.firstIndex(of: ":") {
            let selector = String(name[name.index(after: colon)...])
            guard !selector.isEmpty, let kind = Self.selecting[name[..<colon].lowercased()] else { return nil }
            self.init(kind, selector: selector)
        } else {
            guard let kind = Self.plain[name.lowercased()] else { return nil }
            self.init(kind)
        }
    }

    public var name: String {
        let printed = kind.spelling.names[0]
        return kind.spelling.selects ? "\(printed):\(selector)" : printed
    }

    private static let plain = names(selecting: false)
    private static let selecting = names(selecting: true)

    private static func names(selecting: Bool) -> [String: Kind] {
        var table: [String: Kind] = [:]
        for kind in Kind.allCases where kind.spelling.selects == selecting {
            for name in kind.spelling.names {
                assert(table[name] == nil, "target name '\(name)' spelled twice")
                table[name] = kind
            }
        }
        return table
    }

    static let documentedNames = Kind.allCases.map { $0.spelling.selects ? "\($0.spelling.names[0]):NAME" : $0.spelling.names[0] }
        .joined(separator: ", ")
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
