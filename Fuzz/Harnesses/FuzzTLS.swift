import TLS

/// Passive TLS reading: two directions of bytes, cut into pieces, through a session whose key
/// log has secrets for every client random (so record protection is attempted with keys
/// derived from them). Each piece is a direction byte, a length byte and that many bytes plus
/// one. Whatever the bytes, the session decrypts, holds within its bound or gives up with a
/// reason; it never traps.
nonisolated(unsafe) var fuzzDelivered = 0
/// Small, so the limit is reached; every session gives its bytes back (asserted).
nonisolated(unsafe) let fuzzMemory = TLSMemory(limit: 1 << 16)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTLS(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    var secrets = KeyLog.Secrets()
    let secret = [UInt8](repeating: 0x5A, count: 48)
    secrets.masterSecret = secret
    secrets.clientHandshake = Array(secret.prefix(32))
    secrets.serverHandshake = Array(secret.prefix(48))
    secrets.clientApplication = Array(secret.prefix(32))
    secrets.serverApplication = Array(secret.prefix(32))
    let withSecrets = input.byte() & 1 == 1
    let session = TLSSession(lookup: { _ in withSecrets ? secrets : nil }, memory: fuzzMemory,
                             deliver: { _, bytes in fuzzDelivered &+= bytes.count })
    while !input.isAtEnd {
        let direction: TLSSession.Direction = input.byte() & 1 == 0 ? .clientToServer : .serverToClient
        let piece = input.take(Int(input.byte()) + 1)
        session.receive(piece, from: direction)
        if piece.first == 0xFF { session.secretsMayHaveArrived() }
        if piece.first == 0xFE && piece.count == 1 { session.lost() }
    }
    _ = session.finish()
    precondition(fuzzMemory.used == 0, "a finished session holds nothing")
    return 0
}
