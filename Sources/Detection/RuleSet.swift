import HTTP

/// One rule that matched one request.
public struct RuleMatch: Sendable {
    public let rule: Rule
    /// The target (and transforms) the evidence was found in, e.g. `args` or `header:user-agent`.
    public let target: String
    /// A few bytes around the match, as found after transforms. Attacker-controlled.
    public let snippet: [UInt8]
}

/// Rules compiled for fast evaluation.
///
/// Each rule contributes its most specific literal to a prefilter: one Aho–Corasick automaton
/// per distinct (target, transforms) buffer. A request's buffers are scanned once; only rules
/// whose literal occurs there (plus the few without any literal) are evaluated in full. Cost
/// therefore grows with the number of buffers and candidate rules, not with the rule count.
public final class RuleSet: @unchecked Sendable {
    public let rules: [Rule]
    private let compiled: [[CompiledCondition]]
    private let prefilters: [(buffer: Int, automaton: AhoCorasick, rules: [Int])]
    private let unfiltered: [Int]
    private let plan: BufferPlan

    struct CompiledCondition {
        let buffers: [Int]
        let operation: RuleOperator
        let literal: [UInt8]
        let regex: CompiledRegex?
        let negate: Bool
    }

    public init(rules: [Rule]) throws(RuleFileError) {
        self.rules = rules
        var compiled: [[CompiledCondition]] = []
        var literals: [Int: (patterns: [[UInt8]], rules: [Int])] = [:]
        var plan = BufferPlan()
        var unfiltered: [Int] = []
        for (index, rule) in rules.enumerated() {
            var conditions: [CompiledCondition] = []
            var best: (buffers: [Int], literal: [UInt8])?
            for condition in rule.conditions {
                // Case-insensitive string operators compare lowercased buffers with a lowercased literal.
                let foldCase = condition.caseInsensitive && condition.operation != .regex
                var transforms = condition.transforms
                if foldCase && transforms.last != .lowercase { transforms.append(.lowercase) }
                let buffers = condition.targets.map { plan.id(for: BufferKey(target: $0, transforms: transforms)) }
                var regex: CompiledRegex?
                var literal = Array(condition.value.utf8)
                if foldCase { literal = literal.map(Transforms.lower) }
                if condition.operation == .regex {
                    do {
                        regex = try CompiledRegex(pattern: condition.value, caseInsensitive: condition.caseInsensitive)
                    } catch {
                        throw RuleFileError("rule id \(rule.id): invalid regex '\(condition.value)': \(error.description)")
                    }
                    literal = RegexLiteral.required(in: condition.value).map { Array($0.utf8) } ?? []
                }
                conditions.append(CompiledCondition(buffers: buffers, operation: condition.operation,
                                                    literal: condition.operation == .regex ? [] : literal,
                                                    regex: regex, negate: condition.negate))
                if !condition.negate, literal.count >= 2, literal.count > (best?.literal.count ?? 0) {
                    best = (buffers, literal)
                }
            }
            compiled.append(conditions)
            guard rule.enabled else { continue }
            if let best {
                // The literal must occur in one of the condition's buffers: register it in each.
                for buffer in best.buffers {
                    literals[buffer, default: ([], [])].patterns.append(best.literal)
                    literals[buffer, default: ([], [])].rules.append(index)
                }
            } else {
                unfiltered.append(index)
            }
        }
        self.compiled = compiled
        self.unfiltered = unfiltered
        self.plan = plan
        prefilters = literals.sorted { $0.key < $1.key }.map { ($0.key, AhoCorasick(patterns: $0.value.patterns), $0.value.rules) }
    }

    public var count: Int { rules.count }
    public var enabledCount: Int { rules.filter(\.enabled).count }

    /// Every rule the request matches, each once, in rule-file order.
    public func evaluate(_ request: HTTPRequest, scratch: DetectionScratch) -> [RuleMatch] {
        let view = RequestView(request: request, plan: plan)
        scratch.prepare(ruleCount: rules.count)
        for prefilter in prefilters {
            for value in view.values(prefilter.buffer) {
                value.withUnsafeBytes { bytes in
                    prefilter.automaton.scan(bytes) { pattern in scratch.mark(prefilter.rules[pattern]) }
                }
            }
        }
        for index in unfiltered { scratch.mark(index) }
        var matches: [RuleMatch] = []
        for index in scratch.candidates.sorted() {
            if let match = evaluate(rule: index, view: view, scratch: scratch) { matches.append(match) }
        }
        return matches
    }

