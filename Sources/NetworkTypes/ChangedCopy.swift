/// The output of a decoder that usually finds nothing to decode (most values have no `%` or
/// `&`): the copy is started at the first change, with room for the whole input, and the
/// unchanged runs between changes are copied whole. `finish` says whether anything changed;
/// when nothing did, nothing was written.
public struct ChangedCopy {
    /// Input before this is in the output (once started).
    private var copied = 0
    private var started = false

    public init() {}

    /// A change replaces `input[start..<end]`: the unchanged run before it is written; the
    /// caller then writes the replacement.
    @inline(__always)
    public mutating func replace(_ input: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, in out: inout [UInt8]) {
        assert(copied <= start && start <= end && end <= input.count, "ChangedCopy: changes in input order, within it")
        if !started {
            started = true
            out.reserveCapacity(out.count + input.count)
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: input[copied..<start]))
        copied = end
    }

    /// Writes the rest; whether anything changed.
    public mutating func finish(_ input: UnsafeBufferPointer<UInt8>, in out: inout [UInt8]) -> Bool {
        guard started else { return false }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: input[copied...]))
        return true
    }
}
