import HTTP
import NetworkTypes

/// A request's Content-Type as the body parsers read it: bytes, never a `String` (whose
/// searches cost more than parsing a small form body).
///
/// Matching stays loose on purpose: a media type is recognised anywhere in the value, so
/// `text/plain; multipart/form-data` is still parsed as multipart — a parser that reads less
/// than some application does is one an attacker can hide behind (EVASION 10).
struct ContentType {
    /// The whole value, lowercased.
    private let lowered: [UInt8]
    /// The whole value as sent (parameter values keep their case: a multipart boundary).
    private let original: [UInt8]

    init(_ value: some Collection<UInt8>) {
        original = Array(value)
        lowered = original.map(ASCII.lowercased)
    }

    /// The first Content-Type header of the request, or none.
    init?(of request: HTTPRequest) {
        let head = request.head
        guard let field = head.fields.first(where: { head.nameEquals($0, Self.headerName) }) else { return nil }
        self.init(head.bytes(field.value))
    }

    /// Whether the value contains `needle` (lowercase ASCII).
    func contains(_ needle: StaticString) -> Bool { position(of: needle) != nil }

    private func position(of needle: StaticString) -> Int? {
        needle.withUTF8Buffer { n in lowered.withUnsafeBytes { RuleSet.find(UnsafeRawBufferPointer(n), in: $0) } }
    }

    /// The value of parameter `name` (lowercase ASCII) after the media type, lowercased,
    /// without blanks around it even inside quotes (`charset=" UTF-8 "` is still UTF-8).
    func parameter(_ name: String) -> [UInt8]? {
        HeaderParameters.value(of: name, in: lowered).map { Array($0.trimming(where: Self.isBlank)) }
    }

    /// The multipart boundary: `boundary=` found anywhere (browsers and servers disagree on
    /// where it may stand), up to the next `;`, case kept; nil when absent or empty.
    var boundary: [UInt8]? {
        let key: StaticString = "boundary="
        guard let start = position(of: key) else { return nil }
        let valueStart = start + key.utf8CodeUnitCount
        let valueEnd = original[valueStart...].firstIndex(of: Self.semicolon) ?? original.endIndex
        let value = original[valueStart..<valueEnd].trimming { Self.isBlank($0) || $0 == Self.quote }
        return value.isEmpty ? nil : Array(value)
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    private static let headerName = Array("content-type".utf8)
    private static let semicolon = UInt8(ascii: ";")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
}

private extension StaticString {
    var utf8Bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: utf8Start, count: utf8CodeUnitCount) }
}
