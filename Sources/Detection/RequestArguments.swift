import HTTP
import NetworkTypes

/// Name/value pairs a web application would see: query string and body (urlencoded,
/// multipart, JSON), decoded once as the application decodes them.
///
/// Names and values are ranges of one byte store (decoded straight into it): a request's
/// arguments cost a few allocations, not two arrays per argument.
struct RequestArguments {
    private(set) var storage: [UInt8] = []
    private(set) var nameRanges: [Range<Int>] = []
    private(set) var valueRanges: [Range<Int>] = []
    private(set) var fileNameRanges: [Range<Int>] = []
    /// What the body parser could not read (`HTTPAnomalies`' request-body members).
    private(set) var bodyAnomalies: HTTPAnomalies = []

    /// Bodies are parsed by content when the declared type lies (EVASION 10), within bounds.
    static let maxParsedBody = 1 << 20
    static let maxArguments = 1024

    init() {}

    /// Argument names left out (a rule's exclusion).
    private var omitted: Set<[UInt8]> = []

    /// `body`: the body as the application reads it, when the caller has it already
    /// (`BodyDecoding.applicationBody`); computed here otherwise. `omitting`: argument names
    /// not added.
    init(request: HTTPRequest, includeQuery: Bool = true, body applicationBody: [UInt8]? = nil, omitting: Set<[UInt8]> = []) {
        omitted = omitting
        defer { addJoinedDuplicates() }
        let target = request.targetBytes
        if includeQuery, let question = target.firstIndex(of: 0x3F) {
            addURLEncoded(target[(question + 1)...])
        }
        guard !request.body.isEmpty else { return }
        let body = (applicationBody ?? BodyDecoding.applicationBody(request).bytes).prefix(Self.maxParsedBody)
        guard !body.isEmpty else { return }
        let contentType = ContentType(of: request) ?? ContentType([])
        let firstByte = body.first { !Transforms.isSpace($0) }
        // A body cut at the inspection limit cannot be judged complete.
        let whole = !request.bodyTruncated && body.count < Self.maxParsedBody
        if let charset = contentType.parameter("charset"), !Self.readableCharsets.contains(charset) {
            bodyAnomalies.insert(.unreadableBodyCharset)
        }
        if contentType.contains("multipart/form-data") {
            if let boundary = contentType.boundary {
                if !addMultipart(Array(body), boundary: boundary, whole: whole) { bodyAnomalies.insert(.invalidMultipartBody) }
            } else {
                bodyAnomalies.insert(.invalidMultipartBody)
                addURLEncoded(body)
            }
        } else if contentType.contains("json") || firstByte == 0x7B || firstByte == 0x5B {
            if !addJSON(Array(body)) {
                // Declared JSON that does not parse; sniffed JSON that does not is read as a form.
                if contentType.contains("json") && whole { bodyAnomalies.insert(.invalidJSONBody) }
                addURLEncoded(body)
            }
        } else if contentType.contains("x-www-form-urlencoded") || Self.looksURLEncoded(body) {
            addURLEncoded(body)
        }
    }

    var count: Int { nameRanges.count }
    /// As arrays (tests, and the rare paths that want them).
    var names: [[UInt8]] { nameRanges.map { Array(storage[$0]) } }
    var values: [[UInt8]] { valueRanges.map { Array(storage[$0]) } }
    var fileNames: [[UInt8]] { fileNameRanges.map { Array(storage[$0]) } }

    private mutating func add<Name: Collection, Value: Collection>(_ name: Name, _ value: Value)
    where Name.Element == UInt8, Value.Element == UInt8 {
        guard nameRanges.count < Self.maxArguments else { return }
        if !omitted.isEmpty && omitted.contains(Array(name)) { return }
        let nameStart = storage.count
        storage.append(contentsOf: name)
        nameRanges.append(nameStart..<storage.count)
        let valueStart = storage.count
        storage.append(contentsOf: value)
        valueRanges.append(valueStart..<storage.count)
    }

    static func looksURLEncoded(_ body: ArraySlice<UInt8>) -> Bool {
        body.contains(0x3D) && !body.contains(where: { $0 == 0x0A || $0 == 0x20 || $0 == 0x7B })
    }

    mutating func addURLEncoded(_ text: ArraySlice<UInt8>) {
        text.withUnsafeBufferPointer { addURLEncoded($0) }
    }

    mutating func addURLEncoded(_ text: UnsafeBufferPointer<UInt8>) {
        // `%XX` and `+` decoded as a form decoder does, straight into the store.
        func appendDecoded(_ start: Int, _ end: Int) -> Range<Int> {
            let first = storage.count
            let part = UnsafeBufferPointer(rebasing: text[start..<end])
            if !PercentDecoding.decode(part, plusIsSpace: true, unicode: false, into: &storage) { storage.append(contentsOf: part) }
            return first..<storage.count
        }
        storage.reserveCapacity(storage.count + text.count)
        var start = 0
        while start < text.count && nameRanges.count < Self.maxArguments {
            var end = start
            while end < text.count && text[end] != 0x26 { end += 1 }
            if end > start {
                var equals = start
                while equals < end && text[equals] != 0x3D { equals += 1 }
                let mark = storage.count
                let name = appendDecoded(start, equals)
                if !omitted.isEmpty && omitted.contains(Array(storage[name])) {
                    storage.removeSubrange(mark...)
                } else {
                    nameRanges.append(name)
                    valueRanges.append(equals < end ? appendDecoded(equals + 1, end) : storage.count..<storage.count)
                }
            }
            start = end + 1
        }
    }

