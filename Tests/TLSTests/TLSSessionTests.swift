import Foundation
import NetworkTypes
import Testing
import TestSupport

@testable import TLS

/// Real TLS sessions (Python's ssl module, the system OpenSSL, on both ends; see
/// tls-exchange.py), decrypted from their bytes and the key log the client wrote, the way the
/// sensor sees them: each flight cut into random pieces.
@Suite struct TLSSessionTests {
    /// Certificates made once for every case: RSA and EC (ECDSA suites need the latter).
    static let certificates: (folder: URL, rsa: (String, String), ec: (String, String), dh: String)? = {
        guard let openssl = which("openssl") else { return nil }
        let folder = TestPaths.temporaryDirectory("tls")
        func make(_ name: String, _ key: [String]) -> (String, String)? {
            let cert = folder.appendingPathComponent("\(name).crt").path, keyPath = folder.appendingPathComponent("\(name).key").path
            let made = try? run(openssl, ["req", "-x509", "-newkey"] + key + ["-nodes", "-keyout", keyPath, "-out", cert,
                                                                           "-subj", "/CN=shop.example", "-days", "2"])
            return made?.status == 0 ? (cert, keyPath) : nil
        }
        guard let rsa = make("rsa", ["rsa:2048"]), let ec = make("ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]) else { return nil }
        // DHE suites need the server's group (DSA-style generation: quick).
        let dh = folder.appendingPathComponent("dh.pem").path
        guard (try? run(openssl, ["dhparam", "-dsaparam", "-out", dh, "2048"]))?.status == 0 else { return nil }
        return (folder, rsa, ec, dh)
    }()

    struct Exchange {
        var flights: [(TLSSession.Direction, [UInt8])]
        var keylog: String
        var clientToServer: [UInt8]
        var serverToClient: [UInt8]
    }

    /// A session of `version` with the TLS 1.3 suite (through an OpenSSL configuration) or the
    /// TLS 1.2 cipher string given.
    static func exchange(_ version: String, _ suite: String, ec: Bool = false, alpn: String? = nil, resume: Bool = false,
                         helloRetry: Bool = false) throws -> Exchange {
        let certificates = try #require(certificates, "openssl makes the test certificates")
        let (cert, key) = ec ? certificates.ec : certificates.rsa
        let out = certificates.folder.appendingPathComponent("\(version)-\(suite)-\(alpn ?? "")-\(resume)-\(helloRetry)-\(UUID().uuidString).json").path
        var environment = ProcessInfo.processInfo.environment
        environment["DH_PARAMS"] = certificates.dh
        if resume { environment["RESUME"] = "1" }
        if helloRetry { environment["HRR"] = "1" }
        if version == "1.3" {
            let config = certificates.folder.appendingPathComponent("\(suite).cnf")
            try Data("""
                openssl_conf = default_conf
                [default_conf]
                ssl_conf = ssl_sect
                [ssl_sect]
                system_default = system_default_sect
                [system_default_sect]
                Ciphersuites = \(suite)

                """.utf8).write(to: config, options: .atomic)
            environment["OPENSSL_CONF"] = config.path
        }
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/TLSTests/tls-exchange.py").path
        let made = try run("/usr/bin/python3", [script, cert, key, version, suite, out] + (alpn.map { [$0] } ?? []), environment: environment)
        #expect(made.status == 0, "\(made.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let flights = (json["flights"] as? [[String]] ?? []).map { ($0[0] == "c2s" ? TLSSession.Direction.clientToServer : .serverToClient, hex($0[1])) }
        return Exchange(flights: flights, keylog: json["keylog"] as? String ?? "",
                        clientToServer: hex(json["c2s"] as? String ?? ""), serverToClient: hex(json["s2c"] as? String ?? ""))
    }

    /// Byte-for-byte equality, reported by size (the arrays are tens of kilobytes).
    func expectSame(_ got: [UInt8], _ expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let same = got == expected
        #expect(same, "got \(got.count) bytes, expected \(expected.count)", sourceLocation: sourceLocation)
    }

    static func hex(_ text: String) -> [UInt8] { KeyLog.hex(Array(text.utf8)) ?? [] }

    /// Feeds every flight in pieces of 1 to 700 bytes; returns what came out each way.
    static func decrypt(_ exchange: Exchange, session: TLSSession? = nil, keyLog: KeyLog? = nil, seed: String,
                        output: Output = Output()) -> (TLSSession, Output) {
        var log = keyLog ?? KeyLog()
        if keyLog == nil { log.read(Array(exchange.keylog.utf8)) }
        let frozen = log
        let session = session ?? TLSSession(lookup: { frozen.secrets(forClientRandom: $0) }, deliver: output.add)
        var random = SeededRandom(seed: TestSeed.value(seed))
        for (direction, bytes) in exchange.flights {
            var offset = 0
            while offset < bytes.count {
                let length = min(bytes.count - offset, Int.random(in: 1...700, using: &random))
                session.receive(bytes[offset..<offset + length], from: direction)
                offset += length
            }
        }
        return (session, output)
    }

    final class Output {
        var clientToServer: [UInt8] = []
        var serverToClient: [UInt8] = []
        func add(_ direction: TLSSession.Direction, _ bytes: [UInt8]) {
            if direction == .clientToServer { clientToServer += bytes } else { serverToClient += bytes }
        }
    }

    @Test(arguments: [("1.3", "TLS_AES_128_GCM_SHA256", UInt16(0x1301)), ("1.3", "TLS_AES_256_GCM_SHA384", 0x1302),
                      ("1.3", "TLS_CHACHA20_POLY1305_SHA256", 0x1303),
                      ("1.2", "ECDHE-RSA-AES128-GCM-SHA256", 0xC02F), ("1.2", "ECDHE-RSA-AES256-GCM-SHA384", 0xC030),
                      ("1.2", "ECDHE-RSA-CHACHA20-POLY1305", 0xCCA8), ("1.2", "DHE-RSA-AES128-GCM-SHA256", 0x009E)])
    func everySupportedSuiteDecryptsBothDirections(version: String, suite: String, id: UInt16) throws {
        let exchange = try Self.exchange(version, suite)
        let (session, output) = Self.decrypt(exchange, seed: "tls \(suite)")
        #expect(session.state == .decrypting)
        #expect(session.suite?.id == id)
        #expect(session.version == (version == "1.3" ? 0x0304 : 0x0303))
        #expect(session.serverName == "shop.example")
        expectSame(output.clientToServer, exchange.clientToServer)
        expectSame(output.serverToClient, exchange.serverToClient)
        #expect(session.closeNotified)
    }

    /// Resumption: a TLS 1.3 PSK from a session ticket, a TLS 1.2 abbreviated handshake.
    @Test(arguments: [("1.3", "TLS_AES_256_GCM_SHA384"), ("1.2", "ECDHE-RSA-AES256-GCM-SHA384")])
    func resumedSessionsDecryptToo(version: String, suite: String) throws {
        let exchange = try Self.exchange(version, suite, resume: true)
        let (session, output) = Self.decrypt(exchange, seed: "tls resumed \(suite)")
        #expect(session.state == .decrypting)
        expectSame(output.clientToServer, exchange.clientToServer)
        expectSame(output.serverToClient, exchange.serverToClient)
    }

    /// The server wants another key share: a HelloRetryRequest, then a second ClientHello
    /// (with the first one's random), then the real ServerHello.
    @Test func aHelloRetryRequestIsFollowedThrough() throws {
        let exchange = try Self.exchange("1.3", "TLS_AES_128_GCM_SHA256", ec: true, helloRetry: true)
        let retry = exchange.flights.first { $0.0 == .serverToClient }?.1 ?? []
        #expect(Array(retry.dropFirst(11).prefix(32)) == ServerHello.helloRetryRandom, "the capture holds a HelloRetryRequest")
        let (session, output) = Self.decrypt(exchange, seed: "tls hrr")
        #expect(session.state == .decrypting)
        expectSame(output.clientToServer, exchange.clientToServer)
        expectSame(output.serverToClient, exchange.serverToClient)
    }

    @Test func ecdsaSuitesToo() throws {
        let exchange = try Self.exchange("1.2", "ECDHE-ECDSA-AES256-GCM-SHA384", ec: true)
        let (session, output) = Self.decrypt(exchange, seed: "tls ecdsa")
        #expect(session.suite?.id == 0xC02C)
        expectSame(output.serverToClient, exchange.serverToClient)
    }

    @Test func recordsArrivingBeforeTheirSecretsAreOpenedWhenTheSecretsCome() throws {
        let exchange = try Self.exchange("1.3", "TLS_AES_128_GCM_SHA256")
        final class Late: @unchecked Sendable { var log = KeyLog() }
        let late = Late()
        let output = Output()
        let session = TLSSession(lookup: { late.log.secrets(forClientRandom: $0) }, deliver: output.add)
        _ = Self.decrypt(exchange, session: session, keyLog: KeyLog(), seed: "tls late", output: output)
        #expect(output.clientToServer.isEmpty && session.state == .awaitingHellos)
        late.log.read(Array(exchange.keylog.utf8))
        session.secretsMayHaveArrived()
        expectSame(output.clientToServer, exchange.clientToServer)
        expectSame(output.serverToClient, exchange.serverToClient)
    }

    @Test func wrongSecretsNamedNotGuessed() throws {
        let exchange = try Self.exchange("1.2", "ECDHE-RSA-AES128-GCM-SHA256")
        // The right client random with another master secret.
        let forged = exchange.keylog.split(separator: "\n").map { line -> String in
            guard line.hasPrefix("CLIENT_RANDOM") else { return String(line) }
            return String(line.dropLast(2)) + (line.hasSuffix("00") ? "11" : "00")
        }.joined(separator: "\n") + "\n"
        var log = KeyLog()
        log.read(Array(forged.utf8))
        let (session, output) = Self.decrypt(exchange, keyLog: log, seed: "tls forged")
        #expect(session.state == .undecryptable(.decryptFailed))
        #expect(output.clientToServer.isEmpty)
    }

    @Test func http2AndUnsupportedSuitesAreCountedNotRead() throws {
        let h2 = try Self.exchange("1.3", "TLS_AES_128_GCM_SHA256", alpn: "h2")
        #expect(Self.decrypt(h2, seed: "tls h2").0.state == .undecryptable(.http2))
        let cbc = try Self.exchange("1.2", "AES128-SHA")
        #expect(Self.decrypt(cbc, seed: "tls cbc").0.state == .undecryptable(.unsupportedSuite))
    }

    @Test func whatAllSessionsHoldIsBoundedAndGivenBack() throws {
        let exchange = try Self.exchange("1.3", "TLS_AES_128_GCM_SHA256")
        let memory = TLSMemory(limit: 64 << 10)
        let output = Output()
        // No secrets: every protected record is held.
        let first = TLSSession(lookup: { _ in nil }, memory: memory, deliver: output.add)
        _ = Self.decrypt(exchange, session: first, keyLog: KeyLog(), seed: "tls memory 1", output: output)
        #expect(first.state == .awaitingHellos && memory.used == first.heldBytes && memory.used > 32 << 10)
        let second = TLSSession(lookup: { _ in nil }, memory: memory, deliver: output.add)
        _ = Self.decrypt(exchange, session: second, keyLog: KeyLog(), seed: "tls memory 2", output: output)
        #expect(second.state == .undecryptable(.memoryLimit), "the session that asked for more let go")
        #expect(memory.used == first.heldBytes)
        #expect(first.finish() == .noSecrets)
        #expect(memory.used == 0, "a finished session gives its bytes back")
    }

    @Test func bytesThatAreNotTLSEndTheSessionAtOnce() {
        let session = TLSSession(lookup: { _ in nil }, deliver: { _, _ in })
        session.receive(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), from: .clientToServer)
        #expect(session.state == .undecryptable(.malformed))
    }

