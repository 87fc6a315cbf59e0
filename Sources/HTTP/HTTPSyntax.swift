/// Byte classes from RFC 9110 used by the parsers.
enum HTTPSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    /// tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
    /// A bitmap in two literals: no table behind a lazy global on the hot path.
    @inline(__always) static func isToken(_ byte: UInt8) -> Bool {
        let low: UInt64 = 0x03FF_6CFA_0000_0000   // bytes 0-63: ! # $ % & ' * + - . 0-9
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // bytes 64-127: A-Z ^ _ ` a-z | ~
        if byte < 64 { return (low >> UInt64(byte)) & 1 != 0 }
        if byte < 128 { return (high >> UInt64(byte - 64)) & 1 != 0 }
        return false
    }

    @inline(__always) static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    static let knownMethodList = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
        "MKCALENDAR", "ACL", "BIND", "UNBIND", "REBIND", "MERGE", "CHECKOUT", "CHECKIN",
        "UNCHECKOUT", "MKWORKSPACE", "UPDATE", "LABEL", "MKACTIVITY", "VERSION-CONTROL",
        "BASELINE-CONTROL", "ORDERPATCH", "PRI", "QUERY",
    ]

    /// Registered methods (RFC 9110 and the IANA registry); the common ones are checked first
    /// without touching any collection.
    static func isKnownMethod(_ method: UnsafeRawBufferPointer) -> Bool {
        switch method.count {
        case 3 where method[0] == UInt8(ascii: "G") && method[1] == UInt8(ascii: "E") && method[2] == UInt8(ascii: "T"):
            return true
        case 4 where method[0] == UInt8(ascii: "P") && method[1] == UInt8(ascii: "O") && method[2] == UInt8(ascii: "S") && method[3] == UInt8(ascii: "T"):
            return true
        default:
            return knownMethodList.contains { $0.utf8.elementsEqual(method) }
        }
    }

    /// `HTTP/d.d`
    static func isVersion(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count == 8 && bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "T")
            && bytes[2] == UInt8(ascii: "T") && bytes[3] == UInt8(ascii: "P") && bytes[4] == UInt8(ascii: "/")
            && isDigit(bytes[5]) && bytes[6] == UInt8(ascii: ".") && isDigit(bytes[7])
    }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// 1 to 18 ASCII digits, nothing else (no sign, no spaces), as a number: 18 digits cannot
    /// overflow, and no real length needs more.
    static func decimal(_ buffer: UnsafeRawBufferPointer, _ range: ByteRange) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var number = 0
        for i in range.range {
            guard isDigit(buffer[i]) else { return nil }
            number = number * 10 + Int(buffer[i] - 0x30)
        }
        return number
    }

    static func version(_ bytes: UnsafeRawBufferPointer) -> HTTPVersion {
        if isVersion(bytes) && bytes[5] == UInt8(ascii: "1") {
            if bytes[7] == UInt8(ascii: "1") { return .http11 }
            if bytes[7] == UInt8(ascii: "0") { return .http10 }
        }
        return .other(String(decoding: bytes, as: UTF8.self))
    }
}

/// Cheap plausibility checks for a line that might start a message: used to classify a new
/// stream and to find the next message after a gap. `line` excludes the line ending.
enum StartLineProbe {
    /// `TOKEN SP target SP HTTP/d.d`. During resynchronisation methods must be upper-case letters,
    /// which keeps body text from being mistaken for a request.
    static func isRequestLine(_ line: UnsafeRawBufferPointer, strictMethod: Bool) -> Bool {
        var i = 0
        while i < line.count, HTTPSyntax.isToken(line[i]) {
            if strictMethod && !(line[i] &- 0x41 < 26 || line[i] == UInt8(ascii: "-") || line[i] == UInt8(ascii: "_")) {
                return false
            }
            i += 1
        }
        guard i > 0, i <= 32, i < line.count, HTTPSyntax.isWhitespace(line[i]) else { return false }
        var end = line.count
        while end > i, HTTPSyntax.isWhitespace(line[end - 1]) || line[end - 1] == HTTPSyntax.cr { end -= 1 }
        guard end - i >= 10 else { return false }
        let version = UnsafeRawBufferPointer(rebasing: line[(end - 8)..<end])
        return HTTPSyntax.isVersion(version) && HTTPSyntax.isWhitespace(line[end - 9])
    }

