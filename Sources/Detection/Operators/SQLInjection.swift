import NetworkTypes

/// Finds SQL injection by what SQL a value turns into, in the spirit of libinjection: the value
/// is tokenized as SQL three times, as if it sat bare in a query, inside a single-quoted string
/// and inside a double-quoted one, and the token classes are matched against the shapes that
/// injections take (a string broken out of and followed by an operator or a comment, a
/// tautology after a value, UNION ... SELECT, a statement stacked after `;`, the time-delay and
/// error-based functions). Words alone are never enough: "order by date", "select a plan" or
/// "O'Brien and Smith" have no such shape, which is what keeps it quiet on ordinary text.
public enum SQLInjection {
    /// Token classes, as letters (so shapes read like libinjection's fingerprints).
    enum Kind: UInt8 {
        case string = 0x73        // s
        case number = 0x31        // 1
        case bareword = 0x6E      // n
        case function = 0x66      // f: a word followed by '('
        case keyword = 0x6B       // k
        case union = 0x55         // U
        case statement = 0x45     // E: SELECT, INSERT, DROP, EXEC ...
        case logic = 0x26         // &: AND, OR, XOR, &&, ||
        case op = 0x6F            // o
        case variable = 0x76      // v
        case comment = 0x63       // c
        case open = 0x28          // (
        case close = 0x29         // )
        case comma = 0x2C         // ,
        case semicolon = 0x3B     // ;
        case other = 0x3F         // ?
    }

    struct Token {
        var kind: Kind
        /// For keywords and functions: which one (see `Word`).
        var word: Word = .none
        var start: Int
        var end: Int
    }

    /// The words whose identity matters, not only their class.
    enum Word: UInt8 {
        case none, order, group, by, having, limit, into, outfile, procedure, from, `case`, when, then, end, all, distinct, select
        case `where`, null, truth
        /// Comparisons spelt as words: LIKE, RLIKE, REGEXP, SOUNDS, GLOB, IN, BETWEEN; IS and NOT.
        case like, `is`, not, `in`
        /// Arithmetic spelt as words: DIV, MOD.
        case arithmetic
        /// Statements that need a partner word to be SQL (`DROP TABLE`, `INSERT INTO` ...).
        case drop, insert, update, delete, exec, declare, waitfor, shutdown
        case dangerousFunction, systemObject, delay
    }

    /// The quoting context a value is read in: as if it sat bare in a query, or inside a
    /// single- or double-quoted string the query opened.
    enum Context: UInt8 {
        case bare = 0
        case single = 0x27
        case double = 0x22
    }

    /// The range of the value that makes it an injection, or nil.
    public static func detect(_ value: UnsafeRawBufferPointer) -> Range<Int>? {
        var tokens: [Token] = []
        return detect(value, tokens: &tokens)
    }

    /// `tokens`: working memory kept by the caller between values (a detection scratch), so
    /// that judging a value allocates nothing.
    static func detect(_ value: UnsafeRawBufferPointer, tokens: inout [Token]) -> Range<Int>? {
        guard value.count >= 2, plausible(value) else { return nil }
        for context in [Context.bare, .single, .double] {
            if context != .bare && value.firstIndex(of: context.rawValue, from: 0) == nil { continue }
            tokens.removeAll(keepingCapacity: true)
            tokenize(value, context: context.rawValue, into: &tokens)
            if let range = shape(tokens, in: value, context: context) { return range }
        }
        return nil
    }

