import COpenSSL

/// Record keys from the secrets of a key log, through libcrypto's KDFs (EVP_KDF HKDF and
/// TLS1-PRF): nothing here computes a hash or a MAC itself.
enum KeyDerivation {
    /// A direction's record protection: the AEAD key and the IV (TLS 1.3: the 12-byte nonce
    /// base; TLS 1.2: GCM's 4-byte salt or ChaCha20's 12-byte nonce base).
    struct TrafficKeys: Equatable {
        var key: [UInt8]
        var iv: [UInt8]
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1).
    static func expandLabel(_ secret: [UInt8], _ label: String, context: [UInt8] = [], length: Int,
                            hash: CipherSuite.Hash) -> [UInt8]? {
        let fullLabel = Array("tls13 \(label)".utf8)
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(fullLabel.count)]
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        var out = [UInt8](repeating: 0, count: length)
        let ok = hash.openSSLName.withCString { digest in
            secret.withUnsafeBufferPointer { prk in
                info.withUnsafeBufferPointer { infoBytes in
                    out.withUnsafeMutableBufferPointer { output in
                        diffai_hkdf_expand(digest, prk.baseAddress, prk.count, infoBytes.baseAddress, infoBytes.count,
                                           output.baseAddress, output.count)
                    }
                }
            }
        }
        return ok == 1 ? out : nil
    }

    /// TLS 1.3: the key and IV of a traffic secret (RFC 8446 §7.3).
    static func tls13Keys(secret: [UInt8], suite: CipherSuite) -> TrafficKeys? {
        guard let key = expandLabel(secret, "key", length: suite.aead.keyLength, hash: suite.hash),
              let iv = expandLabel(secret, "iv", length: 12, hash: suite.hash) else { return nil }
        return TrafficKeys(key: key, iv: iv)
    }

    /// TLS 1.3 KeyUpdate: the next application traffic secret (RFC 8446 §7.2).
    static func nextSecret(_ secret: [UInt8], suite: CipherSuite) -> [UInt8]? {
        expandLabel(secret, "traffic upd", length: suite.hash.length, hash: suite.hash)
    }

    /// TLS 1.2: both directions' keys from the master secret (RFC 5246 §6.3; AEAD suites have
    /// no MAC keys). The key log's master secret already accounts for the extended master
    /// secret extension (RFC 7627), so sessions with it need nothing more.
    static func tls12Keys(masterSecret: [UInt8], clientRandom: [UInt8], serverRandom: [UInt8],
                          suite: CipherSuite) -> (client: TrafficKeys, server: TrafficKeys)? {
        let keyLength = suite.aead.keyLength, ivLength = suite.aead.tls12FixedIVLength
        let length = 2 * (keyLength + ivLength)
        let seed = Array("key expansion".utf8) + serverRandom + clientRandom
        var block = [UInt8](repeating: 0, count: length)
        let ok = suite.hash.openSSLName.withCString { digest in
            masterSecret.withUnsafeBufferPointer { secret in
                seed.withUnsafeBufferPointer { seedBytes in
                    block.withUnsafeMutableBufferPointer { output in
                        diffai_tls12_prf(digest, secret.baseAddress, secret.count, seedBytes.baseAddress, seedBytes.count,
                                         output.baseAddress, output.count)
                    }
                }
            }
        }
        guard ok == 1 else { return nil }
        let clientKey = Array(block[0..<keyLength]), serverKey = Array(block[keyLength..<2 * keyLength])
        let clientIV = Array(block[2 * keyLength..<2 * keyLength + ivLength])
        let serverIV = Array(block[2 * keyLength + ivLength..<length])
        return (TrafficKeys(key: clientKey, iv: clientIV), TrafficKeys(key: serverKey, iv: serverIV))
    }
}
