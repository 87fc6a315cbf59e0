import CZlib
import HTTP
import NetworkTypes

/// The body as the application reads it. Servers and frameworks inflate request bodies sent
/// with `Content-Encoding: gzip` or `deflate`, so an attack compressed that way passes any
/// inspection of the raw bytes (EVASION 10); detection reads the inflated body instead,
/// bounded so that a small body cannot make a large one (a compression bomb yields its first
/// `maxDecodedBytes` and no more).
enum BodyDecoding {
    static let maxDecodedBytes = 1 << 20

    /// The inflated body when the request declares an encoding this can undo and the bytes
    /// inflate; otherwise the body as sent (`decoded` false), which is also what an
    /// application that does not inflate would see.
    static func applicationBody(_ request: HTTPRequest) -> (bytes: [UInt8], decoded: Bool) {
        guard !request.body.isEmpty else { return (request.body, false) }
        // Codings are listed in the order they were applied: undo them last to first.
        let codings = Self.codings(request)
        guard !codings.isEmpty, codings.count <= 2 else { return (request.body, false) }
        var bytes = request.body
        for coding in codings.reversed() {
            guard coding == "gzip" || coding == "x-gzip" || coding == "deflate",
                  let inflated = inflate(bytes, limit: maxDecodedBytes, whole: !request.bodyTruncated) else { return (request.body, false) }
            bytes = inflated
        }
        return (bytes, true)
    }

    /// The codings Content-Encoding declares, lowercased, `identity` left out: a body that
    /// declares some and was not decoded is a body-parser failure.
    static func codings(_ request: HTTPRequest) -> [String] {
        guard let header = request.header("content-encoding") else { return [] }
        return header.lowercased().split(separator: ",").map { $0.trimming(" \t") }.filter { !$0.isEmpty && $0 != "identity" }
    }

    /// Inflates gzip, zlib or raw deflate data (the body may be cut at the inspection limit:
    /// what inflates before the cut is kept). Nil when the bytes are none of these.
    /// `whole`: the body is all there (not cut at the inspection limit).
    static func inflate(_ input: [UInt8], limit: Int, whole: Bool = false) -> [UInt8]? {
        // 15 + 32: zlib or gzip, told apart by the header; -15: raw deflate, which some
        // clients send as "deflate".
        if let output = inflate(input, windowBits: 15 + 32, limit: limit, whole: whole) { return output }
        return inflate(input, windowBits: -15, limit: limit, whole: whole)
    }

    private static func inflate(_ input: [UInt8], windowBits: Int32, limit: Int, whole: Bool) -> [UInt8]? {
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        var status = Z_OK
        var membersEnded = 0
        input.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while output.count < limit {
                let room = min(chunk.count, limit - output.count)
                let produced: Int = chunk.withUnsafeMutableBufferPointer { chunk in
                    stream.next_out = chunk.baseAddress
                    stream.avail_out = uInt(room)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return room - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                // gzip readers (Go, Python, zcat) go on to the next member after the end of
                // one, so an attack can sit in a second member behind a harmless first.
                if status == Z_STREAM_END { membersEnded += 1 }
                if status == Z_STREAM_END, stream.avail_in > 0, inflateReset(&stream) == Z_OK {
                    status = Z_OK
                    continue
                }
                // Z_BUF_ERROR with input left means no progress is possible; without input
                // left it means the body was cut: keep what came out.
                if status != Z_OK || (produced == 0 && stream.avail_in == 0) { break }
            }
        }
        // A stream that neither ended nor produced anything is none: a few bytes of anything
        // start a raw deflate stream, and "inflating" `a=1` to nothing would hide the body.
        if whole && membersEnded == 0 && output.isEmpty { return nil }
        switch status {
        case Z_OK, Z_STREAM_END: return output
        case Z_BUF_ERROR where !output.isEmpty: return output
        // Bytes after a complete stream that are no further member (garbage appended to make
        // the whole body fail to inflate): what the complete members held still counts.
        case _ where membersEnded > 0: return output
        default: return nil
        }
    }
}
