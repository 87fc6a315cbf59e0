import COpenSSL

/// Opens the protected records of one direction with libcrypto's AEAD (EVP): TLS 1.3 records
/// (RFC 8446 §5.2: per-record nonce from the IV and the sequence number, the header as
/// additional data, the real content type at the end of the padded plaintext) and TLS 1.2
/// AEAD records (RFC 5288 for GCM with its explicit nonce, RFC 7905 for ChaCha20-Poly1305).
final class RecordDecryptor {
    /// A record that was opened: its real content type and plaintext.
    struct Opened {
        var contentType: UInt8
        var plaintext: [UInt8]
    }

    private let context: OpaquePointer
    private let iv: [UInt8]
    private let isTLS13: Bool
    private let aead: CipherSuite.AEAD
    /// Records opened so far with these keys (the nonce and, in TLS 1.2, the additional data
    /// depend on it); it restarts with every change of keys.
    private(set) var sequence: UInt64 = 0

    init?(suite: CipherSuite, keys: KeyDerivation.TrafficKeys) {
        guard keys.key.count == suite.aead.keyLength else { return nil }
        guard let context = suite.aead.openSSLName.withCString({ name in
            keys.key.withUnsafeBufferPointer { diffai_aead_new(name, $0.baseAddress) }
        }) else { return nil }
        self.context = context
        iv = keys.iv
        isTLS13 = suite.isTLS13
        aead = suite.aead
        assert(iv.count == (isTLS13 ? 12 : aead.tls12FixedIVLength), "an IV of the suite's length")
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Opens one record (`header`: its five bytes; `body`: what follows). Nil when the tag does
    /// not verify (wrong keys, or bytes that were not this record).
    func open(header: [UInt8], body: ArraySlice<UInt8>) -> Opened? {
        precondition(header.count == 5, "a record header is five bytes")
        let tagLength = 16
        var nonce = [UInt8](repeating: 0, count: 12)
        var ciphertext = body
        var aad: [UInt8]
        if isTLS13 || aead == .chacha20Poly1305 {
            // The IV with the sequence number (big-endian, right-aligned) folded in.
            nonce = iv
            for i in 0..<8 { nonce[4 + i] ^= UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(i))) }
        } else {
            // GCM in TLS 1.2: the salt, then the record's own eight explicit bytes.
            guard body.count >= 8 else { return nil }
            nonce = iv + body.prefix(8)
            ciphertext = body.dropFirst(8)
        }
        guard ciphertext.count >= tagLength else { return nil }
        let sealedLength = ciphertext.count - tagLength
        if isTLS13 {
            aad = header
        } else {
            // seq_num, type, version, the plaintext's length (RFC 5246 §6.2.3.3).
            aad = (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64($0))) }
            aad += [header[0], header[1], header[2], UInt8(sealedLength >> 8), UInt8(sealedLength & 0xFF)]
        }
        var plaintext = [UInt8](repeating: 0, count: max(1, sealedLength))
        let ok = nonce.withUnsafeBufferPointer { n in
            aad.withUnsafeBufferPointer { a in
                ciphertext.withUnsafeBufferPointer { c in
                    plaintext.withUnsafeMutableBufferPointer { out in
                        diffai_aead_open(context, n.baseAddress, a.baseAddress, a.count, c.baseAddress, sealedLength,
                                         c.baseAddress! + sealedLength, out.baseAddress)
                    }
                }
            }
        }
        guard ok == 1 else { return nil }
        sequence &+= 1
        plaintext.removeLast(plaintext.count - sealedLength)
        guard isTLS13 else { return Opened(contentType: header[0], plaintext: plaintext) }
        // TLSInnerPlaintext: content, the real type, then zero padding.
        while let last = plaintext.last, last == 0 { plaintext.removeLast() }
        guard let type = plaintext.popLast() else { return nil }
        return Opened(contentType: type, plaintext: plaintext)
    }
}
