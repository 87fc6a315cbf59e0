import NetworkTypes

/// Rebuilds fragmented IPv4/IPv6 datagrams, bounded in count, bytes and time.
///
/// Overlap policy follows Linux (and RFC 5722 for IPv6): an exact duplicate fragment is ignored,
/// any other overlap discards the whole datagram. The receiver would never assemble such a
/// datagram, so inspecting either version would be inspecting something the server never saw.
/// A last fragment that ends before bytes already held, or a fragment past the end the last one
/// announced, discards the datagram too (Linux `ip_frag_queue`).
///
/// The pieces of a datagram are kept sorted by offset and never overlap, so finding a new
/// fragment's neighbours is a binary search and a datagram is complete exactly when the bytes
/// held equal the announced length (every piece lies inside it).
///
/// Memory: each fragment costs its bytes plus `pieceOverhead`, each datagram `datagramOverhead`.
/// When a new fragment would pass `maxBufferedBytes`, the oldest datagrams are given up first
/// (down to three quarters of the bound), so a flood of incomplete datagrams costs the flooder's
/// datagrams, not the next one's.
public final class IPFragmentReassembler {
    public struct Limits: Sendable {
        public var maxDatagrams = 4096
        public var maxBufferedBytes = 32 << 20
        public var timeoutSeconds = 30.0
        public init() {}
    }

    public struct Statistics: Sendable, Equatable {
        public var fragments = 0
        public var reassembled = 0
        public var duplicates = 0
        /// Datagrams thrown away because fragments overlapped with different extents, or lay
        /// past the datagram's announced end.
        public var overlaps = 0
        public var timedOut = 0
        /// Fragments that cannot be part of any datagram (past 64 KiB, empty, misaligned IPv6).
        public var malformed = 0
        /// Datagrams given up to stay within the memory bound or the datagram count.
        public var evicted = 0
        /// Bytes held by the datagrams `evicted` gave up.
        public var evictedBytes = 0
        public init() {}
    }

