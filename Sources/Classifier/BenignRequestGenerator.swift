/// Realistic benign requests with parameters, generated from a seed: names, words in several
/// languages, numbers, ids, dates, e-mails, UUIDs, tokens, JSON values and file names. Used to
/// measure false positives on the traffic the training files lack, and to augment training.
public struct BenignRequestGenerator {
    private var random: SplitMix

    /// Words of the site's own language (the trainer passes those of the benign file's paths),
    /// mixed with the built-in ones, so the model meets every ordinary word beside quotes and
    /// punctuation and cannot take an unfamiliar word for part of an attack.
    private let vocabulary: [String]

    public init(seed: UInt64, vocabulary: [String] = []) {
        random = SplitMix(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
        self.vocabulary = vocabulary
    }

    /// Letter runs of 3 to 14 ASCII letters from lines (lowercased, distinct, in sorted order).
    public static func vocabulary<S: Sequence>(of lines: S, limit: Int = 50_000) -> [String] where S.Element == [UInt8] {
        var words = Set<[UInt8]>()
        for line in lines {
            var word: [UInt8] = []
            for byte in line + [0] {
                let lower = byte | 0x20
                if lower >= 0x61 && lower <= 0x7A { word.append(lower); continue }
                if (3...14).contains(word.count) { words.insert(word) }
                word.removeAll(keepingCapacity: true)
            }
            if words.count >= limit { break }
        }
        return words.sorted { $0.lexicographicallyPrecedes($1) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// A built-in word or phrase, or (half the time, when there is one) a word of the vocabulary.
    private mutating func word() -> String {
        if !vocabulary.isEmpty, next() % 2 == 0 { return pick(vocabulary) }
        return pick(Self.words)
    }

    private mutating func next() -> UInt64 { random.next() }

    private mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    private mutating func number(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

    static let words = ["madrid", "london", "berlin", "paris", "tokyo", "new york", "shoes", "running shoes", "laptop", "coffee",
                        "weather", "pizza near me", "hotel", "flights", "jacket", "blue", "red dress", "iphone 15", "books",
                        "garden chair", "summer sale", "recipes", "news", "football", "guitar", "camera", "bike", "vacation",
                        "münchen", "café", "naïve", "zürich", "straße", "señor", "niño", "crème brûlée", "東京", "北京",
                        "москва", "привет", "مرحبا", "שלום", "istanbul", "são paulo", "kraków", "ελλάδα", "서울", "hà nội",
                        "o'brien", "rock & roll", "50% off", "c++", "a/b test", "q&a", "t-shirt", "what is love?", "hello world",
                        // Apostrophes and quotes in ordinary language (possessives, contractions,
                        // names, quoted phrases): without them the model took every quote for SQL.
                        "men's shoes", "women's jackets", "children's books", "don't stop me now", "what's new",
                        "can't log in", "it's a wonderful life", "l'oréal", "levi's 501", "macy's", "o'reilly",
                        "d'angelo", "rock 'n' roll", "\"exact phrase\"", "\"new york\" hotels", "st. patrick's day",
                        "i'm feeling lucky", "we're hiring", "côte d'ivoire", "mother's day gifts"]
    static let names = ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy", "mallory",
                        "oscar", "peggy", "trent", "victor", "walter", "zoë", "josé", "françois", "søren", "jürgen", "ana maría",
                        "o'connor", "d'souza", "o'neil"]
    static let keys = ["q", "query", "search", "s", "term", "page", "p", "id", "item", "product", "category", "cat", "sort",
                       "order", "lang", "locale", "ref", "utm_source", "utm_medium", "utm_campaign", "session", "token",
                       "user", "name", "email", "date", "from", "to", "start", "end", "limit", "offset", "filter", "view",
                       "tab", "mode", "format", "callback", "redirect", "next", "return", "file", "download", "uuid", "color",
                       "comment", "message", "text", "title", "description", "note", "body", "url", "link", "website", "data",
                       "fields", "tags", "expr", "phone", "address", "cursor", "state", "graphql"]
    static let paths = ["/", "/search", "/index.php", "/products", "/api/v1/items", "/api/v2/users", "/list", "/shop",
                        "/catalog/view", "/account/login", "/user/profile", "/blog", "/news/article", "/cart", "/checkout",
                        "/events", "/maps", "/download", "/wiki/index.php", "/forum/viewtopic.php", "/images/gallery",
                        "/static/js/app.js", "/track", "/oauth/callback", "/reports/export"]
    static let domains = ["example.com", "mail.example.org", "uni-heidelberg.de", "gmail.com", "company.co.uk"]
    static let extensions = ["pdf", "docx", "xlsx", "jpg", "png", "csv", "zip", "txt", "mp4"]

    private mutating func hex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomCharacter(next()) })
    }

