/// One TLS connection watched passively, both directions: the hellos are read in the clear,
/// the protected records are opened with keys from the session's secrets (found by its client
/// random in a key log), and the application data comes out in order for the HTTP stage, as if
/// the connection had been plaintext.
///
/// TLS 1.3: a record whose outer type is application_data is protected, with the handshake
/// keys until that side's Finished, then the application keys (renewed by each KeyUpdate); the
/// compatibility ChangeCipherSpec is ignored. TLS 1.2: a side's records are protected from its
/// ChangeCipherSpec on. Protected records that arrive before their secrets are held (bounded
/// by `maxHeldBytes`) and opened once `secretsMayHaveArrived()` finds them.
public final class TLSSession {
    public enum Direction: Sendable, Equatable { case clientToServer, serverToClient }

    /// Why a session is not decrypted (counted by the caller, shown to the analyst).
    public enum Undecryptable: String, Sendable, CaseIterable {
        /// The key log has no secrets for its client random (yet: held records were given up).
        case noSecrets = "no_secrets"
        case unsupportedSuite = "unsupported_suite"
        case unsupportedVersion = "unsupported_version"
        /// ALPN chose HTTP/2, which the HTTP stage does not read.
        case http2 = "alpn_h2"
        /// The capture began after the ClientHello: there is no client random to look up.
        case missingHandshake = "missing_handshake"
        /// The bytes are not well-formed TLS.
        case malformed
        /// A record did not open with the keys the secrets gave.
        case decryptFailed = "decrypt_failed"
        /// Bytes of the stream were lost: the records after them cannot be found or opened.
        case streamGap = "stream_gap"
        /// The connection ended before its handshake did.
        case incompleteHandshake = "incomplete_handshake"
        /// What every session held together reached the stage's memory limit (`TLSMemory`):
        /// the session that asked for more let go.
        case memoryLimit = "memory_limit"
    }

    public enum State: Equatable {
        case awaitingHellos
        case decrypting
        case undecryptable(Undecryptable)
    }

    /// Protected records held for secrets not seen yet, both directions together.
    public static let maxHeldBytes = 256 << 10

    public private(set) var state = State.awaitingHellos
    public private(set) var serverName: String?
    public private(set) var suite: CipherSuite?
    /// 0x0303 for TLS 1.2, 0x0304 for TLS 1.3.
    public private(set) var version: UInt16?
    public private(set) var closeNotified = false

    private enum Keys { case handshake, application }

    private struct Side {
        var records = TLSRecordReader()
        var handshake = TLSHandshakeReader()
        /// TLS 1.2: records are protected from this side's ChangeCipherSpec on.
        var protected = false
        var keys = Keys.handshake
        var decryptor: RecordDecryptor?
        /// TLS 1.3: the traffic secret in force (KeyUpdate derives the next from it).
        var secret: [UInt8]?
        var held: [TLSRecordReader.Record] = []
        var heldBytes = 0
    }

    private var client = Side()
    private var server = Side()
    private var clientRandom: [UInt8]?
    private var serverRandom: [UInt8]?
    private let lookup: ([UInt8]) -> KeyLog.Secrets?
    private let deliver: (Direction, [UInt8]) -> Void
    private let memory: TLSMemory?
    /// What this session holds now, as charged to `memory`.
    private var charged = 0

    /// `lookup` finds a session's secrets by client random; `deliver` receives the decrypted
    /// application data of each direction, in order; `memory` bounds what all sessions hold.
    public init(lookup: @escaping ([UInt8]) -> KeyLog.Secrets?, memory: TLSMemory? = nil,
                deliver: @escaping (Direction, [UInt8]) -> Void) {
        self.lookup = lookup
        self.memory = memory
        self.deliver = deliver
    }

    deinit { memory?.release(charged) }

    /// Bytes held: records waiting for secrets, partial records and partial handshake messages.
    public var heldBytes: Int {
        client.heldBytes + server.heldBytes + client.records.bufferedBytes + server.records.bufferedBytes
            + client.handshake.bufferedBytes + server.handshake.bufferedBytes
    }

    /// Charges what the session holds now; past the stage's limit the session lets go.
    private func account() {
        guard let memory else { return }
        let now = heldBytes
        if now > charged, !memory.reserve(now - charged) {
            give(up: .memoryLimit)
            return
        }
        if now < charged { memory.release(charged - now) }
        charged = now
    }