    /// HTTP parameter pollution: `a=UNI&a=ON SELECT` is read as `UNI,ON SELECT` by some
    /// frameworks, so repeated names also yield their values joined.
    private mutating func addJoinedDuplicates() {
        guard nameRanges.count > 1 else { return }
        // Most requests have a few distinct names: compare pairs before building any table.
        let count = nameRanges.count
        var hasDuplicate = false
        outer: for i in 0..<count {
            for j in (i + 1)..<count where sameName(nameRanges[i], nameRanges[j]) {
                hasDuplicate = true
                break outer
            }
        }
        guard hasDuplicate else { return }
        var groups: [[UInt8]: [Int]] = [:]
        var order: [[UInt8]] = []
        for (index, range) in nameRanges.enumerated() {
            let key = storage[range].map(ASCII.lowercased)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(index)
        }
        for key in order {
            guard let indexes = groups[key], indexes.count > 1 else { continue }
            var joined: [UInt8] = []
            for (position, index) in indexes.enumerated() {
                if position > 0 { joined.append(0x2C) }
                joined.append(contentsOf: storage[valueRanges[index]])
            }
            add(Array(storage[nameRanges[indexes[0]]]), joined)
        }
    }

    private func sameName(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        a.count == b.count && zip(storage[a], storage[b]).allSatisfy { ASCII.lowercased($0) == ASCII.lowercased($1) }
    }

    /// Charsets whose text a byte-wise parser reads as the application does (ASCII supersets).
    static let readableCharsets: Set<[UInt8]> = Set(["utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "iso-8859-15",
                                                     "windows-1252", "cp1252"].map { Array($0.utf8) })

    /// Adds every part's name and content; false when the body is not well-formed multipart
    /// (no delimiter, no closing delimiter although the body is `whole`, a part without a
    /// header block). What can be read is added all the same.
    @discardableResult
    mutating func addMultipart(_ body: [UInt8], boundary: [UInt8], whole: Bool = true) -> Bool {
        let delimiter = [0x2D, 0x2D] + boundary
        var positions: [Int] = []
        var i = 0
        while let found = Self.find(delimiter, in: body, from: i) {
            positions.append(found)
            i = found + delimiter.count
        }
        var wellFormed = !positions.isEmpty
        var closed = false
        for (index, start) in positions.enumerated() {
            var partStart = start + delimiter.count
            if partStart + 1 < body.count && body[partStart] == 0x2D && body[partStart + 1] == 0x2D { closed = true; break }
            while partStart < body.count, body[partStart] == 0x0D || body[partStart] == 0x0A { partStart += 1; if body[partStart - 1] == 0x0A { break } }
            let partEnd = index + 1 < positions.count ? positions[index + 1] : body.count
            guard partStart < partEnd else { continue }
            let part = Array(body[partStart..<partEnd])
            guard let headEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: part, from: 0).map({ $0 + 4 })
                    ?? Self.find([0x0A, 0x0A], in: part, from: 0).map({ $0 + 2 }) else { wellFormed = false; continue }
            let headers = String(decoding: part[0..<headEnd], as: UTF8.self)
            var content = Array(part[headEnd...])
            if content.last == 0x0A { content.removeLast() }
            if content.last == 0x0D { content.removeLast() }
            let name = Self.parameter("name", in: headers) ?? ""
            if let fileName = Self.parameter("filename", in: headers) {
                let first = storage.count
                storage.append(contentsOf: fileName.utf8)
                fileNameRanges.append(first..<storage.count)
            }
            add(Array(name.utf8), content)
        }
        return wellFormed && (closed || !whole)
    }

    /// A parameter of the part's Content-Disposition (`name`, `filename`), as sent.
    static func parameter(_ key: String, in headers: String) -> String? {
        // `isNewline`: "\r\n" is one Character in Swift, equal to neither "\r" nor "\n".
        for line in headers.split(whereSeparator: \.isNewline) where line.lowercased().hasPrefix("content-disposition") {
            if let value = HeaderParameters.value(of: key, in: line.utf8) { return String(decoding: value, as: UTF8.self) }
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start >= 0, start <= haystack.count else { return nil }
        return haystack.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in RuleSet.find(n, in: UnsafeRawBufferPointer(rebasing: h[start...])).map { $0 + start } }
        }
    }

    /// Keys become names, scalar leaves become values (numbers and booleans as their text).
    mutating func addJSON(_ body: [UInt8]) -> Bool {
        guard let document = try? JSONReader.parse(body) else { return false }
        walk(document, name: [])
        return true
    }

    private mutating func walk(_ value: JSONValue, name: [UInt8]) {
        switch value {
        case .object(let members):
            for (key, member) in members { walk(member, name: Array(key.utf8)) }
        case .array(let elements):
            for element in elements { walk(element, name: name) }
        case .string(let text):
            add(name, Array(text.utf8))
        case .number(let number):
            add(name, Array((number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)).utf8))
        case .bool(let flag):
            add(name, Array((flag ? "true" : "false").utf8))
        case .null:
            add(name, [])
        }
    }
}
