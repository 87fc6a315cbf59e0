import NetworkTypes

/// Parses a complete head block (start line, header lines, final empty line) into an
/// `HTTPMessageHead`, tolerating what real servers tolerate and recording each oddity.
enum HTTPHeadParser {
    struct Result {
        var head: HTTPMessageHead
        var anomalies: HTTPAnomalies
        var version: HTTPVersion
        var status: Int
    }

    /// `isRequest` nil parses a trailer block: header lines without a start line.
    /// `validate` false skips the byte-level checks of header names and values: responses are
    /// parsed to stay in sync and pair, not to be judged, and they are half the parsing work.
    /// `framingOnly` keeps only the fields that frame the message or end the connection:
    /// Content-Length, Transfer-Encoding and Connection (responses: the rest is parsed again
    /// on demand, see `HTTPResponse.headers`).
    static func isFramingField(_ buffer: UnsafeRawBufferPointer, _ name: ByteRange) -> Bool {
        func named(_ literal: StaticString) -> Bool {
            literal.withUTF8Buffer { HTTPMessageHead.equalsIgnoringCase(buffer, name, UnsafeRawBufferPointer($0)) }
        }
        switch name.count {
        case 10: return named("connection")
        case 14: return named("content-length")
        case 17: return named("transfer-encoding")
        default: return false
        }
    }

    static func parse(_ block: UnsafeRawBufferPointer, isRequest: Bool?, validate: Bool = true, framingOnly: Bool = false) -> Result {
        // Parsed from the caller's bytes; the head keeps a copy with the same offsets.
        let head = HTTPMessageHead(storage: [UInt8](block))
        var anomalies: HTTPAnomalies = []
        var version = HTTPVersion.http11
        var status = 0
        var fields: [HTTPHeaderField] = []
        fields.reserveCapacity(framingOnly ? 2 : 16)
        var folded: [(index: Int, value: [UInt8])] = []

        do {
            let buffer = block
            var lineStart = 0
            var isFirst = isRequest != nil
            while lineStart < buffer.count {
                guard let lf = indexOfLF(buffer, from: lineStart) else { break }
                var lineEnd = lf
                if lineEnd > lineStart && buffer[lineEnd - 1] == HTTPSyntax.cr {
                    lineEnd -= 1
                } else {
                    anomalies.insert(.bareLF)
                }
                defer { lineStart = lf + 1 }
                if lineEnd == lineStart {
                    if isFirst { continue }
                    break
                }
                if memchr(buffer.baseAddress! + lineStart, Int32(HTTPSyntax.cr), lineEnd - lineStart) != nil {
                    anomalies.insert(.bareCR)
                }
                if isFirst {
                    isFirst = false
                    if isRequest == true {
                        parseRequestLine(buffer, lineStart, lineEnd, head, &anomalies, &version)
                    } else {
                        parseStatusLine(buffer, lineStart, lineEnd, head, &anomalies, &version, &status)
                    }
                    continue
                }
                if HTTPSyntax.isWhitespace(buffer[lineStart]) {
                    // obs-fold: the continuation belongs to the previous value, joined by one space.
                    anomalies.insert(.obsoleteLineFolding)
                    guard let last = fields.indices.last else {
                        anomalies.insert(.malformedHeaderLine)
                        continue
                    }
                    let piece = trimmed(buffer, lineStart, lineEnd)
                    if let f = folded.lastIndex(where: { $0.index == last }) {
                        folded[f].value += [HTTPSyntax.space] + buffer[piece.range]
                    } else {
                        folded.append((last, Array(buffer[fields[last].value.range]) + [HTTPSyntax.space] + buffer[piece.range]))
                    }
                    continue
                }
                guard let field = parseField(buffer, lineStart, lineEnd, validate, &anomalies) else { continue }
                if framingOnly && !isFramingField(buffer, field.name) { continue }
                fields.append(field)
            }
        }
        // Unfolded values go after the wire bytes so every field stays a plain range.
        for (index, value) in folded {
            let start = head.storage.count
            head.storage.append(contentsOf: value)
            fields[index].value = ByteRange(start, head.storage.count)
        }
        head.fields = fields
        return Result(head: head, anomalies: anomalies, version: version, status: status)
    }