    private mutating func value(for key: String) -> String {
        switch key {
        case "page", "p", "limit", "offset": return String(number(1...200))
        case "id", "item", "product": return next() % 2 == 0 ? String(number(1...9_999_999)) : "\(pick(["sku", "item", "p"]))-\(number(100...99999))"
        case "email", "user": return "\(pick(Self.names).replacingSpaces(".")).\(number(1...99))@\(pick(Self.domains))"
        case "date", "from", "to", "start", "end":
            return "20\(number(10...26))-\(String(number(1...12)).leftPadded(2))-\(String(number(1...28)).leftPadded(2))" + (next() % 3 == 0 ? "T\(String(number(0...23)).leftPadded(2)):\(String(number(0...59)).leftPadded(2)):00Z" : "")
        case "uuid", "session": return "\(hex(8))-\(hex(4))-4\(hex(3))-a\(hex(3))-\(hex(12))"
        case "token", "callback": return hex(number(16...64))
        case "lang", "locale": return pick(["en", "de", "fr-FR", "es_ES", "ja", "zh-CN", "pt-BR", "ar"])
        case "sort", "order": return pick(["price", "-price", "name,asc", "date desc", "relevance", "popularity"])
        case "redirect", "next", "return": return pick(["/account", "/cart?step=2", "https://www.example.com/welcome", "/"])
        case "file", "download": return "\(pick(["report", "invoice", "Q3 results", "photo_2024", "résumé", "slides-final"]))\(next() % 2 == 0 ? "-\(number(1...99))" : "").\(pick(Self.extensions))"
        case "filter": return "{\"status\":\"\(pick(["open", "closed", "all"]))\",\"tags\":[\"\(word())\"],\"limit\":\(number(1...50))}"
        case "name": return pick(Self.names)
        case "color": return pick(["#ff0000", "blue", "rgb(0,128,255)", "dark-green"])
        case "utm_source", "utm_medium", "utm_campaign", "ref": return pick(["newsletter", "google", "cpc", "spring_sale_2024", "twitter", "partner-42"])
        case "comment", "message", "text", "body", "note", "description": return next() % 3 == 0 ? technicalProse() : prose()
        case "title": return next() % 2 == 0 ? technicalProse() : sentence(words: number(2...6))
        case "url", "link", "website": return url()
        case "data": return next() % 2 == 0 ? json() : graphQL()
        case "graphql": return graphQL()
        case "fields", "tags": return list()
        case "expr": return expression()
        case "phone": return pick(["+1 (555) 010-\(number(1000...9999))", "+44 20 7946 \(number(1000...9999))", "(0\(number(10...99))) \(number(100...999))-\(number(1000...9999))", "+49 30 \(number(100000...999999))"])
        case "address": return "\(pick(["C/", "Calle", "Rue", "Apt. #\(number(1...40)),", "Flat \(number(1...9))b,", "Unit \(number(1...20))/"])) \(pick(Self.surnames)) \(number(1...300))\(pick(["", ", 3ºB", " (rear)", "; ring twice", " - 2nd floor"]))"
        case "cursor", "state": return token()
        default:
            // Quotes in ordinary language, composed so the model learns the shape (a letter, a
            // quote, letters) rather than a few phrases: possessives, contractions, quoted words.
            switch next() % 16 {
            case 0: return "\(next() % 2 == 0 ? pick(Self.owners) : word())'s \(word())"
            case 1: return "\(pick(Self.contractions)) \(word())"
            case 2: return "\"\(word())\" \(word())"
            case 3: return prose()
            case 4: return technicalProse()
            case 5: return url()
            case 6: return token()
            case 7: return list()
            case 8: return expression()
            default: return word()
            }
        }
    }

    // MARK: free text and structured values
    //
    // What users type and applications send besides single words: sentences with the
    // punctuation of ordinary writing, text about technical subjects (the words of SQL, HTML and
    // shells in prose, without their syntax), addresses, JSON, GraphQL, tokens, lists and
    // expressions. Without them the model knew no benign text with punctuation and took
    // every comment for an attack.

