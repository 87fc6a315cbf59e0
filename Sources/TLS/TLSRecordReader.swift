/// One direction's bytes cut into TLS records (RFC 8446 §5.1, RFC 5246 §6.2), however the
/// stream was segmented: several records per segment, records across segments.
struct TLSRecordReader {
    struct Record {
        /// The five header bytes: type, version, length.
        var header: [UInt8]
        var body: [UInt8]
        var contentType: UInt8 { header[0] }
    }

    enum ContentType {
        static let changeCipherSpec: UInt8 = 20
        static let alert: UInt8 = 21
        static let handshake: UInt8 = 22
        static let applicationData: UInt8 = 23
    }

    enum State: Equatable {
        case readingRecords
        /// Bytes that are not TLS records: nothing more is read.
        case broken
    }

    /// The largest record body either version allows (2^14 plus TLS 1.2's 2,048 of expansion).
    static let maxBodyLength = (1 << 14) + 2048

    private(set) var state = State.readingRecords
    private var pending: [UInt8] = []
    private var start = 0

    /// Bytes waiting for the rest of their record.
    var bufferedBytes: Int { pending.count - start }

    mutating func append(_ bytes: some Collection<UInt8>) {
        guard state == .readingRecords else { return }
        if start > 0 && start == pending.count {
            pending.removeAll(keepingCapacity: true)
            start = 0
        }
        pending.append(contentsOf: bytes)
    }

    /// The next whole record, nil until one is complete (or once the stream is broken).
    mutating func next() -> Record? {
        guard state == .readingRecords, pending.count - start >= 5 else { return nil }
        let type = pending[start], major = pending[start + 1]
        let length = Int(pending[start + 3]) << 8 | Int(pending[start + 4])
        guard (ContentType.changeCipherSpec...ContentType.applicationData).contains(type), major == 3,
              length <= Self.maxBodyLength else {
            state = .broken
            pending = []
            start = 0
            return nil
        }
        guard pending.count - start >= 5 + length else { return nil }
        let record = Record(header: Array(pending[start..<start + 5]), body: Array(pending[start + 5..<start + 5 + length]))
        start += 5 + length
        if start > 65536 && start * 2 > pending.count {
            pending.removeFirst(start)
            start = 0
        }
        return record
    }
}