    static func indexOfLF(_ buffer: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < buffer.count, let base = buffer.baseAddress else { return nil }
        guard let hit = memchr(base + start, Int32(HTTPSyntax.lf), buffer.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    static func trimmed(_ buffer: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> ByteRange {
        let value = buffer[start..<end].trimming(where: HTTPSyntax.isWhitespace)
        return ByteRange(value.startIndex, value.endIndex)
    }

    private static func parseField(
        _ buffer: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ validate: Bool, _ anomalies: inout HTTPAnomalies
    ) -> HTTPHeaderField? {
        guard let hit = memchr(buffer.baseAddress! + start, Int32(HTTPSyntax.colon), end - start) else {
            anomalies.insert(.malformedHeaderLine)
            return nil
        }
        let colon = buffer.baseAddress!.distance(to: UnsafeRawPointer(hit))
        var nameEnd = colon
        if nameEnd > start && HTTPSyntax.isWhitespace(buffer[nameEnd - 1]) {
            anomalies.insert(.whitespaceBeforeColon)
            while nameEnd > start, HTTPSyntax.isWhitespace(buffer[nameEnd - 1]) { nameEnd -= 1 }
        }
        if nameEnd == start {
            anomalies.insert(.invalidHeaderName)
        } else if validate {
            for i in start..<nameEnd where !HTTPSyntax.isToken(buffer[i]) {
                anomalies.insert(.invalidHeaderName)
                break
            }
        }
        let value = trimmed(buffer, colon + 1, end)
        if validate && hasControlCharacter(buffer, value) { anomalies.insert(.controlCharacterInHeader) }
        return HTTPHeaderField(name: ByteRange(start, nameEnd), value: value)
    }

    /// Any byte below 0x20 other than tab, or DEL. Eight bytes at a time: the word test flags
    /// every byte below 0x20 or at 0x7F, and only a flagged word is looked at byte by byte.
    static func hasControlCharacter(_ buffer: UnsafeRawBufferPointer, _ range: ByteRange) -> Bool {
        var i = Int(range.start)
        let end = Int(range.end)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= end {
            let word = buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let below20 = (word &- ones &* 0x20) & ~word & highs
            let del = ((word ^ (ones &* 0x7F)) &- ones) & ~(word ^ (ones &* 0x7F)) & highs
            if below20 | del != 0 { break }
            i += 8
        }
        while i < end {
            let byte = buffer[i]
            if (byte < 0x20 && byte != HTTPSyntax.tab) || byte == 0x7F { return true }
            i += 1
        }
        return false
    }

    private static func parseRequestLine(
        _ buffer: UnsafeRawBufferPointer, _ start: Int, _ end: Int,
        _ head: HTTPMessageHead, _ anomalies: inout HTTPAnomalies, _ version: inout HTTPVersion
    ) {
        var i = start
        while i < end, !HTTPSyntax.isWhitespace(buffer[i]) { i += 1 }
        let method = ByteRange(start, i)
        for j in start..<i where !HTTPSyntax.isToken(buffer[j]) {
            anomalies.insert(.invalidStartLine)
            break
        }
        let methodBytes = UnsafeRawBufferPointer(rebasing: buffer[method.range])
        let isGET = methodBytes.elementsEqual("GET".utf8)
        if !HTTPSyntax.isKnownMethod(methodBytes) { anomalies.insert(.unknownMethod) }

        var targetStart = i
        while targetStart < end, HTTPSyntax.isWhitespace(buffer[targetStart]) { targetStart += 1 }
        if targetStart - i > 1 || (targetStart > i && buffer[i] == HTTPSyntax.tab) {
            anomalies.insert(.extraWhitespaceInStartLine)
        }
        var lineEnd = end
        while lineEnd > targetStart, HTTPSyntax.isWhitespace(buffer[lineEnd - 1]) {
            lineEnd -= 1
            anomalies.insert(.extraWhitespaceInStartLine)
        }
        // The version is the last word when it looks like one; everything between is the target,
        // even if it holds spaces (some servers accept that, so detection must see all of it).
        var versionRange = ByteRange(lineEnd, lineEnd)
        var targetEnd = lineEnd
        if lineEnd - targetStart >= 8 {
            let candidate = UnsafeRawBufferPointer(rebasing: buffer[(lineEnd - 8)..<lineEnd])
            if HTTPSyntax.isVersion(candidate), lineEnd - 8 > targetStart, HTTPSyntax.isWhitespace(buffer[lineEnd - 9]) {
                versionRange = ByteRange(lineEnd - 8, lineEnd)
                targetEnd = lineEnd - 9
                var gapStart = targetEnd
                while gapStart > targetStart, HTTPSyntax.isWhitespace(buffer[gapStart - 1]) { gapStart -= 1 }
                if gapStart < targetEnd { anomalies.insert(.extraWhitespaceInStartLine) }
                targetEnd = gapStart
            }
        }
        if versionRange.isEmpty {
            // No version: HTTP/0.9 if it is a bare `GET /path`, otherwise junk.
            var hasSpace = false
            for j in targetStart..<lineEnd where HTTPSyntax.isWhitespace(buffer[j]) { hasSpace = true; break }
            if isGET && !hasSpace && targetStart < lineEnd {
                anomalies.insert(.http09)
                version = .http09
            } else {
                anomalies.insert(.invalidStartLine)
                version = .other("")
            }
        } else {
            version = HTTPSyntax.version(UnsafeRawBufferPointer(rebasing: buffer[versionRange.range]))
            if case .other = version { anomalies.insert(.invalidVersion) }
        }
        if targetStart >= targetEnd { anomalies.insert(.invalidStartLine) }
        for j in targetStart..<max(targetStart, targetEnd) {
            let byte = buffer[j]
            if HTTPSyntax.isWhitespace(byte) { anomalies.insert(.whitespaceInTarget) }
            if byte == 0 { anomalies.insert(.nulInTarget) }
        }
        head.startLine = (method, ByteRange(targetStart, max(targetStart, targetEnd)), versionRange)
    }

    private static func parseStatusLine(
        _ buffer: UnsafeRawBufferPointer, _ start: Int, _ end: Int,
        _ head: HTTPMessageHead, _ anomalies: inout HTTPAnomalies, _ version: inout HTTPVersion, _ status: inout Int
    ) {
        var i = start
        while i < end, !HTTPSyntax.isWhitespace(buffer[i]) { i += 1 }
        let versionRange = ByteRange(start, i)
        version = HTTPSyntax.version(UnsafeRawBufferPointer(rebasing: buffer[versionRange.range]))
        if case .other = version { anomalies.insert(.invalidVersion) }
        while i < end, HTTPSyntax.isWhitespace(buffer[i]) { i += 1 }
        let codeStart = i
        var code = 0
        while i < end, HTTPSyntax.isDigit(buffer[i]), i - codeStart < 3 {
            code = code * 10 + Int(buffer[i] - 0x30)
            i += 1
        }
        if i - codeStart != 3 { anomalies.insert(.invalidStartLine) }
        status = code
        let codeRange = ByteRange(codeStart, i)
        while i < end, HTTPSyntax.isWhitespace(buffer[i]) { i += 1 }
        head.startLine = (versionRange, codeRange, ByteRange(i, end))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
