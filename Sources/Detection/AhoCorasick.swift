import NetworkTypes

/// Multi-literal search: one pass over the input finds every rule literal it contains.
///
/// A full DFA over byte classes: transitions for every class are precomputed (no failure
/// links at scan time), bytes are case-folded, and only the bytes that occur in literals get a
/// class of their own, which keeps the table small enough to stay in cache with 1,000 rules.
///
/// The scan runs for every prefilter buffer of every request, so its tables are plain memory
/// behind a trivial `Table` value: reading them costs no reference counting (copying a struct
/// of four arrays per buffer was a sixth of detection's time). States are numbered so that the
/// ones where a pattern ends come last, and transitions hold the next state's row offset: per
/// byte the loop does a class lookup, a transition lookup and one comparison.
/// Immutable once built (its tables are written in `init` only and freed in `deinit`), so it is
/// shared between threads as is.
final class AhoCorasick: @unchecked Sendable {
    struct Table {
        fileprivate let classOf: FrozenArray<UInt8>
        /// Row offset (state × class count) of the next state, per (row offset + class).
        fileprivate let transitions: FrozenArray<Int32>
        /// Row offsets at or above this belong to states where patterns end.
        fileprivate let firstOutputRow: Int
        fileprivate let classCount: Int
        /// Per state with output (counted from the first such state): its range of `outputs`.
        fileprivate let outputStart: FrozenArray<Int32>
        fileprivate let outputs: FrozenArray<Int32>

        /// Calls `found` with the index of every pattern that occurs in `input` (possibly more than once).
        @inline(__always)
        func scan(_ input: UnsafeRawBufferPointer, _ found: (Int) -> Void) {
            scanEnds(input) { pattern, _ in
                found(pattern)
                return true
            }
        }

        /// Calls `found` with each pattern that occurs and the offset where it ends, in input
        /// order, until `found` returns false.
        @inline(__always)
        func scanEnds(_ input: UnsafeRawBufferPointer, _ found: (Int, Int) -> Bool) {
            guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            var byte = base
            let end = base + input.count
            var row = 0
            while byte < end {
                (byte, row) = advance(from: byte, to: end, row: row)
                guard row >= firstOutputRow else { return }
                let state = (row &- firstOutputRow) / classCount
                for i in Int(outputStart[state])..<Int(outputStart[state &+ 1]) where !found(Int(outputs[i]), byte - base) { return }
            }
        }

        /// Runs the automaton up to the first state where a pattern ends (or the end). Its own
        /// function without calls: inlined into the callers' loops, the scan state was spilled
        /// to the stack, which put a store and a load into every byte's dependency chain.
        @inline(never)
        func advance(from start: UnsafePointer<UInt8>, to end: UnsafePointer<UInt8>, row initial: Int) -> (UnsafePointer<UInt8>, Int) {
            let classOf = self.classOf.base, transitions = self.transitions.base, firstOutputRow = self.firstOutputRow
            var byte = start
            var row = initial
            while byte < end {
                row = Int(transitions[row &+ Int(classOf[Int(byte.pointee)])])
                byte += 1
                if row >= firstOutputRow { break }
            }
            return (byte, row)
        }
    }

    let table: Table

    init(patterns: [[UInt8]]) {
        let folded = patterns.map { $0.map(ASCII.lowercased) }
        var classOf = [UInt8](repeating: 0, count: 256)
        var classCount = 1
        var seen = [Bool](repeating: false, count: 256)
        for pattern in folded { for byte in pattern { seen[Int(byte)] = true } }
        for byte in 0..<256 where seen[byte] {
            classOf[byte] = UInt8(truncatingIfNeeded: classCount)
            classCount += 1
        }
        for upper in 0x41...0x5A { classOf[upper] = classOf[upper | 0x20] }
        precondition(classCount <= 256)

        // Trie.
        var trie: [[Int32]] = [[Int32](repeating: -1, count: classCount)]
        var terminal: [[Int32]] = [[]]
        for (index, pattern) in folded.enumerated() where !pattern.isEmpty {
            var state = 0
            for byte in pattern {
                let c = Int(classOf[Int(byte)])
                if trie[state][c] < 0 {
                    trie[state][c] = Int32(trie.count)
                    trie.append([Int32](repeating: -1, count: classCount))
                    terminal.append([])
                }
                state = Int(trie[state][c])
            }
            terminal[state].append(Int32(index))
        }
        // Breadth-first: fill missing transitions from the failure state, merge outputs.
        var failure = [Int](repeating: 0, count: trie.count)
        var queue: [Int] = []
        for c in 0..<classCount {
            if trie[0][c] < 0 { trie[0][c] = 0 } else { failure[Int(trie[0][c])] = 0; queue.append(Int(trie[0][c])) }
        }
        var head = 0
        while head < queue.count {
            let state = queue[head]
            head += 1
            terminal[state].append(contentsOf: terminal[failure[state]])
            for c in 0..<classCount {
                let next = trie[state][c]
                if next < 0 {
                    trie[state][c] = trie[failure[state]][c]
                } else {
                    failure[Int(next)] = Int(trie[failure[state]][c])
                    queue.append(Int(next))
                }
            }
        }
        // Renumber: states without output first (the root, which has none, stays 0).
        let order = trie.indices.filter { terminal[$0].isEmpty } + trie.indices.filter { !terminal[$0].isEmpty }
        var number = [Int](repeating: 0, count: trie.count)
        for (new, old) in order.enumerated() { number[old] = new }
        let firstOutputState = order.count - trie.indices.filter({ !terminal[$0].isEmpty }).count

        var transitions = [Int32](repeating: 0, count: trie.count * classCount)
        for (new, old) in order.enumerated() {
            for c in 0..<classCount {
                transitions[new * classCount + c] = Int32(number[Int(trie[old][c])] * classCount)
            }
        }
        var outputStart: [Int32] = []
        var outputs: [Int32] = []
        for old in order[firstOutputState...] {
            outputStart.append(Int32(outputs.count))
            outputs.append(contentsOf: terminal[old])
        }
        outputStart.append(Int32(outputs.count))
        table = Table(classOf: FrozenArray(classOf), transitions: FrozenArray(transitions), firstOutputRow: firstOutputState * classCount,
                      classCount: classCount, outputStart: FrozenArray(outputStart), outputs: FrozenArray(outputs))
    }

    deinit {
        table.classOf.deallocate()
        table.transitions.deallocate()
        table.outputStart.deallocate()
        table.outputs.deallocate()
    }
}
