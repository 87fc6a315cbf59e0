/// Character n-grams hashed into a fixed number of buckets: no vocabulary to store, so the
/// model stays small and loading is a single read.
public struct FeatureHashing: Sendable, Equatable {
    public var minN: Int
    public var maxN: Int
    public var bucketBits: Int

    public init(minN: Int = 1, maxN: Int = 3, bucketBits: Int = 18) {
        self.minN = minN
        self.maxN = maxN
        self.bucketBits = bucketBits
    }

    public var buckets: Int { 1 << bucketBits }

    /// Sorted bucket ids with their counts (term frequencies).
    public func counts(_ text: [UInt8]) -> (indices: [Int32], counts: [Float]) {
        var hashes: [UInt32] = []
        hashes.reserveCapacity(text.count * (maxN - minN + 1))
        let mask = UInt32(buckets - 1)
        // Boundary markers make "starts with" and "ends with" n-grams distinct features.
        let padded = [UInt8(0x02)] + text + [UInt8(0x03)]
        padded.withUnsafeBufferPointer { bytes in
            for start in 0..<bytes.count {
                var hash: UInt32 = 2_166_136_261
                for n in 1...maxN {
                    guard start + n <= bytes.count else { break }
                    hash = (hash ^ UInt32(bytes[start + n - 1])) &* 16_777_619
                    if n >= minN {
                        // Mix the length in so that n-grams of different sizes spread apart.
                        var h = hash ^ UInt32(n) &* 0x9E37_79B9
                        h ^= h >> 15
                        hashes.append(h & mask)
                    }
                }
            }
        }
        hashes.sort()
        var indices: [Int32] = []
        var counts: [Float] = []
        indices.reserveCapacity(hashes.count)
        counts.reserveCapacity(hashes.count)
        var i = 0
        while i < hashes.count {
            var j = i + 1
            while j < hashes.count, hashes[j] == hashes[i] { j += 1 }
            indices.append(Int32(hashes[i]))
            counts.append(Float(j - i))
            i = j
        }
        return (indices, counts)
    }
}