    /// Whether the first bytes of a line still unfinished can begin a request line: a method
    /// token of at most 32 bytes, then whitespace, then anything but a line end. Lets a start
    /// line longer than any buffer be taken for what it is, and a stream that cannot be HTTP
    /// be told at once.
    static func couldStartRequestLine(_ prefix: UnsafeRawBufferPointer, strictMethod: Bool) -> Bool {
        var i = 0
        while i < prefix.count, HTTPSyntax.isToken(prefix[i]) {
            if strictMethod && !(prefix[i] &- 0x41 < 26 || prefix[i] == UInt8(ascii: "-") || prefix[i] == UInt8(ascii: "_")) {
                return false
            }
            i += 1
            if i > 32 { return false }
        }
        if i == prefix.count { return true }
        return i > 0 && HTTPSyntax.isWhitespace(prefix[i])
    }

    /// After lost data, a long unfinished line is taken for a request line only on stronger
    /// evidence than a stream's first line: a registered method in capitals, one space, and a
    /// target that starts as targets do (`/`, `*`, `http`). Body text rarely looks so.
    static func couldStartResyncedRequestLine(_ prefix: UnsafeRawBufferPointer) -> Bool {
        guard couldStartRequestLine(prefix, strictMethod: true) else { return false }
        guard let space = prefix.firstIndex(of: HTTPSyntax.space), space + 4 < prefix.count,
              HTTPSyntax.isKnownMethod(UnsafeRawBufferPointer(rebasing: prefix[0..<space])) else { return false }
        let first = prefix[space + 1]
        if first == UInt8(ascii: "/") || first == UInt8(ascii: "*") { return true }
        let scheme: StaticString = "http"
        return scheme.withUTF8Buffer { word in (0..<4).allSatisfy { prefix[space + 1 + $0] | 0x20 == word[$0] } }
    }

    /// Whether the first bytes of an unfinished line can begin a status line (`HTTP/`).
    static func couldStartStatusLine(_ prefix: UnsafeRawBufferPointer) -> Bool {
        let expected: StaticString = "HTTP/"
        return expected.withUTF8Buffer { word in
            (0..<min(prefix.count, word.count)).allSatisfy { prefix[$0] == word[$0] }
        }
    }

    /// HTTP/0.9: `GET target` and nothing else.
    static func isSimpleRequestLine(_ line: UnsafeRawBufferPointer) -> Bool {
        var end = line.count
        while end > 0, line[end - 1] == HTTPSyntax.cr || HTTPSyntax.isWhitespace(line[end - 1]) { end -= 1 }
        guard end > 5, line[0] == UInt8(ascii: "G"), line[1] == UInt8(ascii: "E"), line[2] == UInt8(ascii: "T"),
              line[3] == HTTPSyntax.space, line[4] == UInt8(ascii: "/") else { return false }
        for i in 4..<end where HTTPSyntax.isWhitespace(line[i]) { return false }
        return true
    }

    /// `HTTP/d.d SP ddd`
    static func isStatusLine(_ line: UnsafeRawBufferPointer) -> Bool {
        guard line.count >= 12 else { return false }
        return HTTPSyntax.isVersion(UnsafeRawBufferPointer(rebasing: line[0..<8])) && line[8] == HTTPSyntax.space
            && HTTPSyntax.isDigit(line[9]) && HTTPSyntax.isDigit(line[10]) && HTTPSyntax.isDigit(line[11])
            && (line.count == 12 || line[12] == HTTPSyntax.space || line[12] == HTTPSyntax.cr)
    }
}
