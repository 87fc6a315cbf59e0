import NetworkTypes

/// The phrases of a `pmFromFile` list: one phrase per line, `#` starts a comment line, blank
/// lines are skipped, matching ignores ASCII case. A header line `# match: word` or
/// `# match: command` narrows where a phrase counts (see `Mode`); the default is anywhere.
/// Lists live beside the rule file (`rules/data/*.txt`) so that reviewers read them as lists.
public final class PhraseList: Sendable {
    public enum Mode: String, Sendable {
        /// Anywhere in the value (`etc/passwd`, `php://filter`).
        case substring
        /// Not inside a longer word (`passthru`, `Runtime`): the bytes either side are not
        /// letters, digits or `_`.
        case word
        /// A call: a whole word followed by `(`, directly or after a comment (`system(`,
        /// `base64_decode/**/(`); "the system (OS)" and "the system is down" are not.
        case call
        /// Where a shell would run it as a command: after `;`, `|`, `&`, a newline, a backtick
        /// or `$(`, optionally behind a directory (`;/bin/cat`), and followed by the end, a
        /// blank or a shell separator (`;id`, `| cat /etc/passwd`, `` `whoami` ``). "Cats and
        /// dogs" or "find a shop" are not.
        case command
    }

    public static let maxPhrases = 100_000
    public static let maxPhraseBytes = 256

    public let path: String
    public let mode: Mode
    /// Lowercased.
    public let phrases: [[UInt8]]
    private let automaton: AhoCorasick

    public init(path: String, mode: Mode, phrases: [[UInt8]]) {
        self.path = path
        self.mode = mode
        self.phrases = phrases.map { $0.map(ASCII.lowercased) }
        automaton = AhoCorasick(patterns: self.phrases)
    }

    /// Reads a list file; a clear error for what cannot be used.
    public static func load(path: String) throws(RuleFileError) -> PhraseList {
        let bytes: [UInt8]
        do { bytes = try FileReading.bytes(path, limit: RuleFile.maxFileBytes) } catch {
            throw RuleFileError("\(path): cannot read the phrase list (\(error.description))")
        }
        return try parse(bytes, path: path)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws(RuleFileError) -> PhraseList {
        var mode = Mode.substring
        var phrases: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        for (number, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var line = raw[...]
            while let last = line.last, last == 0x0D || last == 0x20 || last == 0x09 { line = line.dropLast() }
            while let first = line.first, first == 0x20 || first == 0x09 { line = line.dropFirst() }
            guard !line.isEmpty else { continue }
            if line.first == UInt8(ascii: "#") {
                let text = String(decoding: line.dropFirst(), as: UTF8.self).trimming(" \t")
                if text.lowercased().hasPrefix("match:") {
                    let name = text.dropFirst(6).trimming(" \t")
                    guard let parsed = Mode(rawValue: name) else {
                        throw RuleFileError("\(path):\(number + 1): unknown match mode '\(name)'; modes are substring, word, call, command")
                    }
                    mode = parsed
                }
                continue
            }
            guard line.count <= maxPhraseBytes else {
                throw RuleFileError("\(path):\(number + 1): a phrase is at most \(maxPhraseBytes) bytes")
            }
            let phrase = line.map(ASCII.lowercased)
            if seen.insert(phrase).inserted { phrases.append(phrase) }
            guard phrases.count <= maxPhrases else { throw RuleFileError("\(path): more than \(maxPhrases) phrases") }
        }
        guard !phrases.isEmpty else { throw RuleFileError("\(path): the phrase list has no phrases") }
        return PhraseList(path: path, mode: mode, phrases: phrases)
    }

    /// The first phrase found where its mode lets it count, or nil.
    public func firstMatch(in value: UnsafeRawBufferPointer) -> Range<Int>? {
        var found: Range<Int>?
        automaton.table.scanEnds(value) { pattern, end in
            let range = (end - phrases[pattern].count)..<end
            guard accepts(range, in: value) else { return true }
            found = range
            return false
        }
        return found
    }

    func accepts(_ range: Range<Int>, in value: UnsafeRawBufferPointer) -> Bool {
        switch mode {
        case .substring:
            return true
        case .word:
            return (range.lowerBound == 0 || !Self.isWordByte(value[range.lowerBound - 1]))
                && (range.upperBound == value.count || !Self.isWordByte(value[range.upperBound]))
        case .call:
            guard range.lowerBound == 0 || !Self.isWordByte(value[range.lowerBound - 1]) else { return false }
            var i = range.upperBound
            while i < value.count {
                switch value[i] {
                case UInt8(ascii: "/") where i + 1 < value.count && value[i + 1] == UInt8(ascii: "*"):
                    // PHP and C comments between a name and its '(' (`system/**/(`).
                    var j = i + 2
                    while j + 1 < value.count && !(value[j] == UInt8(ascii: "*") && value[j + 1] == UInt8(ascii: "/")) { j += 1 }
                    i = j + 2
                case UInt8(ascii: "("): return true
                default: return false
                }
            }
            return false
        case .command:
            if range.upperBound < value.count && !Self.endsCommand(value[range.upperBound]) { return false }
            // Back over a directory (`/usr/bin/`), a quote or blanks to what comes before.
            var i = range.lowerBound
            if i > 0 && value[i - 1] == UInt8(ascii: "/") {
                while i > 0 && (Self.isWordByte(value[i - 1]) || value[i - 1] == UInt8(ascii: "/") || value[i - 1] == UInt8(ascii: ".")) { i -= 1 }
            }
            while i > 0 && (value[i - 1] == 0x20 || value[i - 1] == 0x09 || value[i - 1] == UInt8(ascii: "'") || value[i - 1] == UInt8(ascii: "\"")) { i -= 1 }
            guard i > 0 else { return false }
            switch value[i - 1] {
            case UInt8(ascii: ";"), UInt8(ascii: "|"), UInt8(ascii: "&"), 0x0A, 0x0D, UInt8(ascii: "`"):
                return true
            case UInt8(ascii: "("):
                return i >= 2 && value[i - 2] == UInt8(ascii: "$")
            default:
                return false
            }
        }
    }

    @inline(__always) static func isWordByte(_ b: UInt8) -> Bool {
        (b | 0x20) &- 0x61 < 26 || b &- 0x30 < 10 || b == UInt8(ascii: "_")
    }

    @inline(__always) static func endsCommand(_ b: UInt8) -> Bool {
        switch b {
        case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ";"), UInt8(ascii: "|"), UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"),
             UInt8(ascii: ")"), UInt8(ascii: "`"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "$"),
             UInt8(ascii: ","):
            return true
        default:
            return false
        }
    }
}
