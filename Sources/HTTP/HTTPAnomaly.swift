/// Parser and stream oddities recorded on a message for detection to use. A bit set, so
/// recording them costs no allocation on the hot path.
public struct HTTPAnomalies: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    // Start line
    public static let invalidStartLine = HTTPAnomalies(rawValue: 1 << 0)
    public static let http09 = HTTPAnomalies(rawValue: 1 << 1)
    public static let unknownMethod = HTTPAnomalies(rawValue: 1 << 2)
    public static let invalidVersion = HTTPAnomalies(rawValue: 1 << 3)
    public static let whitespaceInTarget = HTTPAnomalies(rawValue: 1 << 4)
    public static let extraWhitespaceInStartLine = HTTPAnomalies(rawValue: 1 << 5)
    // Header block
    public static let bareLF = HTTPAnomalies(rawValue: 1 << 6)
    public static let obsoleteLineFolding = HTTPAnomalies(rawValue: 1 << 7)
    public static let whitespaceBeforeColon = HTTPAnomalies(rawValue: 1 << 8)
    public static let invalidHeaderName = HTTPAnomalies(rawValue: 1 << 9)
    public static let malformedHeaderLine = HTTPAnomalies(rawValue: 1 << 10)
    public static let controlCharacterInHeader = HTTPAnomalies(rawValue: 1 << 11)
    public static let oversizeHeaders = HTTPAnomalies(rawValue: 1 << 12)
    public static let missingHost = HTTPAnomalies(rawValue: 1 << 13)
    public static let duplicateHost = HTTPAnomalies(rawValue: 1 << 14)
    // Framing (request smuggling material)
    public static let contentLengthWithTransferEncoding = HTTPAnomalies(rawValue: 1 << 15)
    public static let duplicateContentLength = HTTPAnomalies(rawValue: 1 << 16)
    public static let conflictingContentLength = HTTPAnomalies(rawValue: 1 << 17)
    public static let invalidContentLength = HTTPAnomalies(rawValue: 1 << 18)
    public static let invalidTransferEncoding = HTTPAnomalies(rawValue: 1 << 19)
    public static let obfuscatedTransferEncoding = HTTPAnomalies(rawValue: 1 << 20)
    public static let duplicateTransferEncoding = HTTPAnomalies(rawValue: 1 << 21)
    public static let invalidChunkSize = HTTPAnomalies(rawValue: 1 << 22)
    public static let chunkExtension = HTTPAnomalies(rawValue: 1 << 23)
    public static let missingChunkTerminator = HTTPAnomalies(rawValue: 1 << 24)
    // Stream
    public static let incomplete = HTTPAnomalies(rawValue: 1 << 25)
    public static let streamGap = HTTPAnomalies(rawValue: 1 << 26)
    public static let skippedData = HTTPAnomalies(rawValue: 1 << 27)
    public static let tcpOverlapConflict = HTTPAnomalies(rawValue: 1 << 28)
    public static let tcpOutsideWindow = HTTPAnomalies(rawValue: 1 << 29)
    public static let ipFragmented = HTTPAnomalies(rawValue: 1 << 30)
    public static let bareCR = HTTPAnomalies(rawValue: 1 << 31)
    public static let nulInTarget = HTTPAnomalies(rawValue: 1 << 32)
    /// The start line is longer than `HTTPParserLimits.maxStartLineBytes` (servers answer 414).
    public static let oversizeStartLine = HTTPAnomalies(rawValue: 1 << 33)
    /// Inspected before the message was complete because the sensor's memory budget was full.
    public static let memoryPressure = HTTPAnomalies(rawValue: 1 << 34)
    // Request body, as detection parses it (ModSecurity's REQBODY_ERROR): recorded instead of
    // silently reading the body some other way, since a parser the application does not share
    // is how body evasions work.
    /// Declared JSON that does not parse (the whole body was there).
    public static let invalidJSONBody = HTTPAnomalies(rawValue: 1 << 35)
    /// Multipart without a usable boundary, without its closing delimiter, or with a part that
    /// has no header block.
    public static let invalidMultipartBody = HTTPAnomalies(rawValue: 1 << 36)
    /// A Content-Encoding that was not undone: unknown codings, more than two, or bytes that do
    /// not inflate. Detection read the body as sent.
    public static let bodyNotDecoded = HTTPAnomalies(rawValue: 1 << 37)
    /// A body charset the parser does not read (UTF-7, UTF-16, EBCDIC...): what it saw as text
    /// is not what the application reads.
    public static let unreadableBodyCharset = HTTPAnomalies(rawValue: 1 << 38)

    /// Stable snake_case names used in JSON output and in rules (`anomaly` target).
    public static let names: [(HTTPAnomalies, String)] = [
        (.invalidStartLine, "invalid_start_line"),
        (.http09, "http09_request"),
        (.unknownMethod, "unknown_method"),
        (.invalidVersion, "invalid_version"),
        (.whitespaceInTarget, "whitespace_in_target"),
        (.extraWhitespaceInStartLine, "extra_whitespace_in_start_line"),
        (.bareLF, "bare_lf"),
        (.obsoleteLineFolding, "obsolete_line_folding"),
        (.whitespaceBeforeColon, "whitespace_before_colon"),
        (.invalidHeaderName, "invalid_header_name"),
        (.malformedHeaderLine, "malformed_header_line"),
        (.controlCharacterInHeader, "control_character_in_header"),
        (.oversizeHeaders, "oversize_headers"),
        (.missingHost, "missing_host"),
        (.duplicateHost, "duplicate_host"),
        (.contentLengthWithTransferEncoding, "content_length_with_transfer_encoding"),
        (.duplicateContentLength, "duplicate_content_length"),
        (.conflictingContentLength, "conflicting_content_length"),
        (.invalidContentLength, "invalid_content_length"),
        (.invalidTransferEncoding, "invalid_transfer_encoding"),
        (.obfuscatedTransferEncoding, "obfuscated_transfer_encoding"),
        (.duplicateTransferEncoding, "duplicate_transfer_encoding"),
        (.invalidChunkSize, "invalid_chunk_size"),
        (.chunkExtension, "chunk_extension"),
        (.missingChunkTerminator, "missing_chunk_terminator"),
        (.incomplete, "incomplete"),
        (.streamGap, "stream_gap"),
        (.skippedData, "skipped_data"),
        (.tcpOverlapConflict, "tcp_overlap_conflict"),
        (.tcpOutsideWindow, "tcp_outside_window"),
        (.ipFragmented, "ip_fragmented"),
        (.bareCR, "bare_cr"),
        (.nulInTarget, "nul_in_target"),
        (.oversizeStartLine, "oversize_start_line"),
        (.memoryPressure, "memory_pressure"),
        (.invalidJSONBody, "request_body_invalid_json"),
        (.invalidMultipartBody, "request_body_invalid_multipart"),
        (.bodyNotDecoded, "request_body_not_decoded"),
        (.unreadableBodyCharset, "request_body_unreadable_charset"),
    ]

    public var names: [String] {
        HTTPAnomalies.names.compactMap { contains($0.0) ? $0.1 : nil }
    }

    public init?(name: String) {
        guard let found = HTTPAnomalies.names.first(where: { $0.1 == name }) else { return nil }
        self = found.0
    }
}
