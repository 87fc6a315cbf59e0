/// The handshake messages of one direction (RFC 8446 §4), reassembled across records, and what
/// the sensor reads from the two hellos. Everything else of the handshake passes unread.
struct TLSHandshakeReader {
    struct Message {
        var type: UInt8
        var body: [UInt8]
    }

    enum MessageType {
        static let clientHello: UInt8 = 1
        static let serverHello: UInt8 = 2
        static let newSessionTicket: UInt8 = 4
        static let encryptedExtensions: UInt8 = 8
        static let finished: UInt8 = 20
        static let keyUpdate: UInt8 = 24
    }

    /// A handshake message may not be larger than this here (certificate chains are the large
    /// ones); beyond it the stream is treated as broken rather than buffered.
    static let maxMessageLength = 1 << 17

    private var pending: [UInt8] = []
    private(set) var broken = false

    /// Bytes of a message not complete yet.
    var bufferedBytes: Int { pending.count }

    mutating func append(_ bytes: [UInt8]) {
        guard !broken else { return }
        pending += bytes
    }

    mutating func next() -> Message? {
        guard !broken, pending.count >= 4 else { return nil }
        let length = Int(pending[1]) << 16 | Int(pending[2]) << 8 | Int(pending[3])
        guard length <= Self.maxMessageLength else {
            broken = true
            pending = []
            return nil
        }
        guard pending.count >= 4 + length else { return nil }
        let message = Message(type: pending[0], body: Array(pending[4..<4 + length]))
        pending.removeFirst(4 + length)
        return message
    }
}

/// The fields of a ClientHello the sensor uses.
struct ClientHello: Equatable {
    var random: [UInt8]
    var serverName: String?
    var alpn: [String]

    /// Nil when the bytes are not a well-formed ClientHello.
    init?(_ body: [UInt8]) {
        var reader = ByteCursor(body)
        guard reader.skip(2), let random = reader.take(32), let sessionID = reader.vector8(), sessionID.count <= 32,
              let suites = reader.vector16(), suites.count % 2 == 0, reader.vector8() != nil else { return nil }
        self.random = random
        serverName = nil
        alpn = []
        guard !reader.isAtEnd else { return }
        guard let extensions = reader.extensions() else { return nil }
        for (type, data) in extensions {
            var ext = ByteCursor(data)
            switch type {
            case 0:  // server_name: a list of (type, name); type 0 is a host name
                guard var names = ext.vector16().map(ByteCursor.init) else { return nil }
                while !names.isAtEnd {
                    guard let kind = names.take(1), let name = names.vector16() else { return nil }
                    if kind[0] == 0, serverName == nil { serverName = String(decoding: name, as: UTF8.self) }
                }
            case 16:  // application_layer_protocol_negotiation
                guard var protocols = ext.vector16().map(ByteCursor.init) else { return nil }
                while !protocols.isAtEnd {
                    guard let name = protocols.vector8() else { return nil }
                    alpn.append(String(decoding: name, as: UTF8.self))
                }
            default: break
            }
        }
    }
}

/// The fields of a ServerHello the sensor uses.
struct ServerHello: Equatable {
    var random: [UInt8]
    var cipherSuite: UInt16
    /// 0x0304 for TLS 1.3 (from supported_versions), else the legacy version field.
    var version: UInt16
    var alpn: String?

    /// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
    static let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    var isHelloRetryRequest: Bool { random == Self.helloRetryRandom }

    init?(_ body: [UInt8]) {
        var reader = ByteCursor(body)
        guard let legacy = reader.uint16(), let random = reader.take(32), reader.vector8() != nil,
              let suite = reader.uint16(), reader.take(1) != nil else { return nil }
        self.random = random
        cipherSuite = suite
        version = legacy
        alpn = nil
        guard !reader.isAtEnd else { return }
        guard let extensions = reader.extensions() else { return nil }
        for (type, data) in extensions {
            var ext = ByteCursor(data)
            switch type {
            case 43:  // supported_versions: the selected version
                guard let selected = ext.uint16() else { return nil }
                version = selected
            case 16:
                guard var protocols = ext.vector16().map(ByteCursor.init), let name = protocols.vector8() else { return nil }
                alpn = String(decoding: name, as: UTF8.self)
            default: break
            }
        }
    }
}

/// TLS 1.3's EncryptedExtensions: where the server's ALPN choice is (encrypted, unlike TLS 1.2's
/// ServerHello extension).
struct EncryptedExtensions: Equatable {
    var alpn: String?

    init?(_ body: [UInt8]) {
        var reader = ByteCursor(body)
        guard let extensions = reader.extensions() else { return nil }
        for (type, data) in extensions {
            if type == 16 {
                var ext = ByteCursor(data)
                guard var protocols = ext.vector16().map(ByteCursor.init), let name = protocols.vector8() else { return nil }
                alpn = String(decoding: name, as: UTF8.self)
            }
        }
    }
}

/// Reads big-endian fields and length-prefixed vectors, never past the end.
struct ByteCursor {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, bytes.count - offset >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func skip(_ count: Int) -> Bool { take(count) != nil }

    mutating func uint16() -> UInt16? { take(2).map { UInt16($0[0]) << 8 | UInt16($0[1]) } }

    mutating func vector8() -> [UInt8]? {
        guard let length = take(1) else { return nil }
        return take(Int(length[0]))
    }

    mutating func vector16() -> [UInt8]? {
        guard let length = uint16() else { return nil }
        return take(Int(length))
    }

    /// A hello's extension block: (type, data) pairs, nil when it is cut short.
    mutating func extensions() -> [(type: UInt16, data: [UInt8])]? {
        guard let block = vector16() else { return nil }
        var list = ByteCursor(block)
        var found: [(type: UInt16, data: [UInt8])] = []
        while !list.isAtEnd {
            guard let type = list.uint16(), let data = list.vector16() else { return nil }
            found.append((type, data))
        }
        return found
    }
}
