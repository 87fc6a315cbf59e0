import NetworkTypes

/// What every match of a regex must contain, for the prefilter: a set of literals of which
/// each match holds at least one (lowercased; the prefilter folds case). Conservative by
/// construction: anything not understood requires nothing, and an alternation requires
/// something only when each branch does. With sets rather than one literal, rules written
/// as alternations (`(sleep|benchmark|waitfor)…`, `['"`]\s*(or|and)…`) are prefiltered too,
/// instead of running their regex on every buffer of every request.
enum RegexLiteral {
    /// The requirement as literals (any one of them is in every match); nil when none is known.
    static func requiredSet(in pattern: String) -> [[UInt8]]? {
        var parser = Parser(Array(pattern.utf8))
        let result = parser.alternation()
        guard parser.atEnd, !parser.unsure, let result, !result.isEmpty, result.allSatisfy({ !$0.isEmpty }) else { return nil }
        return Array(Set(result)).sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The single best literal when there is one of at least 3 bytes (no alternatives).
    static func required(in pattern: String) -> String? {
        guard let set = requiredSet(in: pattern), set.count == 1, set[0].count >= 3 else { return nil }
        return String(decoding: set[0], as: UTF8.self)
    }

    /// The weakest member decides how selective a set is.
    static func strength(_ set: [[UInt8]]) -> Int { set.map(\.count).min() ?? 0 }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0
        /// Syntax that changes what the literal characters mean (`(?x)`, `\Q`): give up.
        var unsure = false
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { i >= bytes.count }
        func peek(_ offset: Int = 0) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

        /// `a|b|c`: something only if every branch requires something.
        mutating func alternation() -> [[UInt8]]? {
            var union: [[UInt8]] = []
            var known = true
            while true {
                let branch = sequence()
                if let branch { union += branch } else { known = false }
                guard peek() == UInt8(ascii: "|") else { break }
                i += 1
            }
            return known ? union : nil
        }

        enum Atom {
            case char(UInt8)
            /// Matches nothing or something unknown (classes, `.`, `\s`, back-references).
            case opaque
            /// Consumes nothing (`^`, `$`, `\b`, inline flags, look-arounds).
            case zeroWidth
            case set([[UInt8]]?)
        }

        /// The best requirement among the sequence's mandatory parts.
        mutating func sequence() -> [[UInt8]]? {
            var best: [[UInt8]]?
            var run: [UInt8] = []
            func consider(_ candidate: [[UInt8]]) {
                guard !candidate.isEmpty else { return }
                if let current = best {
                    let (a, b) = (strength(candidate), strength(current))
                    if a > b || (a == b && candidate.count < current.count) { best = candidate }
                } else {
                    best = candidate
                }
            }
            func endRun() {
                if !run.isEmpty { consider([run]) }
                run = []
            }
            while let c = peek(), c != UInt8(ascii: "|"), c != UInt8(ascii: ")") {
                let atom = self.atom()
                let (minimum, repeats) = quantifier()
                switch atom {
                case .zeroWidth:
                    continue
                case .char(let byte) where minimum >= 1:
                    run.append(ASCII.lowercased(byte))
                    if repeats { endRun() }  // `ab+c`: "ab" is certain, what follows the b's is another run
                case .set(let set?) where minimum >= 1:
                    endRun()
                    consider(set)
                default:
                    endRun()
                }
            }
            endRun()
            return best
        }

        /// `?`, `*`, `+`, `{m,n}` (and their lazy or possessive forms): (minimum, can repeat).
        mutating func quantifier() -> (Int, Bool) {
            var result = (1, false)
            switch peek() {
            case UInt8(ascii: "?"): i += 1; result = (0, false)
            case UInt8(ascii: "*"): i += 1; result = (0, true)
            case UInt8(ascii: "+"): i += 1; result = (1, true)
            case UInt8(ascii: "{"):
                var j = i + 1
                var digits: [UInt8] = []
                while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39 { digits.append(bytes[j]); j += 1 }
                guard !digits.isEmpty || (j < bytes.count && bytes[j] == UInt8(ascii: ",")) else { return result }
                while j < bytes.count, bytes[j] != UInt8(ascii: "}") { j += 1 }
                guard j < bytes.count else { return result }
                i = j + 1
                let minimum = Int(String(decoding: digits, as: UTF8.self)) ?? 0
                result = (minimum, true)
            default:
                return result
            }
            if let next = peek(), next == UInt8(ascii: "?") || next == UInt8(ascii: "+") { i += 1 }
            return result
        }

        mutating func atom() -> Atom {
            let c = bytes[i]
            i += 1
            switch c {
            case UInt8(ascii: "\\"):
                return escape()
            case UInt8(ascii: "."):
                return .opaque
            case UInt8(ascii: "^"), UInt8(ascii: "$"):
                return .zeroWidth
            case UInt8(ascii: "["):
                return characterClass()
            case UInt8(ascii: "("):
                return group()
            default:
                return .char(c)
            }
        }

        mutating func escape() -> Atom {
            guard let c = peek() else { return .opaque }
            i += 1
            switch c {
            case UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "A"), UInt8(ascii: "z"), UInt8(ascii: "Z"), UInt8(ascii: "G"):
                return .zeroWidth
            case UInt8(ascii: "n"): return .char(0x0A)
            case UInt8(ascii: "r"): return .char(0x0D)
            case UInt8(ascii: "t"): return .char(0x09)
            case UInt8(ascii: "x"):
                if peek() == UInt8(ascii: "{") {
                    while let d = peek(), d != UInt8(ascii: "}") { i += 1 }
                    i += 1
                    return .opaque
                }
                if let h = peek(), let l = peek(1), let high = ASCII.hexValue(h), let low = ASCII.hexValue(l) {
                    i += 2
                    return .char(high << 4 | low)
                }
                return .opaque
            case UInt8(ascii: "Q"), UInt8(ascii: "E"):
                unsure = true
                return .opaque
            case UInt8(ascii: "p"), UInt8(ascii: "P"), UInt8(ascii: "N"), UInt8(ascii: "k"), UInt8(ascii: "g"), UInt8(ascii: "o"):
                // `\p{L}`, `\k<name>`, `\g{1}`, `\o{17}`: the braces belong to the escape.
                if let open = peek(), open == UInt8(ascii: "{") || open == UInt8(ascii: "<") || open == UInt8(ascii: "'") {
                    let close = open == UInt8(ascii: "{") ? UInt8(ascii: "}") : (open == UInt8(ascii: "<") ? UInt8(ascii: ">") : open)
                    i += 1
                    while let d = peek(), d != close { i += 1 }
                    i += 1
                } else if c != UInt8(ascii: "g") && c != UInt8(ascii: "k") {
                    i += 1  // `\pL`: a one-letter property
                }
                return .opaque
            case UInt8(ascii: "c"):
                i += 1  // `\cX`: a control character
                return .opaque
            default:
                // Letters and digits are classes, back-references or other specials; punctuation is itself.
                let isWord = (c | 0x20) &- 0x61 < 26 || c &- 0x30 < 10
                return isWord ? .opaque : .char(c)
            }
        }

