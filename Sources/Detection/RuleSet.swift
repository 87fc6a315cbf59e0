import HTTP
import NetworkTypes

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
///
/// Sendable because immutable once built: its tables are written in `init` and freed in
/// `deinit` only; per-request state lives in each thread's `DetectionScratch`.
public final class RuleSet: @unchecked Sendable {
    public let rules: [Rule]
    private let plan: BufferPlan
    // Compiled form, flat and free of references so that the per-request loops copy plain
    // values (nested arrays and optional class references cost a retain and a release each).
    private let conditions: [CompiledCondition]
    private let ruleConditions: [Range<Int>]
    private let conditionBuffers: [Int]
    private let literals: UnsafeMutableRawBufferPointer
    private let regexes: [CompiledRegex]
    private let phraseLists: [PhraseList]
    /// Owners of the memory `prefilterTables` points into.
    private let automata: [AhoCorasick]
    // The prefilter runs for every request: its tables are plain memory (see `FrozenArray`).
    /// The buffers scanned, grouped by family (buffers derived from one raw target).
    private let prefilterBuffers: FrozenArray<Int>
    /// One automaton per scanned buffer (same index), then one per family of several buffers:
    /// the union of the family's patterns, scanned once when all its buffers hold the same
    /// values (no transform changed anything: most requests, most targets).
    private let prefilterTables: FrozenArray<AhoCorasick.Table>
    /// Rule index for each pattern of each automaton: `prefilterRules[prefilterRuleStart[t] + pattern]`.
    private let prefilterRules: FrozenArray<Int>
    private let prefilterRuleStart: FrozenArray<Int>
    /// Family `f` is `prefilterBuffers[familyStart[f]..<familyStart[f + 1]]`; its union
    /// automaton is table `familyUnion[f]` (-1 for a family of one buffer).
    private let familyStart: FrozenArray<Int>
    private let familyUnion: FrozenArray<Int>
    /// For each pattern of a union automaton (indexed like `prefilterRules`): the position in
    /// its family of the buffer the pattern belongs to (-1 in the buffers' own automata).
    private let unionMember: FrozenArray<Int>
    /// The most buffers one family has (the size of the per-request grouping scratch).
    private let largestFamily: Int
    private let unfiltered: FrozenArray<Int>
    /// Each rule's paranoia level, for skipping rules above the configured one.
    private let paranoia: FrozenArray<Int>

    struct CompiledCondition {
        let buffers: Range<Int>
        let operation: RuleOperator
        /// Into `literals`; empty for regexes.
        let literal: Range<Int>
        /// The compiled operand: into `regexes` for `regex`, into `phraseLists` for
        /// `pmFromFile`; -1 otherwise.
        let operand: Int
        let negate: Bool
    }

    /// How much work one regex match may do (see `RegexLimits`); a reload keeps them.
    public let regexLimits: RegexLimits