    @Test func keyLogLinesAreCheckedAndBounded() {
        var log = KeyLog(capacity: 2)
        let random = String(repeating: "ab", count: 32), secret = String(repeating: "cd", count: 48)
        #expect(log.add(line: Array("CLIENT_RANDOM \(random) \(secret)".utf8)) == .added)
        #expect(log.add(line: Array("# a comment".utf8)) == .ignored)
        #expect(log.add(line: Array("EXPORTER_SECRET \(random) \(secret)".utf8)) == .ignored)
        #expect(log.add(line: Array("CLIENT_RANDOM zz \(secret)".utf8)) == .malformed)
        #expect(log.add(line: Array("CLIENT_RANDOM \(random)".utf8)) == .malformed)
        #expect(log.secrets(forClientRandom: Self.hex(random))?.masterSecret == Self.hex(secret))
        for n in 0..<3 { log.add(line: Array("CLIENT_RANDOM \(String(format: "%064x", n + 1)) \(secret)".utf8)) }
        #expect(log.count == 2, "the oldest sessions are forgotten past the capacity")
        #expect(log.secrets(forClientRandom: Self.hex(random)) == nil)
        // A followed file: the last line without its newline waits for the rest.
        var followed = KeyLog()
        let text = Array("CLIENT_RANDOM \(random) \(secret)\nCLIENT_RANDOM \(random.dropLast(4))".utf8)
        #expect(followed.read(text) == text.firstIndex(of: 0x0A)! + 1)
        #expect(followed.count == 1 && log.malformedLines == 2)
    }
}