        /// A short class of plain characters (`['"`]`) requires one of them; anything else nothing.
        mutating func characterClass() -> Atom {
            var members: [UInt8] = []
            var plain = true
            if peek() == UInt8(ascii: "^") { plain = false; i += 1 }
            var first = true
            while let c = peek() {
                if c == UInt8(ascii: "]") && !first { i += 1; break }
                first = false
                i += 1
                if c == UInt8(ascii: "\\") {
                    guard let e = peek() else { break }
                    i += 1
                    let isWord = (e | 0x20) &- 0x61 < 26 || e &- 0x30 < 10
                    if isWord { plain = false } else { members.append(e) }
                } else if c == UInt8(ascii: "-"), !members.isEmpty, let next = peek(), next != UInt8(ascii: "]") {
                    plain = false  // a range
                } else if c == UInt8(ascii: "["), peek() == UInt8(ascii: ":") {
                    plain = false  // POSIX class: skip to its end
                    while let d = peek(), d != UInt8(ascii: "]") { i += 1 }
                    i += 1
                } else {
                    members.append(c)
                }
            }
            guard plain, !members.isEmpty, members.count <= 6 else { return .opaque }
            return .set(Array(Set(members.map(ASCII.lowercased))).sorted().map { [$0] })
        }

        mutating func group() -> Atom {
            var zeroWidth = false
            if peek() == UInt8(ascii: "?") {
                i += 1
                switch peek() {
                case UInt8(ascii: ":"):
                    i += 1
                case UInt8(ascii: "="), UInt8(ascii: "!"):
                    i += 1
                    zeroWidth = true
                case UInt8(ascii: "<") where peek(1) == UInt8(ascii: "=") || peek(1) == UInt8(ascii: "!"):
                    i += 2
                    zeroWidth = true
                case UInt8(ascii: "<"), UInt8(ascii: "P"), UInt8(ascii: "'"):
                    // Named group: skip the name.
                    while let c = peek(), c != UInt8(ascii: ">"), c != UInt8(ascii: "'") { i += 1 }
                    i += 1
                default:
                    // Inline flags `(?i)` or `(?i:...)`; extended mode (`x`) makes spaces mean nothing.
                    while let c = peek(), c != UInt8(ascii: ")"), c != UInt8(ascii: ":") {
                        if c == UInt8(ascii: "x") { unsure = true }
                        i += 1
                    }
                    if peek() == UInt8(ascii: ")") {
                        i += 1
                        return .zeroWidth
                    }
                    i += 1
                }
            }
            let inner = alternation()
            if peek() == UInt8(ascii: ")") { i += 1 }
            return zeroWidth ? .zeroWidth : .set(inner)
        }
    }
}
