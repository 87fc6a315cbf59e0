import NetworkTypes

/// A half-open range of byte offsets into a head's storage. Int32 keeps field tables small.
public struct ByteRange: Hashable, Sendable {
    public var start: Int32
    public var end: Int32

    public init(_ start: Int, _ end: Int) {
        self.start = Int32(start)
        self.end = Int32(end)
    }

    public static let empty = ByteRange(0, 0)
    public var isEmpty: Bool { start >= end }
    public var count: Int { Int(end - start) }
    var range: Range<Int> { Int(start)..<Int(end) }
}

/// One header line: name and value as offsets into the head's storage (wire case, wire order).
public struct HTTPHeaderField: Hashable, Sendable {
    public var name: ByteRange
    public var value: ByteRange
}

/// A parsed start line and header block kept as one byte buffer plus offsets: one allocation
/// per message instead of one per string. Values of folded headers are stored unfolded.
///
/// A class, written only while parsing: the head is handed through several stages, and
/// copying a struct of two arrays at each hand-off cost measurable retain/release traffic.
/// Sendable by that rule: the parser that fills it is its only writer, on one thread, and
/// hands it on (to detection, to the alert writer, to another thread) only once complete.
public final class HTTPMessageHead: @unchecked Sendable {
    public internal(set) var storage: [UInt8]
    /// Request: method, target, version. Response: version, status, reason.
    public internal(set) var startLine: (ByteRange, ByteRange, ByteRange)
    public internal(set) var fields: [HTTPHeaderField]

    init(storage: [UInt8]) {
        self.storage = storage
        startLine = (.empty, .empty, .empty)
        fields = []
    }

    public func string(_ range: ByteRange) -> String {
        storage.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range.range]), as: UTF8.self) }
    }

    /// Memory the head holds: its bytes and its field table.
    public var heldBytes: Int { storage.capacity + fields.capacity * MemoryLayout<HTTPHeaderField>.stride }

    public func bytes(_ range: ByteRange) -> ArraySlice<UInt8> { storage[range.range] }

    /// Headers as strings, in wire order and case.
    public var headers: [(name: String, value: String)] {
        fields.map { (string($0.name), string($0.value)) }
    }

    /// Every value of the header, matched case-insensitively.
    public func values(named name: String) -> [String] {
        let wanted = Array(name.utf8)
        return fields.filter { nameEquals($0, wanted) }.map { string($0.value) }
    }

    /// Every value of the header as wire bytes (no UTF-8 repair), matched case-insensitively.
    public func valueBytes(named name: String) -> [[UInt8]] {
        let wanted = Array(name.utf8)
        return fields.filter { nameEquals($0, wanted) }.map { Array(bytes($0.value)) }
    }

    public func firstValue(named name: String) -> String? {
        let wanted = Array(name.utf8)
        return fields.first { nameEquals($0, wanted) }.map { string($0.value) }
    }

    // Byte-level questions a proxy asks of every message (framing, keep-alive): answered
    // without building strings, which cost more than the rest of forwarding a request.

    /// Whether a header of this (lowercase) name is present.
    public func contains(_ lowercaseName: StaticString) -> Bool {
        fields.contains { nameEquals($0, lowercaseName) }
    }

    /// Whether some value of the header contains `needle` (lowercase ASCII), ignoring case.
    public func value(of lowercaseName: StaticString, contains needle: StaticString) -> Bool {
        fields.contains { field in
            guard nameEquals(field, lowercaseName) else { return false }
            return storage.withUnsafeBytes { buffer in
                needle.withUTF8Buffer { Self.containsIgnoringCase(buffer, field.value, UnsafeRawBufferPointer($0)) }
            }
        }
    }

    /// Whether some value of the header, without surrounding spaces and tabs, is `expected`
    /// (lowercase ASCII), ignoring case.
    public func value(of lowercaseName: StaticString, is expected: StaticString) -> Bool {
        fields.contains { field in
            guard nameEquals(field, lowercaseName) else { return false }
            return storage.withUnsafeBytes { buffer in
                expected.withUTF8Buffer {
                    Self.equalsIgnoringCase(buffer, HTTPHeadParser.trimmed(buffer, Int(field.value.start), Int(field.value.end)), UnsafeRawBufferPointer($0))
                }
            }
        }
    }

    /// The items of a comma-separated list header (every field of that name), each without
    /// surrounding spaces and tabs, lowercased; empty items left out.
    public func listItems(of lowercaseName: StaticString) -> [[UInt8]] {
        var items: [[UInt8]] = []
        storage.withUnsafeBytes { buffer in
            for field in fields where nameEquals(field, lowercaseName) {
                var start = Int(field.value.start)
                let end = Int(field.value.end)
                while start <= end {
                    var itemEnd = start
                    while itemEnd < end, buffer[itemEnd] != UInt8(ascii: ",") { itemEnd += 1 }
                    let item = HTTPHeadParser.trimmed(buffer, start, itemEnd)
                    if !item.isEmpty { items.append(item.range.map { ASCII.lowercased(buffer[$0]) }) }
                    start = itemEnd + 1
                }
            }
        }
        return items
    }

    static func containsIgnoringCase(_ buffer: UnsafeRawBufferPointer, _ range: ByteRange, _ lowercase: UnsafeRawBufferPointer) -> Bool {
        let count = lowercase.count
        guard count > 0 else { return true }
        guard range.count >= count else { return false }
        var start = Int(range.start)
        while start + count <= Int(range.end) {
            if equalsIgnoringCase(buffer, ByteRange(start, start + count), lowercase) { return true }
            start += 1
        }
        return false
    }

    /// ASCII case-insensitive comparison of a field's name with a lowercase name.
    public func nameEquals(_ field: HTTPHeaderField, _ lowercaseName: [UInt8]) -> Bool {
        guard field.name.count == lowercaseName.count else { return false }
        return storage.withUnsafeBytes { buffer in
            lowercaseName.withUnsafeBytes { Self.equalsIgnoringCase(buffer, field.name, $0) }
        }
    }

    /// Same, for a literal: no array, no lazy global, nothing retained (runs per field per message).
    public func nameEquals(_ field: HTTPHeaderField, _ lowercaseName: StaticString) -> Bool {
        guard field.name.count == lowercaseName.utf8CodeUnitCount else { return false }
        return storage.withUnsafeBytes { buffer in
            lowercaseName.withUTF8Buffer { Self.equalsIgnoringCase(buffer, field.name, UnsafeRawBufferPointer($0)) }
        }
    }

    @inline(__always)
    static func equalsIgnoringCase(_ buffer: UnsafeRawBufferPointer, _ range: ByteRange, _ lowercase: UnsafeRawBufferPointer) -> Bool {
        ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: buffer[Int(range.start)..<Int(range.end)]), lowercase: lowercase)
    }
}
