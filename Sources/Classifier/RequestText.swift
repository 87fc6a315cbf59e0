import NetworkTypes

/// What the model reads of a request: the decoded parts that can carry code — the path, each
/// parameter value — joined as one path-like string, leaving out every part that cannot.
///
/// A part made only of letters, digits, blanks and the punctuation of words, numbers, dates and
/// addresses (`/scripts/app.js`, `running shoes`, `2024-05-01T10:00:00Z`, `ana@example.org`)
/// holds no SQL, markup or shell syntax, so the model does not judge it: judging it taught the
/// model that ordinary words which also occur in probe lists (`scripts`, `admin`, `passwd`) mean
/// "attack", and it flagged a few percent of every site. Such parts are the rules' business
/// (file names, probes). Parameter names, `?`, `&` and `=` are left out for the same reason: the
/// benign training data is almost all bare paths.
public enum RequestText {
    public static let maxLength = 1024

    /// Where a part comes from: a path also has its separators as ordinary punctuation.
    public enum Part: Sendable {
        case path, value
    }

    /// `/index.php?q=o'brien&page=2` → `/o'brien`; `/scripts/app.js?v=2` → empty (nothing to judge).
    public static func fromTarget<C: Collection>(_ target: C) -> [UInt8] where C.Element == UInt8 {
        if let result = target.withContiguousStorageIfAvailable({ fromTarget(bytes: $0) }) { return result }
        return Array(target).withUnsafeBufferPointer { fromTarget(bytes: $0) }
    }

    /// The same on bytes in memory: one output array and two decoding buffers, however many
    /// parameters (it runs for every request the model scores).
    public static func fromTarget(bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, maxLength))
        var decoded: [UInt8] = [], twice: [UInt8] = []
        if let question = bytes.firstIndex(of: 0x3F) {
            appendPart(UnsafeBufferPointer(rebasing: bytes[..<question]), .path, to: &out, &decoded, &twice)
            var start = question + 1
            while start <= bytes.count, out.count < maxLength {
                var end = start
                // Only `&` separates: `;` (a separator to a few frameworks) is the shell's and SQL's
                // statement separator, and `?host=1.2.3.4;id` must reach the model whole.
                while end < bytes.count && bytes[end] != 0x26 { end += 1 }
                var valueStart = start
                while valueStart < end && bytes[valueStart] != 0x3D { valueStart += 1 }
                valueStart = valueStart < end ? valueStart + 1 : start
                if valueStart < end {
                    appendPart(UnsafeBufferPointer(rebasing: bytes[valueStart..<end]), .value, to: &out, &decoded, &twice)
                }
                start = end + 1
            }
        } else {
            appendPart(bytes, .path, to: &out, &decoded, &twice)
        }
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    /// One parameter value (body arguments, already form-decoded: `+` is a plus): normalized the
    /// same way, as a path segment; empty when it cannot carry code.
    public static func fromValue<C: Collection>(_ value: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        var decoded: [UInt8] = [], twice: [UInt8] = []
        let bytes = Array(value)
        bytes.withUnsafeBufferPointer { appendPart($0, .value, plusIsSpace: false, to: &out, &decoded, &twice) }
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    /// Whether `fromValue` gives nothing for `value`, told from its bytes without normalizing
    /// them: with no `%` nothing decodes, and folding case and digits keeps inert bytes inert.
    /// (Most cookie values and many arguments are plain tokens and words.)
    public static func isInertValue(_ value: UnsafeRawBufferPointer) -> Bool {
        !value.contains(0x25) && isInert(value.lazy.map(fold), .value)
    }

    /// Case and digits as the model reads them: `A` is `a`, every digit is `0`.
    @inline(__always) static func fold(_ byte: UInt8) -> UInt8 {
        byte &- 0x30 < 10 ? 0x30 : byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    /// `/` and the normalized part, unless the part is inert (then nothing).
    static func appendPart(_ input: UnsafeBufferPointer<UInt8>, _ part: Part, plusIsSpace: Bool? = nil, to out: inout [UInt8],
                           _ decoded: inout [UInt8], _ twice: inout [UInt8]) {
        let start = out.count
        if part == .value { out.append(0x2F) }
        let textStart = out.count
        appendNormalized(input, plusIsSpace: plusIsSpace ?? (part == .value), to: &out, &decoded, &twice)
        if isInert(out[textStart...], part) {
            out.removeSubrange(start...)
        } else if part == .path {
            dropLeadingInertSegments(of: &out, from: textStart)
        }
    }

    /// A path is judged from its first segment with syntax on (`/shop/scripts/x.php;id` →
    /// `/x.php;id`, `/a/../../etc/passwd` → `/../../etc/passwd`): the folders before it are
    /// vocabulary, and what follows is the payload's context.
    static func dropLeadingInertSegments(of out: inout [UInt8], from start: Int) {
        var segmentStart = start
        while segmentStart < out.count {
            var end = segmentStart + 1
            while end < out.count && out[end] != 0x2F { end += 1 }
            // Whether the segment (its leading `/` included) can carry code.
            if !isInert(out[segmentStart..<end], .path) { break }
            segmentStart = end
        }
        // The whole is not inert, so some segment is not (a `..` or `--` cannot span the `/`):
        // the bound only guards against removing everything.
        if segmentStart > start && segmentStart < out.count { out.removeSubrange(start..<segmentStart) }
    }

    /// Whether a normalized part cannot carry code: every byte is a letter, a digit, a blank or
    /// the punctuation of words, numbers, dates and addresses (a path adds its separators), and
    /// there is no `..` (traversal) or `--` (an SQL comment). Bytes from 0x80 up (UTF-8 letters) are inert; a tab is not.
    static func isInert<Text: Sequence<UInt8>>(_ text: Text, _ part: Part) -> Bool {
        var previous: UInt8 = 0
        for byte in text {
            switch byte {
            case 0x61...0x7A, 0x30, 0x20, 0x5F, 0x2C, 0x3A, 0x40, 0x80...0xFF:   // a-z 0 space _ , : @
                break
            case 0x2E, 0x2D:   // . and -, but not `..` (traversal) or `--` (an SQL comment)
                if previous == byte { return false }
            case 0x2F, 0x7E, 0x2B:   // / ~ +
                if part == .value { return false }
            default:
                return false
            }
            previous = byte
        }
        return true
    }

    /// Percent-decoding twice (double encoding), `%uXXXX`, `+` as space in values, ASCII
    /// lowercase, and every digit as `0` (ids and dates carry no signal, their shape does).
    static func appendNormalized(_ input: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool, to out: inout [UInt8],
                                 _ decoded: inout [UInt8], _ twice: inout [UInt8]) {
        decoded.removeAll(keepingCapacity: true)
        twice.removeAll(keepingCapacity: true)
        func fold(_ bytes: UnsafeBufferPointer<UInt8>) {
            for byte in bytes { out.append(RequestText.fold(byte)) }
        }
        guard PercentDecoding.decode(input, plusIsSpace: plusIsSpace, unicode: true, into: &decoded) else {
            fold(input)
            return
        }
        decoded.withUnsafeBufferPointer { once in
            if once.contains(0x25), PercentDecoding.decode(once, plusIsSpace: false, unicode: true, into: &twice) {
                twice.withUnsafeBufferPointer { fold($0) }
            } else {
                fold(once)
            }
        }
    }
}
