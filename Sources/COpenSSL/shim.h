// The system OpenSSL (libssl-dev): libcrypto's EVP interfaces for TLS key derivation and
// record decryption. The helpers below only sequence EVP calls (parameters in, bytes out) so
// that Swift need not build OSSL_PARAM arrays; every cryptographic step is OpenSSL's own.
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <string.h>

/// Runs the KDF `name` ("HKDF", "TLS1-PRF") with `params` into `out_len` bytes. 1 on success.
static inline int diffai_kdf(const char *name, const OSSL_PARAM *params, unsigned char *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, name, NULL);
    if (kdf == NULL) return 0;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == NULL) return 0;
    int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok;
}

/// HKDF-Expand (RFC 5869) with `digest` ("SHA256", "SHA384"): `out_len` bytes from a
/// pseudorandom key and info. 1 on success.
static inline int diffai_hkdf_expand(const char *digest, const unsigned char *prk, size_t prk_len,
                                     const unsigned char *info, size_t info_len,
                                     unsigned char *out, size_t out_len) {
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[5];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)prk, prk_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[3] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[4] = OSSL_PARAM_construct_end();
    return diffai_kdf("HKDF", params, out, out_len);
}

/// The TLS 1.2 PRF (RFC 5246 §5) with `digest`: `out_len` bytes from a secret and a seed
/// (label and randoms, already joined). 1 on success.
static inline int diffai_tls12_prf(const char *digest, const unsigned char *secret, size_t secret_len,
                                   const unsigned char *seed, size_t seed_len,
                                   unsigned char *out, size_t out_len) {
    OSSL_PARAM params[4];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed, seed_len);
    params[3] = OSSL_PARAM_construct_end();
    return diffai_kdf("TLS1-PRF", params, out, out_len);
}

/// Names the AEAD ("AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305") and sets its key on a
/// fresh context, 12-byte nonces. NULL when OpenSSL lacks it.
static inline EVP_CIPHER_CTX *diffai_aead_new(const char *name, const unsigned char *key) {
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    if (cipher == NULL) return NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = ctx != NULL
        && EVP_DecryptInit_ex2(ctx, cipher, NULL, NULL, NULL) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1
        && EVP_DecryptInit_ex2(ctx, NULL, key, NULL, NULL) == 1;
    EVP_CIPHER_free(cipher);
    if (!ok) { EVP_CIPHER_CTX_free(ctx); return NULL; }
    return ctx;
}

/// Opens one AEAD record: `ciphertext` followed by its 16-byte tag; the plaintext
/// (`ciphertext_len` bytes) goes to `out`. 1 when the tag verifies.
static inline int diffai_aead_open(EVP_CIPHER_CTX *ctx, const unsigned char *nonce,
                                   const unsigned char *aad, size_t aad_len,
                                   const unsigned char *ciphertext, size_t ciphertext_len,
                                   const unsigned char *tag, unsigned char *out) {
    int len = 0;
    unsigned char scratch[1];
    if (EVP_DecryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1) return 0;
    if (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1) return 0;
    if (ciphertext_len > 0 && EVP_DecryptUpdate(ctx, out, &len, ciphertext, (int)ciphertext_len) != 1) return 0;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) != 1) return 0;
    return EVP_DecryptFinal_ex(ctx, ciphertext_len > 0 ? out + len : scratch, &len) == 1;
}
