extension Collection where Self: BidirectionalCollection, Element == UInt8 {
    /// Without the leading and trailing bytes for which `isTrimmed` holds (blanks of a header
    /// value, the quotes of a parameter). The one trimming every byte parser uses.
    @inlinable public func trimming(where isTrimmed: (UInt8) -> Bool) -> SubSequence {
        var start = startIndex, end = endIndex
        while start != end, isTrimmed(self[start]) { formIndex(after: &start) }
        while end != start, isTrimmed(self[index(before: end)]) { formIndex(before: &end) }
        return self[start..<end]
    }
}

extension StringProtocol {
    /// Without the leading and trailing characters that are in `characters` (configuration
    /// values, phrase-list entries, search text).
    public func trimming(_ characters: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