    private func evaluate(rule index: Int, view: RequestView, scratch: DetectionScratch) -> RuleMatch? {
        var evidence: (target: String, snippet: [UInt8])?
        for condition in compiled[index] {
            var found: (buffer: Int, value: [UInt8], range: Range<Int>)?
            search: for buffer in condition.buffers {
                for value in view.values(buffer) {
                    if let range = matches(condition, value, scratch) {
                        found = (buffer, value, range)
                        break search
                    }
                }
            }
            if condition.negate {
                if found != nil { return nil }
            } else {
                guard let found else { return nil }
                if evidence == nil { evidence = (plan.entries[found.buffer].target.name, Self.snippet(found.value, around: found.range)) }
            }
        }
        return RuleMatch(rule: rules[index], target: evidence?.target ?? plan.entries[compiled[index][0].buffers[0]].target.name,
                         snippet: evidence?.snippet ?? [])
    }

    private func matches(_ condition: CompiledCondition, _ value: [UInt8], _ scratch: DetectionScratch) -> Range<Int>? {
        let literal = condition.literal
        switch condition.operation {
        case .contains:
            return RequestArguments.find(literal, in: value, from: 0).map { $0..<$0 + literal.count }
        case .equals:
            return value == literal ? 0..<value.count : nil
        case .startsWith:
            return value.starts(with: literal) ? 0..<literal.count : nil
        case .endsWith:
            return value.count >= literal.count && value.suffix(literal.count).elementsEqual(literal)
                ? (value.count - literal.count)..<value.count : nil
        case .regex:
            return value.withUnsafeBytes { condition.regex?.firstMatch(in: $0, scratch: scratch.regex) }
        }
    }

    /// The match and some context, at most 80 bytes.
    static func snippet(_ value: [UInt8], around range: Range<Int>) -> [UInt8] {
        let context = 24
        let start = max(0, range.lowerBound - context)
        let end = min(value.count, max(range.upperBound, range.lowerBound + 1) + context, start + 80)
        return Array(value[start..<max(start, end)])
    }
}

/// Per-thread working memory for evaluation (candidate marks, regex match data).
public final class DetectionScratch {
    let regex = RegexScratch()
    private var marked: [Bool] = []
    private(set) var candidates: [Int] = []

    public init() {}

    /// Regex matches that failed with an engine error (match or depth limit) instead of
    /// giving a verdict: an inline proxy treats them as a detection failure (fail-open/closed).
    public var engineErrors: Int { regex.engineErrors }

    func prepare(ruleCount: Int) {
        if marked.count != ruleCount {
            // Another rule set (a reload): start from a clean slate of the right size.
            marked = [Bool](repeating: false, count: ruleCount)
        } else {
            for index in candidates { marked[index] = false }
        }
        candidates.removeAll(keepingCapacity: true)
    }

    @inline(__always) func mark(_ index: Int) {
        if !marked[index] {
            marked[index] = true
            candidates.append(index)
        }
    }
}

/// Finds a literal that every match of a regex must contain, for the prefilter. Conservative:
/// nil whenever the pattern's structure is not plainly a sequence (top-level alternation, etc.).
enum RegexLiteral {
    static func required(in pattern: String) -> String? {
        var chars = Array(pattern.unicodeScalars)
        if chars.starts(with: Array("(?i)".unicodeScalars)) { chars.removeFirst(4) }
        var depth = 0
        for (i, c) in chars.enumerated() {
            if c == "\\" { continue }
            if i > 0 && chars[i - 1] == "\\" { continue }
            if c == "(" { depth += 1 } else if c == ")" { depth -= 1 } else if c == "|" && depth == 0 { return nil }
        }
        var best = "", run = ""
        var i = 0
        func flush() {
            if run.count > best.count { best = run }
            run = ""
        }
        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            var literal: Unicode.Scalar?
            var width = 1
            if c == "\\", let next {
                width = 2
                if "\\.^$|?*+()[]{}/-\"'<>=:;,#&!%@~`".unicodeScalars.contains(next) { literal = next }
            } else if "^$.|".unicodeScalars.contains(c) {
                literal = nil
            } else if c == "[" || c == "(" {
                // Skip the class or group whole: it is not a plain sequence of literals.
                flush()
                let close: Unicode.Scalar = c == "[" ? "]" : ")"
                var level = 0
                var j = i
                while j < chars.count {
                    if chars[j] == "\\" { j += 2; continue }
                    if chars[j] == c { level += 1 } else if chars[j] == close { level -= 1; if level == 0 { break } }
                    j += 1
                }
                i = j + 1
                if i < chars.count, "?*{".unicodeScalars.contains(chars[i]) { i += 1 }
                continue
            } else if "?*+{".unicodeScalars.contains(c) {
                literal = nil
            } else {
                literal = c
            }
            let quantifier: Unicode.Scalar? = i + width < chars.count ? chars[i + width] : nil
            if let literal {
                if let quantifier, quantifier == "?" || quantifier == "*" || quantifier == "{" {
                    flush()  // optional: not required
                } else {
                    run.unicodeScalars.append(literal)
                    if quantifier == "+" { flush() }
                }
            } else {
                flush()
            }
            i += width
        }
        flush()
        return best.count >= 3 ? best.lowercased() : nil
    }
}
