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

    /// Calls `body` with the bucket of every n-gram of the text, in text order (repeats included).
    @inline(__always)
    public func forEachBucket(_ text: UnsafeBufferPointer<UInt8>, _ body: (UInt32) -> Void) {
        let mask = UInt32(buckets - 1)
        // Boundary markers make "starts with" and "ends with" n-grams distinct features.
        let count = text.count + 2
        @inline(__always) func byte(_ i: Int) -> UInt8 { i == 0 ? 0x02 : i == count - 1 ? 0x03 : text[i - 1] }
        for start in 0..<count {
            var hash: UInt32 = 2_166_136_261
            for n in 1...maxN {
                guard start + n <= count else { break }
                hash = (hash ^ UInt32(byte(start + n - 1))) &* 16_777_619
                if n >= minN {
                    // Mix the length in so that n-grams of different sizes spread apart.
                    var h = hash ^ UInt32(n) &* 0x9E37_79B9
                    h ^= h >> 15
                    body(h & mask)
                }
            }
        }
    }

    /// How many n-grams a text of `length` bytes has (repeats included).
    public func ngramCount(length: Int) -> Int {
        (length + 2) * (maxN - minN + 1)
    }

    /// Sorted bucket ids with their counts (term frequencies).
    public func counts(_ text: [UInt8]) -> (indices: [Int32], counts: [Float]) {
        var hashes: [UInt32] = []
        hashes.reserveCapacity(ngramCount(length: text.count))
        text.withUnsafeBufferPointer { forEachBucket($0) { hashes.append($0) } }
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