    /// `usePrefilter` false evaluates every enabled rule in full (tests check the prefilter
    /// against it: it may only skip rules that cannot match).
    public init(rules: [Rule], usePrefilter: Bool = true, regexLimits: RegexLimits = RegexLimits()) throws(RuleFileError) {
        self.rules = rules
        self.regexLimits = regexLimits
        var conditions: [CompiledCondition] = []
        var ruleConditions: [Range<Int>] = []
        var conditionBuffers: [Int] = []
        var literalBytes: [UInt8] = []
        var regexes: [CompiledRegex] = []
        var phraseLists: [PhraseList] = []
        var prefilterLiterals: [Int: (patterns: [[UInt8]], rules: [Int])] = [:]
        var plan = BufferPlan()
        var unfiltered: [Int] = []
        for (index, rule) in rules.enumerated() {
            let firstCondition = conditions.count
            var best: (buffers: [Int], literals: [[UInt8]])?
            for condition in rule.conditions {
                // Case-insensitive string operators compare lowercased buffers with a lowercased literal.
                let foldCase = condition.caseInsensitive && condition.operation != .regex
                var transforms = condition.transforms
                if foldCase && transforms.last != .lowercase { transforms.append(.lowercase) }
                let buffers = condition.targets.map { plan.id(for: BufferKey(target: $0, transforms: transforms)) }
                var operand = -1
                var literal = Array(condition.value.utf8)
                if foldCase { literal = literal.map(ASCII.lowercased) }
                if condition.operation == .regex {
                    do {
                        regexes.append(try CompiledRegex(pattern: condition.value, caseInsensitive: condition.caseInsensitive))
                        operand = regexes.count - 1
                    } catch {
                        throw RuleFileError("rule id \(rule.id): invalid regex '\(condition.value)': \(error.description)")
                    }
                }
                if condition.operation == .pmFromFile {
                    guard let list = condition.phrases else {
                        throw RuleFileError("rule id \(rule.id): pmFromFile without its phrase list '\(condition.value)'")
                    }
                    phraseLists.append(list)
                    operand = phraseLists.count - 1
                }
                // What every match must contain: the literal itself, what the regex requires,
                // or one of the phrases. The tokenizing detectors have no literal: they run on
                // every value of their targets (their first step is a cheap byte check).
                let requirement: [[UInt8]]?
                switch condition.operation {
                case .regex: requirement = RegexLiteral.requiredSet(in: condition.value)
                case .pmFromFile: requirement = condition.phrases?.phrases
                case .detectSQLi, .detectXSS: requirement = nil
                default: requirement = literal.isEmpty ? nil : [literal]
                }
                let bufferStart = conditionBuffers.count
                conditionBuffers.append(contentsOf: buffers)
                let literalStart = literalBytes.count
                if !condition.operation.hasNoLiteral { literalBytes.append(contentsOf: literal) }
                conditions.append(CompiledCondition(
                    buffers: bufferStart..<conditionBuffers.count, operation: condition.operation,
                    literal: literalStart..<literalBytes.count, operand: operand, negate: condition.negate))
                if !condition.negate, let requirement,
                   RegexLiteral.strength(requirement) > best.map({ RegexLiteral.strength($0.literals) }) ?? 0 {
                    best = (buffers, requirement)
                }
            }
            ruleConditions.append(firstCondition..<conditions.count)
            guard rule.enabled else { continue }
            if let best, usePrefilter {
                // One of the literals must occur in one of the condition's buffers: register
                // each literal in each buffer, all pointing at this rule.
                // The automata fold case, so a buffer that ends in `lowercase` is scanned as
                // its parent: the lowercased copy is made only for rules that pass.
                for buffer in best.buffers {
                    let scanned = plan.withoutTrailingLowercase(buffer)
                    for literal in best.literals {
                        prefilterLiterals[scanned, default: ([], [])].patterns.append(literal)
                        prefilterLiterals[scanned, default: ([], [])].rules.append(index)
                    }
                }
            } else {
                unfiltered.append(index)
            }
        }
        self.conditions = conditions
        self.ruleConditions = ruleConditions
        self.conditionBuffers = conditionBuffers
        let literals = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, literalBytes.count), alignment: 1)
        literalBytes.withUnsafeBytes { literals.copyMemory(from: $0) }
        self.literals = literals
        self.regexes = regexes
        self.phraseLists = phraseLists
        self.unfiltered = FrozenArray(unfiltered)
        paranoia = FrozenArray(rules.map(\.paranoia))
        self.plan = plan
        let sorted = prefilterLiterals.sorted { (plan.root($0.key), $0.key) < (plan.root($1.key), $1.key) }
        prefilterBuffers = FrozenArray(sorted.map(\.key))
        var tables = sorted.map(\.value)
        var familyStart: [Int] = []
        var familyUnion: [Int] = []
        var unionMember: [Int] = tables.flatMap { Array(repeating: -1, count: $0.rules.count) }
        for (position, entry) in sorted.enumerated() where position == 0 || plan.root(entry.key) != plan.root(sorted[position - 1].key) {
            familyStart.append(position)
        }
        familyStart.append(sorted.count)
        for f in 0..<(familyStart.count - 1) {
            let members = sorted[familyStart[f]..<familyStart[f + 1]]
            guard members.count > 1 else {
                familyUnion.append(-1)
                continue
            }
            familyUnion.append(tables.count)
            tables.append((members.flatMap(\.value.patterns), members.flatMap(\.value.rules)))
            for (member, entry) in members.enumerated() {
                unionMember.append(contentsOf: repeatElement(member, count: entry.value.rules.count))
            }
        }
        let automata = tables.map { AhoCorasick(patterns: $0.patterns) }
        self.automata = automata
        prefilterTables = FrozenArray(automata.map(\.table))
        prefilterRules = FrozenArray(tables.flatMap(\.rules))
        prefilterRuleStart = FrozenArray(tables.reduce(into: [0]) { $0.append($0.last! + $1.rules.count) })
        self.familyStart = FrozenArray(familyStart)
        self.familyUnion = FrozenArray(familyUnion)
        assert(unionMember.count == tables.reduce(0) { $0 + $1.rules.count }, "one member entry per pattern")
        self.unionMember = FrozenArray(unionMember)
        largestFamily = zip(familyStart, familyStart.dropFirst()).map { $1 - $0 }.max() ?? 0
    }

    deinit {
        literals.deallocate()
        prefilterTables.deallocate()
        for ints in [prefilterBuffers, prefilterRules, prefilterRuleStart, familyStart, familyUnion, unionMember, unfiltered, paranoia] { ints.deallocate() }
    }

    public var count: Int { rules.count }
    public var enabledCount: Int { rules.filter(\.enabled).count }

    /// Every rule the request matches, each once, in rule-file order; rules above
    /// `paranoiaLevel` are not evaluated, and a rule's exclusions that hold for the request (and
    /// `client`, the address it came from) take it out or keep it from the parameters they name.
    public func evaluate(_ request: HTTPRequest, scratch: DetectionScratch, paranoiaLevel: Int = 4,
                         client: IPAddress? = nil) -> [RuleMatch] {
        let view = scratch.view
        view.reset(request: request, plan: plan)
        defer { view.finish() }
        scratch.prepare(ruleCount: rules.count)
        let prefilterRules = self.prefilterRules
        func scan(_ span: Range<Int>, table t: Int) {
            let table = prefilterTables[t]
            let base = prefilterRuleStart[t]
            for index in span {
                table.scan(view.bytes(index)) { pattern in scratch.mark(prefilterRules[base + pattern]) }
            }
        }
        let group = scratch.familyGroups(largestFamily)
        for f in 0..<(familyStart.count - 1) {
            let members = familyStart[f]..<familyStart[f + 1]
            let union = familyUnion[f]
            guard union >= 0 else {
                scan(view.span(prefilterBuffers[members.lowerBound]), table: members.lowerBound)
                continue
            }
            // Members whose transforms changed nothing share their parent's slices: group the
            // members by span (every span first: computing one may move the arena the scans
            // read) and scan each distinct span once.
            var distinct = 0
            for (member, p) in members.enumerated() {
                let span = view.span(prefilterBuffers[p])
                group[member] = -1
                for earlier in 0..<member where group[earlier] == earlier && view.span(prefilterBuffers[members.lowerBound + earlier]) == span {
                    group[member] = earlier
                    break
                }
                if group[member] < 0 {
                    group[member] = member
                    distinct += 1
                }
            }
            if distinct == 1 {
                scan(view.span(prefilterBuffers[members.lowerBound]), table: union)
                continue
            }
            let base = prefilterRuleStart[union]
            let table = prefilterTables[union]
            for leader in 0..<members.count where group[leader] == leader {
                let span = view.span(prefilterBuffers[members.lowerBound + leader])
                guard !span.isEmpty else { continue }
                // A span of one member: its own, smaller automaton.
                var shared = false
                for member in (leader + 1)..<members.count where group[member] == leader { shared = true; break }
                if !shared {
                    scan(span, table: members.lowerBound + leader)
                    continue
                }
                // The union automaton finds every member's patterns: keep the hits of the
                // members that hold this span.
                for index in span {
                    table.scan(view.bytes(index)) { pattern in
                        if group[unionMember[base + pattern]] == leader { scratch.mark(prefilterRules[base + pattern]) }
                    }
                }
            }
        }
        for i in 0..<unfiltered.count { scratch.mark(unfiltered[i]) }
        guard !scratch.candidates.isEmpty else { return [] }
        var matches: [RuleMatch] = []
        // Where each rule kept from some parameters would stand among the matches.
        var withoutParameters: [(rule: Int, position: Int, names: Set<[UInt8]>)] = []
        scratch.sortCandidates()
        for index in scratch.candidates where paranoia[index] <= paranoiaLevel {
            guard let match = evaluate(rule: index, view: view, scratch: scratch) else { continue }
            let exclusions = rules[index].exclusions
            if exclusions.isEmpty {
                matches.append(match)
                continue
            }
            let holding = exclusions.filter { $0.applies(to: request, client: client) }
            if holding.isEmpty {
                matches.append(match)
            } else if !holding.contains(where: { $0.parameters.isEmpty }) {
                withoutParameters.append((index, matches.count, holding.reduce(into: Set()) { $0.formUnion($1.parameters) }))
            }
        }
        guard !withoutParameters.isEmpty else { return matches }
        // Rules kept from some parameters: judged again on a view without them (rare: only
        // when such a rule matched), and put where they stand in rule-file order (last first,
        // so earlier positions stay valid).
        for (index, position, names) in withoutParameters.reversed() {
            view.reset(request: request, plan: plan, omittingArguments: names)
            if let match = evaluate(rule: index, view: view, scratch: scratch) { matches.insert(match, at: position) }
        }
        return matches
    }

    private func evaluate(rule index: Int, view: RequestView, scratch: DetectionScratch) -> RuleMatch? {
        let errorsBefore = scratch.regex.engineErrors
        defer {
            if scratch.regex.engineErrors != errorsBefore { scratch.regex.limitedRules.append(rules[index].id) }
        }
        var evidence: (buffer: Int, snippet: [UInt8])?
        for c in ruleConditions[index] {
            let condition = conditions[c]
            var found: (buffer: Int, snippet: [UInt8])?
            search: for b in condition.buffers {
                let buffer = conditionBuffers[b]
                let span = view.span(buffer)
                for index in span {
                    let value = view.bytes(index)
                    if let range = matches(condition, value, scratch) {
                        found = (buffer, Self.snippet(value, around: range))
                        break search
                    }
                }
            }
            if condition.negate {
                if found != nil { return nil }
            } else {
                guard let found else { return nil }
                if evidence == nil { evidence = found }
            }
        }
        let buffer = evidence?.buffer ?? conditionBuffers[conditions[ruleConditions[index].lowerBound].buffers.lowerBound]
        return RuleMatch(rule: rules[index], target: plan.entries[buffer].target.name, snippet: evidence?.snippet ?? [])
    }

    private func matches(_ condition: CompiledCondition, _ value: UnsafeRawBufferPointer, _ scratch: DetectionScratch) -> Range<Int>? {
        let literal = UnsafeRawBufferPointer(rebasing: literals[condition.literal])
        switch condition.operation {
        case .contains:
            return Self.find(literal, in: value).map { $0..<$0 + literal.count }
        case .equals:
            return value.elementsEqual(literal) ? 0..<value.count : nil
        case .startsWith:
            return value.starts(with: literal) ? 0..<literal.count : nil
        case .endsWith:
            return value.count >= literal.count && value[(value.count - literal.count)...].elementsEqual(literal)
                ? (value.count - literal.count)..<value.count : nil
        case .regex:
            return condition.operand >= 0 ? regexes[condition.operand].firstMatch(in: value, scratch: scratch.regex, limits: regexLimits) : nil
        case .detectSQLi:
            return SQLInjection.detect(value, tokens: &scratch.sqlTokens)
        case .detectXSS:
            return CrossSiteScripting.detect(value)
        case .pmFromFile:
            return phraseLists[condition.operand].firstMatch(in: value)
        }
    }

    /// First position of `needle` in `haystack`; an empty needle is found at 0.
    static func find(_ needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer) -> Int? {
        needle.isEmpty ? 0 : haystack.firstIndex(ofBytes: needle)
    }

    /// The match and some context, at most 80 bytes.
    static func snippet(_ value: UnsafeRawBufferPointer, around range: Range<Int>) -> [UInt8] {
        let context = 24
        let start = max(0, range.lowerBound - context)
        let end = min(value.count, max(range.upperBound, range.lowerBound + 1) + context, start + 80)
        return Array(value[start..<max(start, end)])
    }
}