    /// Protected records are held for secrets the key log did not have.
    public var isWaitingForSecrets: Bool { !client.held.isEmpty || !server.held.isEmpty }

    public var isFinished: Bool {
        if case .undecryptable = state { return true }
        return false
    }

    public func receive(_ bytes: some Collection<UInt8>, from direction: Direction) {
        guard !isFinished else { return }
        withSide(direction) { $0.records.append(bytes) }
        while !isFinished, let record = withSide(direction, { $0.records.next() }) {
            if withSide(direction, { !$0.held.isEmpty }) {
                hold(record, direction)
                drainHeld(direction)
            } else if !process(record, direction) {
                hold(record, direction)
            }
        }
        if withSide(direction, { $0.records.state == .broken }) { give(up: .malformed) }
        account()
    }

    /// Bytes were lost in one direction (a gap in the capture).
    public func lost() {
        give(up: .streamGap)
    }

    /// The connection is over: why it was not decrypted, when it was not (nil when it was).
    public func finish() -> Undecryptable? {
        switch state {
        case .decrypting: return nil
        case .undecryptable(let reason): return reason
        case .awaitingHellos:
            give(up: isWaitingForSecrets ? .noSecrets : .incompleteHandshake)
            if case .undecryptable(let reason) = state { return reason }
            return nil
        }
    }

    /// Whether a stream's first bytes are a TLS record header (handshake, SSL 3.0 to TLS 1.3).
    public static func looksLikeTLS(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 3 && bytes[0] == TLSRecordReader.ContentType.handshake && bytes[1] == 3 && bytes[2] <= 4
    }

    /// "TLS 1.2" or "TLS 1.3", as Suricata's EVE names versions.
    public var versionName: String? {
        switch version {
        case 0x0304: "TLS 1.3"
        case 0x0303: "TLS 1.2"
        default: nil
        }
    }

    /// The key log grew: records held for secrets are tried again.
    public func secretsMayHaveArrived() {
        drainHeld(.clientToServer)
        drainHeld(.serverToClient)
        account()
    }

    // MARK: records

    /// False when the record needs secrets that are not there yet.
    private func process(_ record: TLSRecordReader.Record, _ direction: Direction) -> Bool {
        switch record.contentType {
        case TLSRecordReader.ContentType.changeCipherSpec:
            // TLS 1.2: this side protects its records from here on. (TLS 1.3, and anything before
            // the ServerHello, as around a HelloRetryRequest: compatibility only.)
            if version == 0x0303 { withSide(direction) { $0.protected = true; $0.decryptor = nil } }
            return true
        case TLSRecordReader.ContentType.applicationData where version == nil:
            return false  // protected before the ServerHello was seen: held
        default:
            break
        }
        let isProtected = version == 0x0304
            ? record.contentType == TLSRecordReader.ContentType.applicationData
            : withSide(direction) { $0.protected }
        guard isProtected else {
            if record.contentType == TLSRecordReader.ContentType.handshake { readHandshake(record.body, direction) }
            return true
        }
        guard let decryptor = decryptor(for: direction) else { return isFinished }
        guard let opened = decryptor.open(header: record.header, body: record.body[...]) else {
            give(up: .decryptFailed)
            return true
        }
        state = .decrypting
        switch opened.contentType {
        case TLSRecordReader.ContentType.applicationData:
            if !opened.plaintext.isEmpty { deliver(direction, opened.plaintext) }
        case TLSRecordReader.ContentType.handshake:
            readHandshake(opened.plaintext, direction)
        case TLSRecordReader.ContentType.alert:
            if opened.plaintext.count == 2 && opened.plaintext[1] == 0 { closeNotified = true }
        default:
            break
        }
        return true
    }

    private func hold(_ record: TLSRecordReader.Record, _ direction: Direction) {
        let total = client.heldBytes + server.heldBytes + record.body.count
        guard total <= Self.maxHeldBytes else {
            give(up: clientRandom == nil && version != nil ? .missingHandshake : .noSecrets)
            return
        }
        withSide(direction) {
            $0.held.append(record)
            $0.heldBytes += record.body.count
        }
    }

    private func drainHeld(_ direction: Direction) {
        while !isFinished, let first = withSide(direction, { $0.held.first }) {
            // Processing may give the session up, which empties what was held.
            guard process(first, direction), !isFinished else { return }
            withSide(direction) {
                $0.held.removeFirst()
                $0.heldBytes -= first.body.count
            }
        }
    }

    // MARK: handshake