    /// Cheap rejection: a value with none of the characters SQL needs to do anything.
    @inline(__always) static func plausible(_ value: UnsafeRawBufferPointer) -> Bool {
        for byte in value {
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ";"), UInt8(ascii: "="),
                 UInt8(ascii: "-"), UInt8(ascii: "#"), UInt8(ascii: "/"), UInt8(ascii: " "), UInt8(ascii: "<"),
                 UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: "&"), UInt8(ascii: "\t"), 0x0A, 0x0D, UInt8(ascii: "`"):
                return true
            default: continue
            }
        }
        return false
    }

    // MARK: tokens

    static func tokenize(_ s: UnsafeRawBufferPointer, context: UInt8, into tokens: inout [Token]) {
        var i = 0
        let n = s.count
        if context != 0 {
            // The value continues a string that the query opened: it ends at the first quote.
            guard let end = closingQuote(s, from: 0, quote: context) else { return }
            tokens.append(Token(kind: .string, start: 0, end: end + 1))
            i = end + 1
        }
        while i < n && tokens.count < 64 {
            let c = s[i]
            switch c {
            case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0xA0, 0x00:
                i += 1
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                let end = closingQuote(s, from: i + 1, quote: c) ?? n - 1
                tokens.append(Token(kind: .string, start: i, end: end + 1))
                i = end + 1
            case UInt8(ascii: "`"):
                // A MySQL quoted identifier.
                let end = closingQuote(s, from: i + 1, quote: c) ?? n - 1
                tokens.append(Token(kind: .bareword, start: i, end: end + 1))
                i = end + 1
            case UInt8(ascii: "#"):
                tokens.append(Token(kind: .comment, start: i, end: n))
                return
            case UInt8(ascii: "-") where i + 1 < n && s[i + 1] == UInt8(ascii: "-"):
                tokens.append(Token(kind: .comment, start: i, end: n))
                return
            case UInt8(ascii: "/") where i + 1 < n && s[i + 1] == UInt8(ascii: "*"):
                if i + 2 < n && s[i + 2] == UInt8(ascii: "!") {
                    // MySQL runs what a /*! ... */ comment holds: read on inside it.
                    i += 3
                    while i < n && isDigit(s[i]) { i += 1 }
                    continue
                }
                var end = i + 2
                while end + 1 < n && !(s[end] == UInt8(ascii: "*") && s[end + 1] == UInt8(ascii: "/")) { end += 1 }
                let closed = end + 1 < n
                if tokens.last?.kind != .comment { tokens.append(Token(kind: .comment, start: i, end: closed ? end + 2 : n)) }
                // An inline comment is whitespace to SQL: the shape goes on past it.
                if closed { tokens.removeLast() } else { return }
                i = closed ? end + 2 : n
            case UInt8(ascii: "*") where i + 1 < n && s[i + 1] == UInt8(ascii: "/"):
                i += 2
            case UInt8(ascii: "@"):
                var end = i + 1
                if end < n && s[end] == UInt8(ascii: "@") { end += 1 }
                while end < n && isWordByte(s[end]) { end += 1 }
                tokens.append(Token(kind: .variable, start: i, end: end))
                i = end
            case UInt8(ascii: "("): tokens.append(Token(kind: .open, start: i, end: i + 1)); i += 1
            case UInt8(ascii: ")"): tokens.append(Token(kind: .close, start: i, end: i + 1)); i += 1
            case UInt8(ascii: ","): tokens.append(Token(kind: .comma, start: i, end: i + 1)); i += 1
            case UInt8(ascii: ";"): tokens.append(Token(kind: .semicolon, start: i, end: i + 1)); i += 1
            case UInt8(ascii: "|") where i + 1 < n && s[i + 1] == UInt8(ascii: "|"),
                 UInt8(ascii: "&") where i + 1 < n && s[i + 1] == UInt8(ascii: "&"):
                tokens.append(Token(kind: .logic, start: i, end: i + 2)); i += 2
            case UInt8(ascii: "="), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "!"), UInt8(ascii: "|"), UInt8(ascii: "&"),
                 UInt8(ascii: "^"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"),
                 UInt8(ascii: "%"), UInt8(ascii: ":"):
                var end = i + 1
                while end < n, end - i < 3, isOperatorByte(s[end]) { end += 1 }
                // Consecutive operators fold into one (`<=>`, `!=`, `- -1`).
                if tokens.last?.kind == .op { tokens[tokens.count - 1].end = end } else { tokens.append(Token(kind: .op, start: i, end: end)) }
                i = end
            case UInt8(ascii: "."):
                if i + 1 < n && isDigit(s[i + 1]) {
                    i = number(s, from: i, into: &tokens)
                } else {
                    i += 1
                }
            default:
                if isDigit(c) {
                    i = number(s, from: i, into: &tokens)
                } else if isWordStart(c) {
                    i = word(s, from: i, into: &tokens)
                } else {
                    if tokens.last?.kind != .other { tokens.append(Token(kind: .other, start: i, end: i + 1)) }
                    i += 1
                }
            }
        }
    }

    /// The index of the quote that ends a string started before `from` (doubled quotes and
    /// backslash escapes stay inside), or nil.
    static func closingQuote(_ s: UnsafeRawBufferPointer, from: Int, quote: UInt8) -> Int? {
        var i = from
        while i < s.count {
            if s[i] == UInt8(ascii: "\\") { i += 2; continue }
            if s[i] == quote {
                if i + 1 < s.count && s[i + 1] == quote { i += 2; continue }
                return i
            }
            i += 1
        }
        return nil
    }

    static func number(_ s: UnsafeRawBufferPointer, from start: Int, into tokens: inout [Token]) -> Int {
        var i = start
        if i + 1 < s.count && s[i] == UInt8(ascii: "0") && (s[i + 1] | 0x20 == UInt8(ascii: "x") || s[i + 1] | 0x20 == UInt8(ascii: "b")) {
            i += 2
            while i < s.count && isHexDigit(s[i]) { i += 1 }
        } else {
            while i < s.count && (isDigit(s[i]) || s[i] == UInt8(ascii: ".")) { i += 1 }
            if i < s.count && s[i] | 0x20 == UInt8(ascii: "e") {
                var j = i + 1
                if j < s.count && (s[j] == UInt8(ascii: "+") || s[j] == UInt8(ascii: "-")) { j += 1 }
                if j < s.count && isDigit(s[j]) {
                    i = j
                    while i < s.count && isDigit(s[i]) { i += 1 }
                }
            }
        }
        // `1abc` is a word to most readers of it, not a number.
        if i < s.count && isWordByte(s[i]) { return word(s, from: start, into: &tokens) }
        tokens.append(Token(kind: .number, start: start, end: i))
        return i
    }

    static func word(_ s: UnsafeRawBufferPointer, from start: Int, into tokens: inout [Token]) -> Int {
        var end = start
        while end < s.count && (isWordByte(s[end]) || (s[end] == UInt8(ascii: ".") && end + 1 < s.count && isWordStart(s[end + 1]))) { end += 1 }
        var next = end
        while next < s.count && (s[next] == 0x20 || s[next] == 0x09 || s[next] == 0x0A || s[next] == 0x0D) { next += 1 }
        let calls = next < s.count && s[next] == UInt8(ascii: "(")
        let (kind, word) = classify(UnsafeRawBufferPointer(rebasing: s[start..<end]), calls: calls)
        // `UNION ALL` and `UNION DISTINCT` are one union.
        if kind == .keyword && (word == .all || word == .distinct), tokens.last?.kind == .union {
            tokens[tokens.count - 1].end = end
            return end
        }
        tokens.append(Token(kind: kind, word: word, start: start, end: end))
        return end
    }

    static func classify(_ text: UnsafeRawBufferPointer, calls: Bool) -> (Kind, Word) {
        guard text.count <= 64 else { return (.bareword, .none) }
        // Looked up by a case-folded hash, without building a lowercased copy: this runs for
        // every word of every value the detector reads (User-Agent and Referer included).
        if let known = lexicon[foldedHash(text)], known.matches(text) {
            if known.kind == .keyword || known.kind == .logic || known.kind == .op || known.kind == .union || known.kind == .statement {
                // `values(`, `in (`, `and(` stay what they are; an ordinary word with '(' is a call.
                return (known.kind, known.word)
            }
            return (calls ? .function : known.kind, known.word)
        }
        if calls {
            let dangerous = dangerousLexicon[foldedHash(text)]?.matches(text) ?? false
            return (.function, dangerous ? .dangerousFunction : .none)
        }
        // `information_schema.tables`, `mysql.user.password`: a catalogue name qualified.
        if let dot = text.firstIndex(of: UInt8(ascii: ".")), dot > 0 {
            let prefix = UnsafeRawBufferPointer(rebasing: text[..<dot])
            if let known = lexicon[foldedHash(prefix)], known.word == .systemObject, known.matches(prefix) { return (.bareword, .systemObject) }
        }
        return (.bareword, .none)
    }

    struct LexiconEntry {
        let lowercased: [UInt8]
        let kind: Kind
        let word: Word
        func matches(_ text: UnsafeRawBufferPointer) -> Bool {
            lowercased.withUnsafeBytes { ASCII.equalsIgnoringCase(text, lowercase: $0) }
        }
    }

    /// FNV-1a over the ASCII-lowercased bytes.
    @inline(__always) static func foldedHash(_ text: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text {
            hash = (hash ^ UInt64(ASCII.lowercased(byte))) &* 0x100_0000_01b3
        }
        return hash
    }

    static func insert(_ word: Substring, _ kind: Kind, _ meaning: Word, into table: inout [UInt64: LexiconEntry]) {
        let bytes = Array(word.utf8)
        let hash = bytes.withUnsafeBytes { foldedHash($0) }
        precondition(table[hash] == nil || table[hash]!.lowercased == bytes, "two SQL words share a hash: extend LexiconEntry to a list")
        table[hash] = LexiconEntry(lowercased: bytes, kind: kind, word: meaning)
    }

    /// The SQL words whose class or identity matters, lowercase.
    static let lexicon: [UInt64: LexiconEntry] = {
        var table: [UInt64: LexiconEntry] = [:]
        func add(_ words: String, _ kind: Kind, _ word: Word = .none) {
            for w in words.split(separator: " ") { insert(w, kind, word, into: &table) }
        }
        add("union intersect except minus", .union)
        add("select", .statement, .select)
        add("drop create alter truncate", .statement, .drop)
        add("insert replace", .statement, .insert)
        add("update", .statement, .update)
        add("delete", .statement, .delete)
        add("exec execute", .statement, .exec)
        add("declare", .statement, .declare)
        add("waitfor", .statement, .waitfor)
        add("shutdown", .statement, .shutdown)
        add("grant revoke handler rename", .statement)
        add("and or xor", .logic)
        add("like rlike regexp sounds glob between", .op, .like)
        add("in", .op, .in)
        add("is", .op, .is)
        add("not", .op, .not)
        add("div mod", .op, .arithmetic)
        add("collate escape", .op)
        add("from", .keyword, .from)
        add("order", .keyword, .order)
        add("group", .keyword, .group)
        add("by", .keyword, .by)
        add("having", .keyword, .having)
        add("limit offset", .keyword, .limit)
        add("into", .keyword, .into)
        add("outfile dumpfile", .keyword, .outfile)
        add("procedure", .keyword, .procedure)
        add("case", .keyword, .case)
        add("when", .keyword, .when)
        add("then", .keyword, .then)
        add("end", .keyword, .end)
        add("where", .keyword, .where)
        add("null", .keyword, .null)
        add("true false", .keyword, .truth)
        add("all", .keyword, .all)
        add("distinct", .keyword, .distinct)
        add("delay", .keyword, .delay)
        add("values set table database as on join else asc desc exists top", .keyword)
        for name in systemObjects { insert(name[...], .bareword, .systemObject, into: &table) }
        return table
    }()

    /// Functions that only an attack calls in a request: time delays, file access, error-based
    /// extraction, command execution.
    static let dangerousLexicon: [UInt64: LexiconEntry] = """
        sleep benchmark pg_sleep load_file extractvalue updatexml xp_cmdshell sp_executesql sp_oacreate \
        dbms_pipe.receive_message utl_http.request utl_inaddr.get_host_address dbms_lock.sleep \
        pg_read_file lo_import exp geometrycollection multipoint polygon linestring json_keys name_const \
        sys_eval sys_exec randomblob
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).reduce(into: [:]) { insert($1, .function, .dangerousFunction, into: &$0) }

    /// Names that only a query reaching into the database's own catalogue or its extended
    /// procedures uses: seen in a request, they are an attack.
    static let systemObjects = """
        information_schema xp_cmdshell xp_regread xp_dirtree xp_fileexist sp_oacreate sp_makewebtask sp_addlogin \
        sp_addsrvrolemember sp_executesql sysibm.sysdummy1 sysibm.systables sysibm.syscolumns pg_shadow pg_user \
        pg_database pg_catalog sqlite_master sqlite_schema mysql.user sys.objects sys.tables sysobjects syscolumns \
        sysdatabases all_tables user_tables dba_users v$version msysobjects
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    // MARK: shapes

    /// Whether the token classes make an injection, and where. Shapes are kept strict on
    /// purpose: ordinary text has quotes (inch marks, quotations, O'Brien), dashes and words like
    /// "not", "like" or "into", so an operator or a comment after a quote is evidence only where
    /// SQL would really continue.
    static func shape(_ tokens: [Token], in value: UnsafeRawBufferPointer, context: Context) -> Range<Int>? {
        guard !tokens.isEmpty else { return nil }
        let view = TokenView(tokens: tokens, value: value)
        if let found = view.anywhere(context: context) { return found }
        return view.afterBreak(context: context)
    }

    struct TokenView {
        let tokens: [Token]
        let value: UnsafeRawBufferPointer

        var count: Int { tokens.count }
        subscript(_ i: Int) -> Token? { i >= 0 && i < tokens.count ? tokens[i] : nil }
        func range(_ a: Int, _ b: Int) -> Range<Int> { tokens[a].start..<tokens[min(b, tokens.count - 1)].end }
        func skip(_ kind: Kind, from i: Int) -> Int {
            var j = i
            while j < tokens.count && tokens[j].kind == kind { j += 1 }
            return j
        }

        func isOperand(_ i: Int) -> Bool {
            guard let t = self[i] else { return false }
            switch t.kind {
            case .string, .number, .bareword, .variable, .function: return true
            case .keyword: return t.word == .null || t.word == .truth || t.word == .case
            default: return false
            }
        }

        /// `=`, `<>`, `!=`, `<`, `>=`, `<=>` and the comparison words; not arithmetic or bit operators.
        func isComparison(_ i: Int) -> Bool {
            guard let t = self[i], t.kind == .op else { return false }
            switch t.word {
            case .like, .is: return true
            // IN is a comparison only with its list: `x in (1,2)`, not "daughter in town".
            case .in: return self[i + 1]?.kind == .open
            case .none:
                for k in t.start..<t.end where value[k] == UInt8(ascii: "=") || value[k] == UInt8(ascii: "<") || value[k] == UInt8(ascii: ">") {
                    return true
                }
                return false
            default: return false
            }
        }

        /// A comparison and what it compares with, starting at the comparison; the index of the
        /// last token of it.
        func comparison(at i: Int) -> Int? {
            guard isComparison(i), let t = self[i] else { return nil }
            var j = i + 1
            if t.word == .is {
                if self[j]?.word == .not { j += 1 }
                return self[j]?.word == .null || self[j]?.word == .truth ? j : nil
            }
            if self[j]?.word == .not { j += 1 }
            j = skip(.open, from: j)
            if isOperand(j) || self[j]?.word == .select { return j }
            return nil
        }

        /// Where SQL plainly goes on after a point: nothing more, a comment, a logic operator,
        /// a closing bracket or a string the query's own quote will close.
        func continuesAsSQL(after i: Int) -> Bool {
            let j = skip(.close, from: i + 1)
            guard let next = self[j] else { return true }
            switch next.kind {
            case .comment, .logic, .semicolon: return true
            case .string: return j == count - 1 && !isClosedString(next)
            case .keyword: return next.word == .order || next.word == .group || next.word == .having || next.word == .limit || next.word == .into
            default: return false
            }
        }

        func isClosedString(_ t: Token) -> Bool {
            let quote = value[t.start]
            return t.end - t.start >= 2 && value[t.end - 1] == quote && (quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\""))
        }

        /// A comment that ends a query: `--` followed by a blank, a dash or nothing, `/*`, or a `#`
        /// with nothing after it (`#2 mom` and `--infant` are not).
        func isTerminatingComment(_ t: Token) -> Bool {
            let c = value[t.start]
            if c == UInt8(ascii: "#") {
                return value[(t.start + 1)..<t.end].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
            }
            if c == UInt8(ascii: "/") { return true }
            guard t.end - t.start > 2 else { return true }
            let after = value[t.start + 2]
            return after == 0x20 || after == 0x09 || after == 0x0A || after == 0x0D || after == UInt8(ascii: "-") || after == UInt8(ascii: "+")
        }

        /// A statement word with what makes it a statement: `DROP TABLE`, `INSERT INTO`,
        /// `EXEC xp_...`, `DECLARE @v`, `SELECT ... FROM`, `SHUTDOWN` ...
        func statement(at i: Int) -> Int? {
            guard let t = self[i], t.kind == .statement else { return nil }
            switch t.word {
            case .shutdown: return i
            case .drop: return self[i + 1]?.kind == .keyword && self[i + 2] != nil ? i + 2 : nil
            case .insert: return self[i + 1]?.word == .into ? i + 1 : nil
            case .update: return self[i + 2]?.word == .none && self[i + 2]?.kind == .keyword && self[i + 1]?.kind == .bareword ? i + 2 : nil
            case .delete: return self[i + 1]?.word == .from ? i + 1 : nil
            case .exec: return self[i + 1]?.kind == .variable || self[i + 1]?.kind == .open || self[i + 1]?.word == .systemObject ? i + 1 : nil
            case .declare: return self[i + 1]?.kind == .variable ? i + 1 : nil
            case .waitfor: return self[i + 1]?.word == .delay ? i + 1 : nil
            case .select: return select(at: i)
            default: return nil
            }
        }

        /// SELECT that reads as a query, not as the English verb: it reads a variable
        /// (`@@version`), calls a function and ends, or names what it reads FROM with SQL's
        /// punctuation (`*`, a comma, a call, a dotted name) or a system table.
        func select(at i: Int) -> Int? {
            guard let next = self[i + 1] else { return nil }
            if next.kind == .variable { return i + 1 }
            if next.kind == .function {
                // `select version()`, `select current_setting('port');`
                var depth = 0
                var j = i + 1
                while j < count {
                    if tokens[j].kind == .open { depth += 1 }
                    if tokens[j].kind == .close { depth -= 1; if depth == 0 { break } }
                    j += 1
                }
                if j < count && (j + 1 == count || self[j + 1]?.kind == .semicolon || self[j + 1]?.kind == .comment || self[j + 1]?.word == .from) {
                    return j
                }
            }
            var punctuated = false
            var j = i + 1
            while j < count && j < i + 24 {
                let t = tokens[j]
                if t.word == .from {
                    guard let source = self[j + 1] else { return nil }
                    if source.word == .systemObject || source.kind == .open || punctuated { return j + 1 }
                    if source.kind == .bareword && value[source.start..<source.end].contains(UInt8(ascii: ".")) { return j + 1 }
                    return nil
                }
                switch t.kind {
                case .comma, .function, .variable, .open: punctuated = true
                case .op where t.end - t.start == 1 && value[t.start] == UInt8(ascii: "*"): punctuated = true
                case .statement, .union, .semicolon: return nil
                default: break
                }
                j += 1
            }
            return nil
        }

        func reachesFurther(from i: Int, to end: Int) -> Bool {
            if tokens[i...end].contains(where: { $0.word == .systemObject || $0.kind == .variable || $0.kind == .function }) { return true }
            guard let after = self[end + 1] else { return false }
            switch after.kind {
            case .comment, .semicolon, .union, .logic: return true
            case .keyword: return after.word == .where || after.word == .order || after.word == .group || after.word == .limit || after.word == .into
            default: return false
            }
        }

        /// Shapes that are SQL wherever they stand.
        func anywhere(context: Context) -> Range<Int>? {
            for i in tokens.indices {
                let t = tokens[i]
                switch t.kind {
                case .union:
                    // UNION [ALL] [(] SELECT
                    let j = skip(.open, from: i + 1)
                    if self[j]?.word == .select { return range(i, j) }
                case .semicolon:
                    // a statement stacked after the query
                    if i > 0, let end = statement(at: i + 1) { return range(i, end) }
                case .function where t.word == .dangerousFunction:
                    return range(i, i + 1)
                case .function, .bareword:
                    if t.word == .systemObject { return range(i, i) }
                case .statement:
                    // a whole statement as the value, or after a bracket: `(select ...`, `exec master..xp_cmdshell`
                    if i == 0 || (i == 1 && context != .bare) || self[i - 1]?.kind == .open || self[i - 1]?.kind == .logic || self[i - 1]?.kind == .op,
                       let end = statement(at: i) {
                        // A whole statement typed as the value ("select * from tutorial", "delete
                        // from cart not working" in a search box) is text about SQL unless it reaches further: into the catalogue, a
                        // variable or a call (see `select`), or on to a clause, a comment or a
                        // second statement.
                        // (A URL's `?q=select * from x` in a Referer is the same text.)
                        let typed = i == 0 || (self[i - 1]?.kind == .op && value[tokens[i - 1].start] == UInt8(ascii: "="))
                        if typed && context == .bare && !reachesFurther(from: i, to: end) { continue }
                        return range(i, end)
                    }
                case .keyword where t.word == .case:
                    // CASE WHEN ... THEN ... END
                    if self[i + 1]?.word == .when,
                       let then = tokens[(i + 2)...].prefix(16).firstIndex(where: { $0.word == .then }),
                       tokens[then...].prefix(16).contains(where: { $0.word == .end }) { return range(i, then) }
                case .logic:
                    // a tautology or contradiction in a condition: `and 1=1`, `or 'a'='a'`, `or x=x`,
                    // `and 5650=convert(...)`, `and (select ...)`
                    let a = skip(.open, from: i + 1)
                    if self[a]?.word == .select, a > i + 1 { return range(i, a) }
                    guard context != .double || i > 1, isOperand(a), let left = self[a] else { break }
                    let op = skip(.close, from: a + 1)
                    guard let end = comparison(at: op), let right = self[end] else { break }
                    // "you or someone like you" is English: a word comparison needs a literal.
                    if self[op]?.word == .like && left.kind == .bareword { break }
                    let sameKind = left.kind == right.kind && left.kind != .function
                    if sameKind || (right.kind == .function && self[op].map({ value[$0.start] == UInt8(ascii: "=") }) == true) || right.word == .select {
                        return range(i, end)
                    }
                default:
                    break
                }
            }
            return nil
        }

        /// Shapes at the start: the value ends what the query had (a string, a number, a name, or
        /// nothing in a bare context) and SQL follows.
        func afterBreak(context: Context) -> Range<Int>? {
            var i = 0
            let first = tokens[0]
            if context == .bare {
                i = skip(.open, from: 0)
                if let t = self[i], t.kind == .number || t.kind == .bareword || t.kind == .variable { i += 1 }
            } else {
                guard first.kind == .string else { return nil }
                i = 1
            }
            let opened = i
            i = skip(.close, from: i)
            // Broken out of: a quote, a bracket, or (bare) a value that is followed by SQL at once.
            let broke = context != .bare || i > opened
            guard let next = self[i] else { return nil }
            switch next.kind {
            case .logic:
                let a = skip(.open, from: i + 1)
                guard let operand = self[a] else { return nil }
                if operand.kind == .function && context != .double { return range(0, a) }
                guard isOperand(a) else { return nil }
                let op = skip(.close, from: a + 1)
                if let end = comparison(at: op) {
                    // After a bare word ("rock and roll <3", "you or someone like you") only a
                    // comparison of like with like is a condition (`x or y=y`).
                    guard context == .bare && first.kind == .bareword && opened == 1 else { return range(0, end) }
                    if operand.kind == tokens[end].kind && self[op]?.word != .like { return range(0, end) }
                    return nil
                }
                // `' or 1 --`, `" or true--`, `' or 1` as the whole rest
                if operand.kind == .number || operand.word == .truth {
                    if let after = self[op] { return after.kind == .comment && isTerminatingComment(after) ? range(0, op) : nil }
                    return context == .single ? range(0, a) : nil
                }
                return nil
            case .op:
                guard broke else { return nil }
                if isComparison(i) {
                    // `1'='1`, `x' = 'x`, `admin' like 'a%`, `1') = (1`
                    guard let end = comparison(at: i), continuesAsSQL(after: end) else { return nil }
                    // In double quotes (inch marks, quoted search words: `"like" stamp`, `"<3"`)
                    // the query must visibly go on after the comparison.
                    if context == .double, self[skip(.close, from: end + 1)].map({ $0.kind == .string }) ?? true { return nil }
                    return range(0, end)
                }
                // Arithmetic after a quote only joins a query with a call or a subquery in it:
                // `'-sleep(5)-'`, `'+(select ...)+'`.
                let a = skip(.open, from: i + 1)
                if let t = self[a], (t.kind == .function && context == .single) || t.word == .select { return range(0, a) }
                return nil
            case .comment:
                // `admin'--`, `1) -- `, `admin'#`
                guard broke, isTerminatingComment(next) else { return nil }
                if context == .double || value[next.start] == UInt8(ascii: "#") {
                    // An inch mark or a quotation followed by a dash is text: only a bare name breaks out.
                    let broken = UnsafeRawBufferPointer(rebasing: value[first.start..<first.end])
                    if broken.contains(0x20) || broken.count < 2 { return nil }
                }
                return range(0, i)
            case .semicolon:
                guard broke, let end = statement(at: i + 1) else { return nil }
                return range(0, end)
            case .keyword:
                switch next.word {
                case .order, .group:
                    // `1 order by 1`, `' group by x having 1=1`
                    guard self[i + 1]?.word == .by, let what = self[i + 2] else { return nil }
                    return what.kind == .number || (broke && isOperand(i + 2) && continuesAsSQL(after: i + 2)) ? range(0, i + 2) : nil
                case .having:
                    guard isOperand(i + 1), let end = comparison(at: i + 2) else { return nil }
                    return range(0, end)
                case .into:
                    return broke && (self[i + 1]?.word == .outfile || self[i + 1]?.kind == .variable) ? range(0, i + 1) : nil
                case .procedure:
                    return broke && self[i + 1]?.kind == .function ? range(0, i + 1) : nil
                case .limit:
                    return broke && self[i + 1]?.kind == .number && continuesAsSQL(after: i + 1) ? range(0, i + 1) : nil
                default:
                    return nil
                }
            default:
                return nil
            }
        }
    }

    // MARK: bytes

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isHexDigit(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- 0x61 < 6 }
    @inline(__always) static func isWordStart(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 || b == UInt8(ascii: "_") || b == UInt8(ascii: "$") }
    @inline(__always) static func isWordByte(_ b: UInt8) -> Bool { isWordStart(b) || isDigit(b) }
    @inline(__always) static func isOperatorByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "="), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "!"), UInt8(ascii: "|"), UInt8(ascii: "&"),
             UInt8(ascii: "^"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