    static let prosewords = ["the", "a", "this", "that", "my", "your", "our", "it", "we", "they", "you", "i", "is", "was", "are",
                             "works", "worked", "looks", "great", "good", "bad", "fine", "perfect", "broken", "slow", "fast",
                             "order", "delivery", "package", "size", "color", "price", "shipping", "return", "refund", "item",
                             "product", "service", "team", "support", "day", "week", "time", "again", "please", "thanks", "thank",
                             "love", "like", "need", "want", "tried", "bought", "arrived", "late", "early", "today", "tomorrow",
                             "and", "or", "but", "not", "with", "without", "for", "from", "to", "of", "in", "on", "at", "by", "as",
                             "if", "when", "then", "where", "which", "who", "what", "how", "why", "all", "some", "any", "one", "two",
                             "update", "select", "drop", "table", "union", "join", "script", "alert", "exec", "system", "shell",
                             "admin", "root", "user", "password", "login", "file", "path", "window", "document", "cookie", "null",
                             "true", "false", "echo", "cat", "find", "sleep", "wait", "set", "delete", "insert", "create", "grant"]
    static let subjects = ["SQL", "MySQL", "Postgres", "JavaScript", "HTML", "CSS", "Python", "bash", "PowerShell", "PHP", "Java",
                           "Docker", "nginx", "Linux", "Windows", "Excel", "regex", "JSON", "XML", "cron", "git", "vim", "SSH"]
    static let techPhrases = ["how to %s in %s", "%s vs %s", "best way to %s with %s?", "%s: %s for beginners", "why does %s fail in %s",
                              "%s (%s) tutorial", "%s - %s cheat sheet", "learn %s & %s", "%s/%s tips", "\"%s\" in %s explained",
                              "can't %s on %s", "%s + %s = ?", "using %s with %s, step by step", "%s in %s #%s"]
    static let techVerbs = ["select rows", "join tables", "order by date", "update a record", "delete duplicates", "escape quotes",
                            "write a script", "run a script", "parse json", "read a file", "list files", "count lines",
                            "sort output", "drop a column", "create a table", "insert data", "set a cookie", "redirect users",
                            "handle errors", "kill a process", "schedule jobs", "compare strings", "format dates", "install it"]
    static let surnames = ["Mayor", "Oak", "Garcia", "Rossi", "Nakamura", "Kowalski", "Dupont", "Smith", "Müller", "Haddad", "O'Hara"]

    private mutating func sentence(words count: Int) -> String {
        var out: [String] = []
        for i in 0..<count {
            var word = !vocabulary.isEmpty && next() % 3 == 0 ? pick(vocabulary) : pick(Self.prosewords)
            if i == 0 { word = word.prefix(1).uppercased() + word.dropFirst() }
            switch next() % 24 {
            case 0: word += ","
            case 1: word = "\"" + word + "\""
            case 2: word = "(" + word + ")"
            case 3: word += "'s"
            case 4: word = "*" + word + "*"
            case 5: word = "`" + word + "`"
            case 6: out.append(pick(["&", "-", "--", "/", "+", "=", ":", "->", "vs."]))
            case 7: word += String(number(1...99)) + pick(["", "%", "x", "kg", "€", "$", "€/month"])
            default: break
            }
            out.append(word)
        }
        return out.joined(separator: " ") + pick([".", "!", "?", "...", "!!", " :)", " :-(", " <3", ";)", " #" + pick(Self.prosewords), ""])
    }

    private mutating func prose() -> String {
        (0..<number(1...3)).map { _ in sentence(words: number(3...12)) }.joined(separator: pick([" ", "  ", "\n", "\r\n", " - "]))
    }

    private mutating func technicalProse() -> String {
        let parts = pick(Self.techPhrases).split(separator: "%s", omittingEmptySubsequences: false)
        var text = String(parts[0])
        for (index, part) in parts.dropFirst().enumerated() {
            text += (index == 0 || next() % 2 == 0 ? pick(Self.techVerbs) : pick(Self.subjects)) + part
        }
        return next() % 3 == 0 ? text + " " + sentence(words: number(3...8)) : text
    }

    private mutating func url() -> String {
        let host = pick(["www.example.com", "shop.example.org", "news.example.net", "cdn.example.io", "example.co.uk", "t.example"])
        var path = (0..<number(0...3)).map { _ in word().replacingSpaces("-") }.joined(separator: "/")
        if next() % 3 == 0 { path += "." + pick(["html", "php", "aspx", "jsp", "pdf"]) }
        var out = pick(["https://", "http://", "//", ""]) + host + "/" + path
        if next() % 2 == 0 { out += "?\(pick(Self.keys))=\(word().replacingSpaces("+"))&\(pick(Self.keys))=\(number(1...999))" }
        if next() % 4 == 0 { out += "#" + pick(["top", "comments", "section-\(number(1...9))", "/settings"]) }
        return out
    }