    struct Key: Hashable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var proto: UInt8
    }

    struct Piece {
        var offset: Int
        var bytes: [UInt8]
        var end: Int { offset + bytes.count }
    }

    final class Datagram {
        /// Sorted by offset; no two overlap.
        var pieces: [Piece] = []
        var totalLength: Int?
        var payloadBytes = 0
        var cost = IPFragmentReassembler.datagramOverhead
        let firstSeen: Timestamp
        let sequence: UInt64
        init(firstSeen: Timestamp, sequence: UInt64) {
            self.firstSeen = firstSeen
            self.sequence = sequence
        }

        /// Index of the first piece that starts at or after `offset`.
        func insertionIndex(for offset: Int) -> Int {
            var low = 0, high = pieces.count
            while low < high {
                let middle = (low + high) / 2
                if pieces[middle].offset < offset { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// What a datagram and a stored fragment cost beyond their bytes (object, array headers,
    /// table slot), so that a flood of tiny fragments is bounded too.
    static let datagramOverhead = 192
    static let pieceOverhead = 64
    /// The largest IP payload a fragment offset can describe (13 bits of 8-byte units, plus the
    /// last fragment's length, within IPv4's and IPv6's 16-bit length fields).
    static let maxDatagramLength = 65535

    public let limits: Limits
    public private(set) var statistics = Statistics()
    private var datagrams: [Key: Datagram] = [:]
    public private(set) var bufferedBytes = 0
    private var lastSweep = Timestamp.zero
    private var nextSequence: UInt64 = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public var pendingDatagrams: Int { datagrams.count }

    /// Adds one fragment's payload (the bytes after the IP header, and after the fragment
    /// header for IPv6). Returns the whole transport payload once every piece is there.
    func add(
        source: IPAddress, destination: IPAddress, identification: UInt32, proto: UInt8, isIPv6: Bool,
        offset: Int, moreFragments: Bool, payload: UnsafeRawBufferPointer, timestamp: Timestamp
    ) -> [UInt8]? {
        statistics.fragments += 1
        sweep(now: timestamp)
        var length = payload.count
        if moreFragments && length % 8 != 0 {
            // Every fragment but the last carries a multiple of 8 bytes. IPv6 receivers drop
            // the fragment (RFC 8200 §4.5); Linux trims an IPv4 one to the boundary.
            if isIPv6 {
                statistics.malformed += 1
                return nil
            }
            length &= ~7
        }
        let end = offset + length
        guard end <= Self.maxDatagramLength, length > 0 || !moreFragments else {
            statistics.malformed += 1
            return nil
        }
        let key = Key(source: source, destination: destination, identification: identification, proto: proto)
        let datagram: Datagram
        if let existing = datagrams[key] {
            datagram = existing
        } else {
            if datagrams.count >= limits.maxDatagrams { evictOldest(toFree: 0, keepCount: limits.maxDatagrams * 3 / 4) }
            datagram = Datagram(firstSeen: timestamp, sequence: nextSequence)
            nextSequence += 1
            datagrams[key] = datagram
            bufferedBytes += datagram.cost
        }

        if !moreFragments {
            let heldEnd = datagram.pieces.last?.end ?? 0
            if let known = datagram.totalLength, known != end {
                return conflict(key, datagram)
            }
            if heldEnd > end { return conflict(key, datagram) }
            datagram.totalLength = end
        } else if let known = datagram.totalLength, end > known {
            return conflict(key, datagram)
        }

        let index = datagram.insertionIndex(for: offset)
        // Neighbours only: the stored pieces are disjoint and sorted, so the piece before the
        // insertion point and the one at it are the only ones that can touch [offset, end).
        if index < datagram.pieces.count {
            let next = datagram.pieces[index]
            if next.offset == offset && next.bytes.count == length {
                statistics.duplicates += 1
                return nil
            }
            if next.offset < end { return conflict(key, datagram) }
        }
        if index > 0, datagram.pieces[index - 1].end > offset {
            return conflict(key, datagram)
        }

        let cost = length + Self.pieceOverhead
        if bufferedBytes + cost > limits.maxBufferedBytes {
            evictOldest(toFree: bufferedBytes + cost - limits.maxBufferedBytes + limits.maxBufferedBytes / 4,
                        keepCount: limits.maxDatagrams, sparing: datagram)
            if bufferedBytes + cost > limits.maxBufferedBytes {
                // This datagram alone is larger than the bound allows.
                discard(key, datagram)
                statistics.evicted += 1
                return nil
            }
        }
        datagram.pieces.insert(Piece(offset: offset, bytes: [UInt8](UnsafeRawBufferPointer(rebasing: payload[0..<length]))), at: index)
        datagram.payloadBytes += length
        datagram.cost += cost
        bufferedBytes += cost

        guard let total = datagram.totalLength, datagram.payloadBytes == total else { return nil }
        // Disjoint pieces inside [0, total) whose lengths add up to total tile it exactly.
        var whole = [UInt8](repeating: 0, count: total)
        whole.withUnsafeMutableBytes { out in
            var expected = 0
            for piece in datagram.pieces {
                precondition(piece.offset == expected && piece.end <= total, "fragment pieces must tile the datagram")
                piece.bytes.withUnsafeBytes { out.baseAddress!.advanced(by: piece.offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                expected = piece.end
            }
            precondition(expected == total, "fragment pieces must cover the datagram")
        }
        discard(key, datagram)
        statistics.reassembled += 1
        return whole
    }

    private func conflict(_ key: Key, _ datagram: Datagram) -> [UInt8]? {
        discard(key, datagram)
        statistics.overlaps += 1
        return nil
    }

    private func discard(_ key: Key, _ datagram: Datagram) {
        datagrams[key] = nil
        bufferedBytes -= datagram.cost
        assert(bufferedBytes >= 0, "fragment byte count went negative")
    }

    /// Gives up the oldest datagrams until `toFree` bytes are released and at most `keepCount`
    /// datagrams remain. One sort per round of evictions, so a flood costs O(log n) per fragment.
    private func evictOldest(toFree: Int, keepCount: Int, sparing: Datagram? = nil) {
        var freed = 0
        var remaining = datagrams.count
        let byAge = datagrams.sorted { $0.value.sequence < $1.value.sequence }
        for (key, datagram) in byAge {
            if freed >= toFree && remaining <= keepCount { break }
            if datagram === sparing { continue }
            freed += datagram.cost
            statistics.evicted += 1
            statistics.evictedBytes += datagram.payloadBytes
            discard(key, datagram)
            remaining -= 1
        }
    }

    private func sweep(now: Timestamp) {
        guard !datagrams.isEmpty, now.microseconds - lastSweep.microseconds >= 1_000_000 else { return }
        lastSweep = now
        let cutoff = now.adding(seconds: -limits.timeoutSeconds)
        for (key, datagram) in datagrams where datagram.firstSeen < cutoff {
            discard(key, datagram)
            statistics.timedOut += 1
        }
    }
}
