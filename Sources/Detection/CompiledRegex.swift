import CPCRE2

/// A PCRE2 pattern compiled once, JIT-compiled when the platform allows. Byte mode (no UTF):
/// request data is arbitrary bytes and must never make matching fail.
///
/// PCRE2 over Swift Regex: Swift Regex works on `String` (a conversion per value) and measured
/// several times slower per match here; PCRE2's JIT matches raw bytes (see bench/detection).
///
/// Sendable because PCRE2 compiled code is read-only after `init` (its documentation allows
/// sharing it between threads); match data and context are per thread (`RegexScratch`).
public final class CompiledRegex: @unchecked Sendable {
    public let pattern: String
    private let code: OpaquePointer

    public init(pattern: String, caseInsensitive: Bool) throws(RuleFileError) {
        self.pattern = pattern
        var errorCode: Int32 = 0
        var errorOffset = 0
        let options = caseInsensitive ? UInt32(PCRE2_CASELESS) : 0
        let compiled = Array(pattern.utf8).withUnsafeBufferPointer {
            pcre2_compile_8($0.baseAddress, $0.count, options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            throw RuleFileError("\(Self.message(for: errorCode)) at offset \(errorOffset)")
        }
        code = compiled
        // Without JIT (some hardened kernels forbid executable memory) the interpreter still works.
        _ = pcre2_jit_compile_8(code, UInt32(PCRE2_JIT_COMPLETE))
    }

    deinit {
        pcre2_code_free_8(code)
    }

    /// The problem with a pattern, or nil when it compiles.
    public static func validate(_ pattern: String, caseInsensitive: Bool) -> String? {
        do {
            _ = try CompiledRegex(pattern: pattern, caseInsensitive: caseInsensitive)
            return nil
        } catch {
            return error.description
        }
    }

    static func message(for code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = buffer.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(code, $0.baseAddress, 256) }
        return length > 0 ? String(decoding: buffer[0..<Int(length)], as: UTF8.self) : "error \(code)"
    }

    /// Range of the first match in `bytes` (benchmarks and tools).
    public func firstMatch(in bytes: [UInt8], scratch: DetectionScratch, limits: RegexLimits = RegexLimits()) -> Range<Int>? {
        bytes.withUnsafeBytes { firstMatch(in: $0, scratch: scratch.regex, limits: limits) }
    }

    /// Range of the first match, using the caller's scratch match data (one per thread). A
    /// match that reaches `limits` ends as no match and is counted in `scratch.engineErrors`.
    func firstMatch(in bytes: UnsafeRawBufferPointer, scratch: RegexScratch, limits: RegexLimits) -> Range<Int>? {
        scratch.apply(limits)
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            // An empty value still has to be matched (`^$`, negations); PCRE2 wants a pointer.
            var zero: UInt8 = 0
            return withUnsafePointer(to: &zero) { match($0, 0, scratch) }
        }
        return match(base, bytes.count, scratch)
    }

    private func match(_ base: UnsafePointer<UInt8>, _ count: Int, _ scratch: RegexScratch) -> Range<Int>? {
        let result = pcre2_match_8(code, base, count, 0, 0, scratch.matchData, scratch.matchContext)
        // > 0: matched; 0: matched but the vector was too small (cannot happen with one pair);
        // < 0: no match, or a matching error such as a resource limit: treated as no match.
        guard result >= 0 else {
            if result != PCRE2_ERROR_NOMATCH { scratch.engineErrors += 1 }
            return nil
        }
        let vector = pcre2_get_ovector_pointer_8(scratch.matchData)!
        let start = Int(vector[0]), end = Int(vector[1])
        guard start <= end, end <= count else { return 0..<0 }
        return start..<end
    }
}

/// How much work one regex match may do before it is given up: without a bound, a pattern
/// with nested repetition and a value crafted for it (`(a+)+$` on `aaaa…b`) backtracks for
/// minutes and blinds the thread. A match given up counts as no match, is counted, and names
/// its rule (the summary and the statistics say so; the inline proxy treats the request as not
/// judged: forwarded by default, refused with `--fail-closed`).
///
/// `matchLimit` bounds backtracking steps in the JIT and the interpreter alike; `depthLimit`
/// bounds the interpreter's nesting (the JIT ignores it: its stack is fixed at 32 KiB, and a
/// match that needs more fails the same way). PCRE2's own defaults (10 million each) are sized
/// for programs that must match, not for a sensor that must keep up.
public struct RegexLimits: Sendable, Equatable {
    public static let defaultMatchLimit: UInt32 = 100_000
    public static let defaultDepthLimit: UInt32 = 10_000

    public var matchLimit: UInt32
    public var depthLimit: UInt32

    public init(matchLimit: UInt32 = RegexLimits.defaultMatchLimit, depthLimit: UInt32 = RegexLimits.defaultDepthLimit) {
        precondition(matchLimit > 0 && depthLimit > 0, "a regex limit of 0 would fail every match")
        self.matchLimit = matchLimit
        self.depthLimit = depthLimit
    }
}

/// Per-thread PCRE2 state: match data is written by every match; the match context carries
/// the limits of the rule set being evaluated.
final class RegexScratch {
    let matchData: OpaquePointer
    let matchContext: OpaquePointer
    private var applied: RegexLimits?
    /// Matches that ended in an error (a resource limit) rather than a verdict; `RuleSet`
    /// compares it around each rule to fill `limitedRules`.
    var engineErrors = 0
    /// Ids of the rules whose regex ended in such an error during the current request.
    var limitedRules: [Int] = []

    init() {
        matchData = pcre2_match_data_create_8(1, nil)
        guard let context = pcre2_match_context_create_8(nil) else {
            fatalError("PCRE2 could not allocate a match context (out of memory)")
        }
        matchContext = context
    }

    deinit {
        pcre2_match_context_free_8(matchContext)
        pcre2_match_data_free_8(matchData)
    }

    /// Sets the context's limits when they differ from those last set (a reload, or another
    /// rule set on this thread): one comparison per match otherwise.
    @inline(__always) func apply(_ limits: RegexLimits) {
        guard applied != limits else { return }
        pcre2_set_match_limit_8(matchContext, limits.matchLimit)
        pcre2_set_depth_limit_8(matchContext, limits.depthLimit)
        applied = limits
    }
}
