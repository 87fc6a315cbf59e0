import NetworkTypes
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A trained model: hashed character n-gram TF-IDF features and a logistic regression.
/// Immutable after loading, so one instance is shared by every thread.
public final class URLClassifier: @unchecked Sendable {
    public let hashing: FeatureHashing
    public let idf: [Float]
    public let weights: [Float]
    public let bias: Float
    /// Default decision threshold on the attack probability, chosen at training time.
    public let threshold: Float
    /// Free text: data, date, metrics (shown by `evaluate` and the console).
    public let info: String

    public init(hashing: FeatureHashing, idf: [Float], weights: [Float], bias: Float, threshold: Float, info: String) {
        precondition(idf.count == hashing.buckets && weights.count == hashing.buckets)
        self.hashing = hashing
        self.idf = idf
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.info = info
    }

    /// TF-IDF vector of a text: sublinear term frequency times idf, L2-normalised.
    public func features(_ text: [UInt8]) -> (indices: [Int32], values: [Float]) {
        let (indices, counts) = hashing.counts(text)
        var values = [Float](repeating: 0, count: indices.count)
        var norm: Float = 0
        idf.withUnsafeBufferPointer { idf in
            for k in 0..<indices.count {
                let v = (1 + logf(counts[k])) * idf[Int(indices[k])]
                values[k] = v
                norm += v * v
            }
        }
        if norm > 0 {
            let scale = 1 / norm.squareRoot()
            for k in 0..<values.count { values[k] *= scale }
        }
        return (indices, values)
    }

    /// Probability that the text (from `RequestText`) is an attack.
    ///
    /// The same value as the weights times `features(text)`, computed for the per-request path:
    /// n-grams are counted in a small open-addressing table in temporary memory instead of
    /// sorting an array of them (the sort and its allocations were most of a score), and the
    /// normalisation is applied once to the dot product.
    /// An empty text (a request with no part that can carry code) is nothing to judge: 0.
    public func score(text: [UInt8]) -> Float {
        guard !text.isEmpty else { return 0 }
        let features = hashing.ngramCount(length: text.count)
        var capacity = 64
        while capacity < features * 2 { capacity <<= 1 }
        let empty = UInt32.max
        let margin = withUnsafeTemporaryAllocation(of: UInt32.self, capacity: capacity) { buckets in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: capacity) { counts in
                buckets.initialize(repeating: empty)
                let slotMask = capacity - 1
                text.withUnsafeBufferPointer { text in
                    hashing.forEachBucket(text) { bucket in
                        var slot = Int(bucket &* 0x9E37_79B1) & slotMask
                        while true {
                            if buckets[slot] == bucket { counts[slot] += 1; return }
                            if buckets[slot] == empty { buckets[slot] = bucket; counts[slot] = 1; return }
                            slot = (slot + 1) & slotMask
                        }
                    }
                }
                var dot: Float = 0
                var norm: Float = 0
                idf.withUnsafeBufferPointer { idf in
                    weights.withUnsafeBufferPointer { w in
                        for slot in 0..<capacity where buckets[slot] != empty {
                            let bucket = Int(buckets[slot])
                            let count = counts[slot]
                            let v = (count == 1 ? 1 : 1 + logf(Float(count))) * idf[bucket]
                            norm += v * v
                            dot += w[bucket] * v
                        }
                    }
                }
                return norm > 0 ? bias + dot / norm.squareRoot() : bias
            }
        }
        return 1 / (1 + expf(-margin))
    }

    /// Probability for a request target as on the wire.
    public func score<C: Collection>(target: C) -> Float where C.Element == UInt8 {
        if let score = target.withContiguousStorageIfAvailable({ score(target: $0) }) { return score }
        return Array(target).withUnsafeBufferPointer { score(target: $0) }
    }

    /// The same on bytes in memory (the per-request path: no generic call across modules).
    public func score(target: UnsafeBufferPointer<UInt8>) -> Float {
        score(text: RequestText.fromTarget(bytes: target))
    }
}

