/// An immutable array of plain values in memory of its own, freed by its owner's deinit.
///
/// For tables read in per-request loops (the prefilter's automata and rule lists): indexing
/// an array held in a class property costs a retain and a release around each use, reading
/// this costs a load.
struct FrozenArray<Element> {
    let base: UnsafePointer<Element>
    let count: Int

    init(_ values: [Element]) {
        precondition(_isPOD(Element.self), "FrozenArray holds plain values only (it never deinitializes)")
        let memory = UnsafeMutablePointer<Element>.allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { if let source = $0.baseAddress { memory.initialize(from: source, count: $0.count) } }
        base = UnsafePointer(memory)
        count = values.count
    }

    /// Unchecked in release builds (the point of the type); debug builds, the tests and the
    /// fuzzers check every index.
    @inline(__always) subscript(index: Int) -> Element {
        assert(index >= 0 && index < count, "FrozenArray: index \(index) outside 0..<\(count)")
        return base[index]
    }

    func deallocate() { base.deallocate() }
}