    private func readHandshake(_ bytes: [UInt8], _ direction: Direction) {
        withSide(direction) { $0.handshake.append(bytes) }
        while !isFinished, let message = withSide(direction, { $0.handshake.next() }) {
            switch (direction, message.type) {
            case (.clientToServer, TLSHandshakeReader.MessageType.clientHello):
                guard let hello = ClientHello(message.body) else { return give(up: .malformed) }
                // A second ClientHello (after a HelloRetryRequest) keeps the first's random.
                if clientRandom == nil { clientRandom = hello.random }
                serverName = serverName ?? hello.serverName
            case (.serverToClient, TLSHandshakeReader.MessageType.serverHello):
                guard let hello = ServerHello(message.body) else { return give(up: .malformed) }
                if hello.isHelloRetryRequest { continue }
                serverRandom = hello.random
                version = hello.version
                guard hello.version == 0x0304 || hello.version == 0x0303 else { return give(up: .unsupportedVersion) }
                guard let chosen = CipherSuite.named(hello.cipherSuite), chosen.isTLS13 == (hello.version == 0x0304) else {
                    return give(up: .unsupportedSuite)
                }
                if hello.alpn == "h2" { return give(up: .http2) }
                suite = chosen
                if clientRandom == nil { return give(up: .missingHandshake) }
            case (.serverToClient, TLSHandshakeReader.MessageType.encryptedExtensions):
                guard let extensions = EncryptedExtensions(message.body) else { return give(up: .malformed) }
                if extensions.alpn == "h2" { return give(up: .http2) }
            case (_, TLSHandshakeReader.MessageType.finished) where version == 0x0304:
                // The side's handshake is over: its next records use the application keys.
                withSide(direction) { $0.keys = .application; $0.decryptor = nil; $0.secret = nil }
            case (_, TLSHandshakeReader.MessageType.keyUpdate) where version == 0x0304:
                guard let suite, let current = withSide(direction, { $0.secret }),
                      let next = KeyDerivation.nextSecret(current, suite: suite) else { return give(up: .decryptFailed) }
                withSide(direction) { $0.secret = next; $0.decryptor = nil }
            default:
                break
            }
        }
        if withSide(direction, { $0.handshake.broken }) { give(up: .malformed) }
    }

    // MARK: keys

    /// The side's decryptor, made from the secrets when first needed; nil while they are not
    /// known (or after giving up).
    private func decryptor(for direction: Direction) -> RecordDecryptor? {
        if let existing = withSide(direction, { $0.decryptor }) { return existing }
        guard let suite, let clientRandom, let serverRandom else { return nil }
        guard let secrets = lookup(clientRandom) else { return nil }
        let made: RecordDecryptor?
        if suite.isTLS13 {
            let secret: [UInt8]?
            if let current = withSide(direction, { $0.secret }) {
                secret = current
            } else {
                switch (direction, withSide(direction) { $0.keys }) {
                case (.clientToServer, .handshake): secret = secrets.clientHandshake
                case (.serverToClient, .handshake): secret = secrets.serverHandshake
                case (.clientToServer, .application): secret = secrets.clientApplication
                case (.serverToClient, .application): secret = secrets.serverApplication
                }
            }
            guard let secret else { return nil }
            guard let keys = KeyDerivation.tls13Keys(secret: secret, suite: suite) else {
                give(up: .decryptFailed)
                return nil
            }
            withSide(direction) { $0.secret = secret }
            made = RecordDecryptor(suite: suite, keys: keys)
        } else {
            guard let master = secrets.masterSecret else { return nil }
            guard let both = KeyDerivation.tls12Keys(masterSecret: master, clientRandom: clientRandom,
                                                     serverRandom: serverRandom, suite: suite) else {
                give(up: .decryptFailed)
                return nil
            }
            made = RecordDecryptor(suite: suite, keys: direction == .clientToServer ? both.client : both.server)
        }
        guard let made else {
            give(up: .unsupportedSuite)
            return nil
        }
        withSide(direction) { $0.decryptor = made }
        return made
    }

    private func give(up reason: Undecryptable) {
        guard !isFinished else { return }
        state = .undecryptable(reason)
        // Nothing more is kept for a session that will not be read.
        client = Side()
        server = Side()
        memory?.release(charged)
        charged = 0
    }

    private func withSide<R>(_ direction: Direction, _ body: (inout Side) -> R) -> R {
        switch direction {
        case .clientToServer: body(&client)
        case .serverToClient: body(&server)
        }
    }
}