    private mutating func token() -> String {
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        func chunk(_ n: Int) -> String { String((0..<n).map { _ in alphabet.randomCharacter(next()) }) }
        switch next() % 4 {
        case 0: return "eyJ" + chunk(number(16...40)) + "." + "eyJ" + chunk(number(20...80)) + "." + chunk(number(20...43))
        case 1: return chunk(number(8...40)) + pick(["", "=", "=="])
        case 2: return chunk(number(10...30)) + pick(["+", "/"]) + chunk(number(4...20)) + pick(["", "="])
        default: return "\(chunk(number(4...8))):\(chunk(number(8...16)))"
        }
    }

    private mutating func list() -> String {
        let items = (0..<number(2...6)).map { _ in pick(Self.prosewords + Self.subjects.map { $0.lowercased() }) }
        return items.joined(separator: pick([",", ", ", ";", "|", " ", "+", ":"]))
    }

    private mutating func expression() -> String {
        pick(["\(number(1...99))+\(number(1...99))=\(number(2...198))", "(\(number(1...9)) + \(number(1...9))) * \(number(2...9))",
              "x^2 + \(number(1...9))x", "price>=\(number(10...99))", "\(number(1...9))/\(number(2...9)) cup", "a < b && b > c",
              "rating:>\(number(1...4))", "year:[2010 TO 20\(number(10...26))]", "created_at desc", "-updated,name", "status != closed",
              "size>\(number(1...9))mb", "\(number(10...99))% - \(number(1...9))%", "5 * 3", "#\(number(100...999)) & #\(number(100...999))"])
    }

    private mutating func json() -> String {
        var fields: [String] = []
        for _ in 0..<number(1...4) {
            let key = pick(Self.keys)
            switch next() % 5 {
            case 0: fields.append("\"\(key)\":\(number(0...9999))")
            case 1: fields.append("\"\(key)\":\(pick(["true", "false", "null"]))")
            case 2: fields.append("\"\(key)\":[\(number(1...9)),\(number(1...9))]")
            case 3: fields.append("\"\(key)\":{\"\(pick(Self.keys))\":\"\(word())\"}")
            default: fields.append("\"\(key)\":\"\(sentence(words: number(1...4)))\"")
            }
        }
        return "{" + fields.joined(separator: pick([",", ", "])) + "}"
    }

    private mutating func graphQL() -> String {
        let field = pick(["user", "product", "order", "post", "viewer", "search", "node"])
        let inner = (0..<number(1...4)).map { _ in pick(["id", "name", "title", "email", "price", "createdAt", "status", "total"]) }.joined(separator: " ")
        switch next() % 3 {
        case 0: return "{ \(field)(id: \(number(1...9999))) { \(inner) } }"
        case 1: return "query \((field.prefix(1).uppercased() + field.dropFirst()))($id: ID!) { \(field)(id: $id) { \(inner) } }"
        default: return "mutation { update\((field.prefix(1).uppercased() + field.dropFirst()))(input: {id: \"\(number(1...999))\", name: \"\(word())\"}) { \(inner) } }"
        }
    }

    static let owners = ["men", "women", "children", "kid", "tom", "john", "mary", "joe", "mother", "father", "macy", "levi",
                         "trader joe", "domino", "wendy", "valentine", "world", "today", "editor", "baker", "santa", "teacher",
                         "patrick", "america", "paris", "it", "that", "let", "what", "here"]
    static let contractions = ["don't", "can't", "won't", "isn't", "didn't", "doesn't", "i'm", "i've", "you're", "we're",
                               "they're", "it's", "that's", "what's", "let's", "there's", "who's", "couldn't", "shouldn't", "y'all"]

    /// Percent-encodes like browsers do (space as `+` or `%20`, UTF-8 bytes as `%XX`).
    private mutating func encode(_ text: String) -> String {
        let plus = next() % 2 == 0
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            case UInt8(ascii: " "):
                out += plus ? "+" : "%20"
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }

    /// One request target such as `/search?q=caf%C3%A9&page=2`.
    public mutating func nextTarget() -> String {
        var path = pick(Self.paths)
        if next() % 4 == 0 { path += (path.hasSuffix("/") ? "" : "/") + String(number(1...99999)) }
        let count = number(1...4)
        var pairs: [String] = []
        for _ in 0..<count {
            let key = pick(Self.keys)
            pairs.append("\(key)=\(encode(value(for: key)))")
        }
        return path + "?" + pairs.joined(separator: "&")
    }

    public mutating func targets(_ count: Int) -> [[UInt8]] {
        (0..<count).map { _ in Array(nextTarget().utf8) }
    }
}

private extension String {
    func randomCharacter(_ random: UInt64) -> Character {
        let characters = Array(self)
        return characters[Int(random % UInt64(characters.count))]
    }

    func replacingSpaces(_ replacement: String) -> String {
        split(separator: " ").joined(separator: replacement)
    }

    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
