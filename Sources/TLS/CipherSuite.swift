/// The cipher suites diffai decrypts: TLS 1.3's three, and TLS 1.2's ECDHE and DHE suites with
/// an AEAD (AES-GCM, ChaCha20-Poly1305). One table: the name, the AEAD and the hash of each.
/// Not covered (a session with one of them is counted as undecryptable): CBC and other non-AEAD
/// suites, RSA key exchange, CCM, and anything export or NULL.
public struct CipherSuite: Sendable, Equatable {
    public enum AEAD: Sendable, Equatable {
        case aes128GCM, aes256GCM, chacha20Poly1305

        /// OpenSSL's name for it (EVP_CIPHER_fetch).
        var openSSLName: String {
            switch self {
            case .aes128GCM: "AES-128-GCM"
            case .aes256GCM: "AES-256-GCM"
            case .chacha20Poly1305: "ChaCha20-Poly1305"
            }
        }

        var keyLength: Int { self == .aes128GCM ? 16 : 32 }

        /// TLS 1.2's `fixed_iv_length` (RFC 5288: 4 bytes of salt for GCM, the rest of the nonce
        /// is explicit in each record; RFC 7905: 12 bytes for ChaCha20-Poly1305, none explicit).
        var tls12FixedIVLength: Int { self == .chacha20Poly1305 ? 12 : 4 }
    }

    public enum Hash: Sendable, Equatable {
        case sha256, sha384

        var openSSLName: String { self == .sha256 ? "SHA256" : "SHA384" }
        var length: Int { self == .sha256 ? 32 : 48 }
    }

    public let id: UInt16
    public let name: String
    public let aead: AEAD
    public let hash: Hash
    public let isTLS13: Bool

    public static func named(_ id: UInt16) -> CipherSuite? { all.first { $0.id == id } }

    static let all: [CipherSuite] = [
        CipherSuite(id: 0x1301, name: "TLS_AES_128_GCM_SHA256", aead: .aes128GCM, hash: .sha256, isTLS13: true),
        CipherSuite(id: 0x1302, name: "TLS_AES_256_GCM_SHA384", aead: .aes256GCM, hash: .sha384, isTLS13: true),
        CipherSuite(id: 0x1303, name: "TLS_CHACHA20_POLY1305_SHA256", aead: .chacha20Poly1305, hash: .sha256, isTLS13: true),
        CipherSuite(id: 0xC02B, name: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", aead: .aes128GCM, hash: .sha256, isTLS13: false),
        CipherSuite(id: 0xC02C, name: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", aead: .aes256GCM, hash: .sha384, isTLS13: false),
        CipherSuite(id: 0xC02F, name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", aead: .aes128GCM, hash: .sha256, isTLS13: false),
        CipherSuite(id: 0xC030, name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", aead: .aes256GCM, hash: .sha384, isTLS13: false),
        CipherSuite(id: 0xCCA8, name: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", aead: .chacha20Poly1305, hash: .sha256, isTLS13: false),
        CipherSuite(id: 0xCCA9, name: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", aead: .chacha20Poly1305, hash: .sha256, isTLS13: false),
        CipherSuite(id: 0x009E, name: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", aead: .aes128GCM, hash: .sha256, isTLS13: false),
        CipherSuite(id: 0x009F, name: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", aead: .aes256GCM, hash: .sha384, isTLS13: false),
        CipherSuite(id: 0xCCAA, name: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", aead: .chacha20Poly1305, hash: .sha256, isTLS13: false),
    ]
}
