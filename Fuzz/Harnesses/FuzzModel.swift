@testable import Classifier

/// The model file loader. Most bytes fail the checksum at once, so the harness writes a right
/// checksum over what it was given: the fuzzer then explores everything behind that check.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.count >= 4 {
        let sum = ModelFile.checksum(bytes[0..<(bytes.count - 4)])
        withUnsafeBytes(of: sum.littleEndian) { raw in
            for i in 0..<4 { bytes[bytes.count - 4 + i] = raw[i] }
        }
    }
    guard let model = try? ModelFile.decode(bytes, path: "fuzz.bin") else { return 0 }
    for probe in ["/index.html", "/a?q=1' or '1'='1", ""] {
        let score = model.score(target: Array(probe.utf8))
        precondition(score.isFinite && score >= 0 && score <= 1, "a loaded model scores within [0, 1]")
    }
    return 0
}
