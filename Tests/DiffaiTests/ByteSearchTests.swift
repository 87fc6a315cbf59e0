import CaptureSynthesis
import NetworkTypes
import Testing

@Suite struct ByteSearchTests {
    /// The memchr/memcmp search agrees with the plain definition, on arrays, slices and
    /// non-contiguous collections.
    @Test func firstIndexOfBytesAgreesWithTheDefinition() {
        let seed = TestSeed.value("byte search")
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<3000 {
            let haystack = (0..<Int.random(in: 0...60, using: &generator)).map { _ in UInt8.random(in: 97...100, using: &generator) }
            let needle = (0..<Int.random(in: 0...4, using: &generator)).map { _ in UInt8.random(in: 97...100, using: &generator) }
            let expected: Int? = needle.isEmpty || needle.count > haystack.count ? nil
                : (0...(haystack.count - needle.count)).first { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
            #expect(haystack.firstIndex(ofBytes: needle) == expected, "seed \(seed)")
            let slice = haystack.dropFirst(min(2, haystack.count))
            let inSlice = slice.firstIndex(ofBytes: needle).map { $0 - slice.startIndex }
            #expect(inSlice == Array(slice).firstIndex(ofBytes: needle), "seed \(seed)")
            #expect(haystack.reversed().reversed().firstIndex(ofBytes: needle).map { _ in true } == expected.map { _ in true })
        }
    }
}
