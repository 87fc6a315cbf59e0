import NetworkTypes

/// Rebuilds fragmented IPv4/IPv6 datagrams, bounded in count, bytes and time.
///
/// Overlap policy follows Linux (and RFC 5722 for IPv6): an exact duplicate fragment is ignored,
/// any other overlap discards the whole datagram. The receiver would never assemble such a
/// datagram, so inspecting either version would be inspecting something the server never saw.
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
        /// Datagrams thrown away because fragments overlapped with different extents.
        public var overlaps = 0
        public var timedOut = 0
        /// Fragments refused because a bound was reached or the fragment was malformed.
        public var dropped = 0
        public init() {}
    }

    struct Key: Hashable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var proto: UInt8
    }

    final class Datagram {
        var pieces: [(offset: Int, bytes: [UInt8])] = []
        var totalLength: Int?
        var bufferedBytes = 0
        let firstSeen: Timestamp
        init(firstSeen: Timestamp) { self.firstSeen = firstSeen }
    }

    public let limits: Limits
    public private(set) var statistics = Statistics()
    private var datagrams: [Key: Datagram] = [:]
    private var bufferedBytes = 0
    private var lastSweep = Timestamp.zero

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public var pendingDatagrams: Int { datagrams.count }

    /// Adds one fragment's payload (the bytes after the IP header). Returns the whole transport
    /// payload once every piece is there.
    func add(
        source: IPAddress, destination: IPAddress, identification: UInt32, proto: UInt8,
        offset: Int, moreFragments: Bool, payload: UnsafeRawBufferPointer, timestamp: Timestamp
    ) -> [UInt8]? {
        statistics.fragments += 1
        sweep(now: timestamp)
        let end = offset + payload.count
        guard end <= 65535 + 8, payload.count > 0 || !moreFragments else {
            statistics.dropped += 1
            return nil
        }
        let key = Key(source: source, destination: destination, identification: identification, proto: proto)
        let datagram: Datagram
        if let existing = datagrams[key] {
            datagram = existing
        } else {
            guard datagrams.count < limits.maxDatagrams else {
                statistics.dropped += 1
                return nil
            }
            datagram = Datagram(firstSeen: timestamp)
            datagrams[key] = datagram
        }
        guard bufferedBytes + payload.count <= limits.maxBufferedBytes else {
            statistics.dropped += 1
            return nil
        }
        if !moreFragments {
            if let known = datagram.totalLength, known != end {
                discard(key, datagram)
                statistics.overlaps += 1
                return nil
            }
            datagram.totalLength = end
        } else if let known = datagram.totalLength, end > known {
            discard(key, datagram)
            statistics.overlaps += 1
            return nil
        }
        for piece in datagram.pieces where offset < piece.offset + piece.bytes.count && piece.offset < end {
            if piece.offset == offset && piece.bytes.count == payload.count {
                statistics.duplicates += 1
                return nil
            }
            discard(key, datagram)
            statistics.overlaps += 1
            return nil
        }
        datagram.pieces.append((offset, [UInt8](payload)))
        datagram.bufferedBytes += payload.count
        bufferedBytes += payload.count

        guard let total = datagram.totalLength, datagram.bufferedBytes == total else { return nil }
        // No overlaps are stored, so equal byte counts mean the pieces tile [0, total).
        var whole = [UInt8](repeating: 0, count: total)
        for piece in datagram.pieces {
            whole.replaceSubrange(piece.offset..<piece.offset + piece.bytes.count, with: piece.bytes)
        }
        datagrams[key] = nil
        bufferedBytes -= datagram.bufferedBytes
        statistics.reassembled += 1
        return whole
    }

    private func discard(_ key: Key, _ datagram: Datagram) {
        datagrams[key] = nil
        bufferedBytes -= datagram.bufferedBytes
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
