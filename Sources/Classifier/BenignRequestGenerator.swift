/// Realistic benign requests with parameters, generated from a seed: names, words in several
/// languages, numbers, ids, dates, e-mails, UUIDs, tokens, JSON values and file names. Used to
/// measure false positives on the traffic the training files lack, and to augment training.
public struct BenignRequestGenerator {
    private var random: SplitMix

    public init(seed: UInt64) { random = SplitMix(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

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
                       "tab", "mode", "format", "callback", "redirect", "next", "return", "file", "download", "uuid", "color"]
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
            return "20\(number(10...26))-\(String(format2: number(1...12)))-\(String(format2: number(1...28)))" + (next() % 3 == 0 ? "T\(String(format2: number(0...23))):\(String(format2: number(0...59))):00Z" : "")
        case "uuid", "session": return "\(hex(8))-\(hex(4))-4\(hex(3))-a\(hex(3))-\(hex(12))"
        case "token", "callback": return hex(number(16...64))
        case "lang", "locale": return pick(["en", "de", "fr-FR", "es_ES", "ja", "zh-CN", "pt-BR", "ar"])
        case "sort", "order": return pick(["price", "-price", "name,asc", "date desc", "relevance", "popularity"])
        case "redirect", "next", "return": return pick(["/account", "/cart?step=2", "https://www.example.com/welcome", "/"])
        case "file", "download": return "\(pick(["report", "invoice", "Q3 results", "photo_2024", "résumé", "slides-final"]))\(next() % 2 == 0 ? "-\(number(1...99))" : "").\(pick(Self.extensions))"
        case "filter": return "{\"status\":\"\(pick(["open", "closed", "all"]))\",\"tags\":[\"\(pick(Self.words))\"],\"limit\":\(number(1...50))}"
        case "name": return pick(Self.names)
        case "color": return pick(["#ff0000", "blue", "rgb(0,128,255)", "dark-green"])
        case "utm_source", "utm_medium", "utm_campaign", "ref": return pick(["newsletter", "google", "cpc", "spring_sale_2024", "twitter", "partner-42"])
        default:
            // Quotes in ordinary language, composed so the model learns the shape (a letter, a
            // quote, letters) rather than a few phrases: possessives, contractions, quoted words.
            switch next() % 10 {
            case 0: return "\(pick(Self.owners))'s \(pick(Self.words))"
            case 1: return "\(pick(Self.contractions)) \(pick(Self.words))"
            case 2: return "\"\(pick(Self.words))\" \(pick(Self.words))"
            default: return pick(Self.words)
            }
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

    init(format2 value: Int) {
        self = value < 10 ? "0\(value)" : "\(value)"
    }
}
