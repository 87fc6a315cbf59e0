import CPCRE2

/// A PCRE2 pattern compiled once, JIT-compiled when the platform allows. Byte mode (no UTF):
/// request data is arbitrary bytes and must never make matching fail.
///
/// PCRE2 over Swift Regex: Swift Regex works on `String` (a conversion per value) and measured
/// several times slower per match here; PCRE2's JIT matches raw bytes (see bench/detection).
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
    public func firstMatch(in bytes: [UInt8], scratch: DetectionScratch) -> Range<Int>? {
        bytes.withUnsafeBytes { firstMatch(in: $0, scratch: scratch.regex) }
    }

    /// Range of the first match, using the caller's scratch match data (one per thread).
    func firstMatch(in bytes: UnsafeRawBufferPointer, scratch: RegexScratch) -> Range<Int>? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            // An empty value still has to be matched (`^$`, negations); PCRE2 wants a pointer.
            var zero: UInt8 = 0
            return withUnsafePointer(to: &zero) { match($0, 0, scratch) }
        }
        return match(base, bytes.count, scratch)
    }

    private func match(_ base: UnsafePointer<UInt8>, _ count: Int, _ scratch: RegexScratch) -> Range<Int>? {
        let result = pcre2_match_8(code, base, count, 0, 0, scratch.matchData, nil)
        // > 0: matched; 0: matched but the vector was too small (cannot happen with one pair);
        // < 0: no match, or a matching error such as a resource limit: treated as no match.
        guard result >= 0 else {
            if result != -1 { scratch.engineErrors += 1 }   // PCRE2_ERROR_NOMATCH is -1
            return nil
        }
        let vector = pcre2_get_ovector_pointer_8(scratch.matchData)!
        let start = Int(vector[0]), end = Int(vector[1])
        guard start <= end, end <= count else { return 0..<0 }
        return start..<end
    }
}

/// Per-thread PCRE2 state: match data is written by every match.
final class RegexScratch {
    let matchData: OpaquePointer
    /// Matches that ended in an error (a resource limit) rather than a verdict.
    var engineErrors = 0
    init() {
        matchData = pcre2_match_data_create_8(1, nil)
    }

    deinit {
        pcre2_match_data_free_8(matchData)
    }
}
