import CaptureSynthesis
import Dispatch
import Foundation
import NetworkTypes
import Synchronization
import Testing
import TestSupport

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
            // The raw-buffer forms the detectors use.
            haystack.withUnsafeBytes { raw in
                needle.withUnsafeBytes { #expect(raw.firstIndex(ofBytes: $0) == expected, "seed \(seed)") }
                let from = Int.random(in: 0...haystack.count + 1, using: &generator)
                let byte = UInt8.random(in: 97...100, using: &generator)
                let plain = from < haystack.count ? haystack[from...].firstIndex(of: byte) : nil
                #expect(raw.firstIndex(of: byte, from: from) == plain, "seed \(seed)")
            }
        }
    }
}

/// The small helpers every stage shares (NetworkTypes).
@Suite struct SharedHelperTests {
    @Test func fixedDecimals() {
        #expect(0.5.fixed(2) == "0.50")
        #expect(0.12345.fixed(4) == "0.1235")
        #expect(1.0.fixed(4) == "1.0000")
        #expect(12.0.fixed(0) == "12")
        #expect(0.999.fixed(2) == "1.00")
        #expect((-1.25).fixed(1) == "-1.3" || (-1.25).fixed(1) == "-1.2")
        #expect((-0.001).fixed(2) == "0.00", "no negative zero")
        #expect(Double.nan.fixed(2) == "nan" && Double.infinity.fixed(2) == "inf")
        #expect(1e300.fixed(2) == String(1e300), "too large to scale: the shortest form")
        #expect(0.07.fixed(3) == "0.070")
    }

    @Test func clocksAndThreads() {
        let before = SystemClock.monotonicSeconds()
        #expect(SystemClock.monotonicSeconds() >= before)
        #expect(SystemClock.now().wholeSeconds > 1_700_000_000)
        let ran = Mutex(0)
        let thread = Threads.start { ran.withLock { $0 += 1 } }
        pthread_join(thread, nil)
        #expect(ran.withLock { $0 } == 1)
        let done = DispatchSemaphore(value: 0)
        Threads.detach { done.signal() }
        #expect(done.wait(timeout: .now() + 10) == .success)
    }
}