/// The model file: `DIFFAIML`, format version, hashing parameters, threshold, bias, info,
/// then idf and weights as little-endian float32, then an FNV-1a checksum of everything before.
public enum ModelFile {
    public static let formatVersion: UInt32 = 1
    /// Far above anything L2-regularised training produces, far below where sums overflow.
    static let maxMagnitude: Float = 1e6
    static let magic = Array("DIFFAIML".utf8)

    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func encode(_ model: URLClassifier) -> [UInt8] {
        var out = magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func f32(_ v: Float) { u32(v.bitPattern) }
        u32(formatVersion)
        u32(UInt32(model.hashing.minN)); u32(UInt32(model.hashing.maxN)); u32(UInt32(model.hashing.bucketBits))
        f32(model.threshold); f32(model.bias)
        let info = Array(model.info.utf8)
        u32(UInt32(info.count)); out += info
        for v in model.idf { f32(v) }
        for v in model.weights { f32(v) }
        u32(checksum(out))
        return out
    }

    public static func decode(_ bytes: [UInt8], path: String) throws(LoadError) -> URLClassifier {
        func fail(_ why: String) -> LoadError {
            LoadError(description: "\(path): \(why); train a model with `diffai train --out \(path)`")
        }
        guard bytes.count >= 40, Array(bytes[0..<8]) == magic else { throw fail("not a diffai model file") }
        var offset = 8
        func u32() -> UInt32 {
            let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
            offset += 4
            return UInt32(littleEndian: v)
        }
        let version = u32()
        guard version == formatVersion else {
            throw fail("model format version \(version), this diffai reads version \(formatVersion)")
        }
        let stored = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self)) }
        guard stored == checksum(bytes[0..<(bytes.count - 4)]) else { throw fail("the file is corrupt (checksum mismatch)") }
        let minN = Int(u32()), maxN = Int(u32()), bits = Int(u32())
        guard (1...8).contains(minN), (minN...8).contains(maxN), (10...24).contains(bits) else { throw fail("invalid feature parameters") }
        let threshold = Float(bitPattern: u32()), bias = Float(bitPattern: u32())
        let infoLength = Int(u32())
        let buckets = 1 << bits
        guard offset + infoLength + buckets * 8 + 4 == bytes.count else { throw fail("the file has the wrong size") }
        let info = String(decoding: bytes[offset..<offset + infoLength], as: UTF8.self)
        offset += infoLength
        func floats() -> [Float] {
            let values = bytes.withUnsafeBytes { raw in
                (0..<buckets).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + $0 * 4, as: UInt32.self))) }
            }
            offset += buckets * 4
            return values
        }
        let idf = floats(), weights = floats()
        // Bounded, not only finite: a weight near Float's limit would overflow a score to
        // infinity (or infinity minus infinity to NaN), and -inf bias would never flag.
        func usable(_ value: Float) -> Bool { value.isFinite && abs(value) <= ModelFile.maxMagnitude }
        guard threshold > 0, threshold < 1 else { throw fail("the threshold \(threshold) is not between 0 and 1") }
        guard usable(bias) else { throw fail("the bias \(bias) is not a finite number within ±\(ModelFile.maxMagnitude)") }
        guard idf.allSatisfy(usable), weights.allSatisfy(usable) else {
            throw fail("the file holds weights that are not finite numbers within ±\(ModelFile.maxMagnitude)")
        }
        return URLClassifier(hashing: FeatureHashing(minN: minN, maxN: maxN, bucketBits: bits), idf: idf, weights: weights,
                             bias: bias, threshold: threshold, info: info)
    }

    public static func load(path: String) throws(LoadError) -> URLClassifier {
        let bytes: [UInt8]
        do { bytes = try FileReading.bytes(path, limit: 64 << 20) } catch {
            switch error.reason {
            case .cannotOpen:
                throw LoadError(description: "\(path): no model file (\(error.description)); train one with `diffai train --out \(path)`")
            case .tooLarge: throw LoadError(description: "\(path): too large to be a diffai model")
            case .cannotRead: throw LoadError(description: "\(path): cannot read the model file (\(error.description))")
            }
        }
        return try decode(bytes, path: path)
    }

    /// Written to a temporary file and renamed: a crash never leaves half a model.
    public static func save(_ model: URLClassifier, to path: String) throws(LoadError) {
        let bytes = encode(model)
        let temporary = path + ".tmp-\(getpid())"
        guard let file = fopen(temporary, "wb") else {
            throw LoadError(description: "\(path): cannot write (\(String(cString: strerror(errno))))")
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let closed = fclose(file)
        guard written == bytes.count, closed == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw LoadError(description: "\(path): write failed (\(String(cString: strerror(errno))))")
        }
    }

    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var hash: UInt32 = 2_166_136_261
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}