/// Per-thread working memory for evaluation (candidate marks, regex match data).
public final class DetectionScratch {
    let regex = RegexScratch()
    let view = RequestView()
    /// The SQL tokenizer's token list, reused for every value.
    var sqlTokens: [SQLInjection.Token] = []
    /// One flag per rule of the current rule set (plain memory: `mark` runs per literal hit).
    private var marked = UnsafeMutableBufferPointer<Bool>(start: nil, count: 0)
    private(set) var candidates: [Int] = []
    /// Per member of a prefilter family, the first member with the same span.
    private var groups = UnsafeMutableBufferPointer<Int>(start: nil, count: 0)

    public init() {}

    deinit {
        marked.deallocate()
        groups.deallocate()
    }

    /// Room for grouping a family of `size` buffers (kept between requests).
    func familyGroups(_ size: Int) -> UnsafeMutableBufferPointer<Int> {
        if groups.count < size {
            groups.deallocate()
            groups = .allocate(capacity: size)
            groups.initialize(repeating: 0)
        }
        return groups
    }

    /// Ids of the rules whose regex hit its limit in the last evaluation (judged not matching):
    /// an inline proxy treats the request as not judged (`--fail-open`/`--fail-closed`).
    public var limitedRules: [Int] { regex.limitedRules }

    func prepare(ruleCount: Int) {
        regex.limitedRules.removeAll(keepingCapacity: true)
        if marked.count != ruleCount {
            // Another rule set (a reload): start from a clean slate of the right size.
            marked.deallocate()
            marked = .allocate(capacity: ruleCount)
            marked.initialize(repeating: false)
        } else {
            for index in candidates { marked[index] = false }
        }
        candidates.removeAll(keepingCapacity: true)
    }

    /// Rule-file order, so matches come out in it.
    func sortCandidates() { candidates.sort() }

    @inline(__always) func mark(_ index: Int) {
        if !marked[index] {
            marked[index] = true
            candidates.append(index)
        }
    }
}

