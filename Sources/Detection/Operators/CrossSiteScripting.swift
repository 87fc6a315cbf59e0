import NetworkTypes

/// Finds cross-site scripting by what HTML a value turns into, in the spirit of libinjection's
/// XSS detector: the value is read with the HTML tokenizer's rules as if it were written into a
/// page as text, and as if it continued an attribute value (unquoted, single- or double-quoted)
/// that the page opened. It is an attack when that HTML would run script: a tag that loads or
/// runs code by itself (`<script`, `<iframe`, `<object` ...), an event-handler attribute
/// (`onerror=`), a script URL in an attribute that navigates or loads (`href=javascript:`,
/// `src=data:text/html`), a style with `expression(`; or, read as a script URL on its own,
/// `javascript:` followed by code. Markup without any of these (`<b>`, `<a href="/x">`,
/// `a<b`, "x > y") is not, which is what lets it stay on over forms that accept rich text.
public enum CrossSiteScripting {
    /// The range of the value that makes it an attack, or nil.
    public static func detect(_ value: UnsafeRawBufferPointer) -> Range<Int>? {
        guard value.count >= 3 else { return nil }
        if let found = scriptURL(value, from: 0) { return found }
        var sawTagStart = false
        var sawQuote = false
        for byte in value {
            if byte == UInt8(ascii: "<") { sawTagStart = true }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "`") { sawQuote = true }
        }
        if sawTagStart, let found = text(value, from: 0) { return found }
        if sawQuote, let found = scriptStringBreak(value) { return found }
        // Continuing an attribute value: the value breaks out of it and adds attributes, which
        // only matter with a value (`onerror=`, `href=`).
        guard value.firstIndex(of: UInt8(ascii: "="), from: 0) != nil else { return nil }
        for quote in [UInt8(ascii: "\""), UInt8(ascii: "'"), 0] {
            if quote != 0 && !sawQuote { continue }
            guard let end = attributeValueEnd(value, from: 0, quote: quote) else { continue }
            if let found = attributes(value, from: end, tagName: []).found { return found }
        }
        return nil
    }

    // MARK: text and tags

    /// The data state: find each tag and judge it.
    static func text(_ s: UnsafeRawBufferPointer, from start: Int) -> Range<Int>? {
        var i = start
        while let lt = s.firstIndex(of: UInt8(ascii: "<"), from: i) {
            var j = lt + 1
            guard j < s.count else { return nil }
            if s[j] == UInt8(ascii: "/") { j += 1 }  // an end tag can carry attributes too: `</a onmouseover=...>`
            guard j < s.count, isLetter(s[j]) else {
                i = lt + 1
                continue
            }
            var nameEnd = j
            while nameEnd < s.count && !isTagNameEnd(s[nameEnd]) { nameEnd += 1 }
            let name = lowercased(s, j..<min(nameEnd, j + 16))
            if selfRunningTags.contains(name) && s[lt + 1] != UInt8(ascii: "/") { return lt..<nameEnd }
            let (found, end) = attributes(s, from: nameEnd, tagName: name)
            if let found { return lt..<found.upperBound }
            i = max(end, lt + 1)
        }
        return nil
    }

    /// The attributes of a tag from `start` up to its `>` (or the end of the value); an
    /// attribute that would run script, and where the tag ended.
    static func attributes(_ s: UnsafeRawBufferPointer, from start: Int, tagName: [UInt8]) -> (found: Range<Int>?, end: Int) {
        var i = start
        var count = 0
        while i < s.count && count < 64 {
            // Between attributes: whitespace and '/' separate; '>' ends the tag.
            while i < s.count && (isSpace(s[i]) || s[i] == UInt8(ascii: "/")) { i += 1 }
            guard i < s.count else { break }
            if s[i] == UInt8(ascii: ">") { return (nil, i + 1) }
            count += 1
            let nameStart = i
            // An attribute name may start with '=' and runs to whitespace, '/', '>' or '='.
            i += 1
            while i < s.count && !isSpace(s[i]) && s[i] != UInt8(ascii: "/") && s[i] != UInt8(ascii: ">") && s[i] != UInt8(ascii: "=") { i += 1 }
            let nameEnd = i
            var j = i
            while j < s.count && isSpace(s[j]) { j += 1 }
            guard j < s.count, s[j] == UInt8(ascii: "=") else { continue }
            let name = lowercased(s, nameStart..<min(nameEnd, nameStart + 32))
            j += 1
            while j < s.count && isSpace(s[j]) { j += 1 }
            let valueStart: Int
            let valueEnd: Int
            if j < s.count && (s[j] == UInt8(ascii: "\"") || s[j] == UInt8(ascii: "'") || s[j] == UInt8(ascii: "`")) {
                valueStart = j + 1
                valueEnd = s.firstIndex(of: s[j], from: valueStart) ?? s.count
                i = min(valueEnd + 1, s.count)
            } else {
                valueStart = j
                var k = j
                while k < s.count && !isSpace(s[k]) && s[k] != UInt8(ascii: ">") { k += 1 }
                valueEnd = k
                i = k
            }
            if isEventHandler(name) { return (nameStart..<valueEnd, i) }
            if loadingAttributes.contains(name), scriptURL(s, from: valueStart, end: valueEnd, inAttribute: true) != nil {
                return (nameStart..<valueEnd, i)
            }
            if name == Array("style".utf8), containsStyleScript(s, valueStart..<valueEnd) { return (nameStart..<valueEnd, i) }
            // <meta http-equiv=refresh content="0;url=javascript:..."> and <link rel=import>
            if name == Array("content".utf8) && tagName == Array("meta".utf8),
               let url = s[valueStart..<valueEnd].firstRange(of: Array("url=".utf8)),
               scriptURL(s, from: url.upperBound, end: valueEnd, inAttribute: true) != nil { return (nameStart..<valueEnd, i) }
        }
        return (nil, i)
    }

    /// Where an attribute value that the page opened ends in the value: at its quote, or for an
    /// unquoted value at the first blank. Nil when the value never leaves it.
    static func attributeValueEnd(_ s: UnsafeRawBufferPointer, from start: Int, quote: UInt8) -> Int? {
        if quote != 0 {
            guard let q = s.firstIndex(of: quote, from: start) else { return nil }
            return q + 1
        }
        guard let blank = s[start...].firstIndex(where: { isSpace($0) }) else { return nil }
        return blank
    }

    // MARK: script contexts

    /// A value written into a script's string that closes it and calls what only an attack
    /// calls: `';alert(1)//`, `"-confirm(1)-"`, `'+eval(atob(...))+'`, `\";document.location=...`.
    static func scriptStringBreak(_ s: UnsafeRawBufferPointer) -> Range<Int>? {
        var i = 0
        while i < s.count {
            let quote = s[i]
            guard quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "`") else {
                i += 1
                continue
            }
            var k = i + 1
            while k < s.count && isSpace(s[k]) { k += 1 }
            guard k < s.count, joiningOperators.contains(s[k]) else {
                i += 1
                continue
            }
            while k < s.count && (isSpace(s[k]) || joiningOperators.contains(s[k]) || s[k] == UInt8(ascii: "(")) { k += 1 }
            var nameEnd = k
            while nameEnd < s.count && (isLetter(s[nameEnd]) || s[nameEnd] == UInt8(ascii: ".")) { nameEnd += 1 }
            let name = lowercased(s, k..<min(nameEnd, k + 24))
            if nameEnd < s.count, let sink = scriptSinks.first(where: { name.starts(with: $0.name) && (name.count == $0.name.count || $0.name.last == UInt8(ascii: ".")) }) {
                let next = s[nameEnd]
                if sink.name.last == UInt8(ascii: ".") || next == UInt8(ascii: "(") || next == UInt8(ascii: "`") || (sink.assigns && next == UInt8(ascii: "=")) {
                    return i..<(nameEnd + 1)
                }
            }
            i += 1
        }
        return nil
    }

    /// What joins a closed string to the next expression in a script.
    static let joiningOperators: Set<UInt8> = Set(";-+*/|&,)}%^".utf8)

    /// Calls and objects that a request's text has no business reaching in a script.
    static let scriptSinks: [(name: [UInt8], assigns: Bool)] = [
        "alert", "prompt", "confirm", "eval", "print", "settimeout", "setinterval", "function", "fetch", "import", "atob",
        "string.fromcharcode", "document.", "window.", "top.", "self.", "parent.", "frames.", "globalthis.",
    ].map { (Array($0.utf8), false) } + [(Array("location".utf8), true)]

    // MARK: script URLs and styles

    /// Whether the text from `start` reads as a URL that runs script: `javascript:` (or
    /// `vbscript:`, `livescript:`, `data:text/html`, `data:...svg`) however it is spaced or
    /// entity-encoded, followed by code.
    static func scriptURL(_ s: UnsafeRawBufferPointer, from start: Int, end: Int? = nil, inAttribute: Bool = false) -> Range<Int>? {
        let end = end ?? s.count
        var i = start
        // Browsers drop leading blanks and control bytes, and tabs and newlines inside the scheme.
        while i < end && (s[i] <= 0x20) { i += 1 }
        // Most values are not URLs at all: their first byte already tells.
        guard i < end, schemeInitials[Int(s[i])] else { return nil }
        let schemeStart = i
        guard let (scheme, next) = readScheme(s, from: i, end: end) else { return nil }
        // What follows must be code, not a word: a call, a template, an assignment, a string,
        // or (for data:) the media type that makes it a document.
        var k = next
        if scheme.isData {
            var media: [UInt8] = []
            while k < end && media.count < 24 && s[k] != UInt8(ascii: ";") && s[k] != UInt8(ascii: ",") {
                media.append(ASCII.lowercased(s[k]))
                k += 1
            }
            return dataDocumentTypes.contains(media) ? schemeStart..<k : nil
        }
        // Inside an attribute that loads it, anything after the scheme runs.
        if inAttribute { return k < end ? schemeStart..<end : nil }
        // As a value on its own it must start with code: `alert(1)`, `document.location=...`,
        // `eval\`...\``; "JavaScript: basics (part 2)" is a title.
        while k < end && isSpace(s[k]) { k += 1 }
        while k < end && (isLetter(s[k]) || s[k] &- 0x30 < 10 || s[k] == UInt8(ascii: ".") || s[k] == UInt8(ascii: "_")
                          || s[k] == UInt8(ascii: "$") || s[k] == UInt8(ascii: "[") || s[k] == UInt8(ascii: "]")) { k += 1 }
        guard k < end, s[k] == UInt8(ascii: "(") || s[k] == UInt8(ascii: "`") || s[k] == UInt8(ascii: "=") else { return nil }
        return schemeStart..<(k + 1)
    }

    /// The scheme (up to its colon) that starts at `i`, decoded as a browser reads it: one of
    /// `scriptSchemes`, and where it ends. On the stack: this runs for many values of every request.
    static func readScheme(_ s: UnsafeRawBufferPointer, from start: Int, end: Int) -> (scheme: (name: [UInt8], isData: Bool), next: Int)? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { decoded in
            var i = start
            var length = 0
            while i < end && length < decoded.count {
                var byte = s[i]
                var width = 1
                if byte == UInt8(ascii: "&"), let (entity, entityLength) = entity(s, at: i, end: end) {
                    byte = entity
                    width = entityLength
                }
                i += width
                if byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0 { continue }
                decoded[length] = ASCII.lowercased(byte)
                length += 1
                if byte == UInt8(ascii: ":") { break }
            }
            let read = UnsafeBufferPointer(rebasing: decoded[..<length])
            return scriptSchemes.first { read.elementsEqual($0.name) }.map { ($0, i) }
        }
    }

    /// The character reference at `i` as the byte it stands for (ASCII only: what matters in
    /// a scheme; anything else reads as `?`) and its length: `Transforms`' reference reader,
    /// the one `htmlEntityDecode` uses, on the bytes up to `end`.
    static func entity(_ s: UnsafeRawBufferPointer, at i: Int, end: Int) -> (UInt8, Int)? {
        guard i + 1 < end else { return nil }
        let bytes = UnsafeBufferPointer(rebasing: s.assumingMemoryBound(to: UInt8.self)[i..<end])
        guard let (scalar, next) = Transforms.entity(bytes, at: 0) else { return nil }
        return (scalar < 0x80 ? UInt8(scalar) : 0x3F, next)
    }

    static func containsStyleScript(_ s: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        let style = lowercased(s, range.lowerBound..<min(range.upperBound, range.lowerBound + 4096)).filter { $0 > 0x20 && $0 != UInt8(ascii: "\\") }
        return style.firstRange(of: Array("expression(".utf8)) != nil
            || style.firstRange(of: Array("url(javascript:".utf8)) != nil
            || style.firstRange(of: Array("-moz-binding".utf8)) != nil
            || style.firstRange(of: Array("behavior:".utf8)) != nil
    }

    // MARK: tables

    /// Tags that run or load code without any attribute's help.
    static let selfRunningTags: Set<[UInt8]> = Set(
        "script iframe frame frameset object embed applet base xss portal isindex".split(separator: " ").map { Array($0.utf8) })

    /// Attributes whose value is a URL a browser follows or loads.
    static let loadingAttributes: Set<[UInt8]> = Set("""
        href src action formaction data xlink:href background lowsrc dynsrc poster srcdoc code codebase \
        archive classid content to from values by ping
        """.split(separator: " ").map { Array($0.utf8) })

    /// Bytes a script scheme can start with: each scheme's first letter in either case, and `&`
    /// (a character reference for one).
    static let schemeInitials: [Bool] = (0..<256).map { byte in
        byte == Int(UInt8(ascii: "&")) || scriptSchemes.contains { Int(ASCII.lowercased(UInt8(byte))) == Int($0.name[0]) }
    }

    static let scriptSchemes: [(name: [UInt8], isData: Bool)] = [
        (Array("javascript:".utf8), false), (Array("vbscript:".utf8), false), (Array("livescript:".utf8), false),
        (Array("mocha:".utf8), false), (Array("data:".utf8), true),
    ]

    static let dataDocumentTypes: Set<[UInt8]> = Set(
        ["text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml", "text/javascript", "application/javascript"]
            .map { Array($0.utf8) })

    /// An event-handler attribute: `on` and the name of a DOM event. Any `on...` name of four or
    /// more letters counts (browsers add events every year; a fixed list would fall behind),
    /// except English words that happen to start with "on" and are real attribute-like names.
    static func isEventHandler(_ name: [UInt8]) -> Bool {
        guard name.count >= 5, name[0] == UInt8(ascii: "o"), name[1] == UInt8(ascii: "n") else { return false }
        guard name[2...].allSatisfy({ $0 &- 0x61 < 26 }) else { return false }
        return !notEvents.contains(name)
    }

    static let notEvents: Set<[UInt8]> = Set(
        "online only once onto onset onion onward onwards ongoing onboard onsite onscreen onstage onus oneself".split(separator: " ").map { Array($0.utf8) })

    // MARK: bytes

    @inline(__always) static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0C || b == 0x0D }
    @inline(__always) static func isTagNameEnd(_ b: UInt8) -> Bool { isSpace(b) || b == UInt8(ascii: "/") || b == UInt8(ascii: ">") }

    static func lowercased(_ s: UnsafeRawBufferPointer, _ range: Range<Int>) -> [UInt8] {
        s[range].map(ASCII.lowercased)
    }
}
