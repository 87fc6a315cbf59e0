/// Multi-literal search: one pass over the input finds every rule literal it contains.
///
/// A full DFA over byte classes: transitions for every class are precomputed (no failure
/// links at scan time), bytes are case-folded, and only the bytes that occur in literals get a
/// class of their own, which keeps the table small enough to stay in cache with 1,000 rules.
struct AhoCorasick {
    private var classOf = [UInt8](repeating: 0, count: 256)
    private var classCount = 1
    private var transitions: [Int32] = []
    /// For each state, the range of `outputs` holding the patterns that end there.
    private var outputStart: [Int32] = []
    private var outputs: [Int32] = []
    let patternCount: Int

    init(patterns: [[UInt8]]) {
        patternCount = patterns.count
        let folded = patterns.map { $0.map(Transforms.lower) }
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
        transitions = trie.flatMap { $0 }
        for list in terminal {
            outputStart.append(Int32(outputs.count))
            outputs.append(contentsOf: list)
        }
        outputStart.append(Int32(outputs.count))
    }

    /// Calls `found` with the index of every pattern that occurs in `input` (possibly more than once).
    func scan(_ input: UnsafeRawBufferPointer, _ found: (Int) -> Void) {
        var state = 0
        transitions.withUnsafeBufferPointer { table in
            outputStart.withUnsafeBufferPointer { starts in
                classOf.withUnsafeBufferPointer { classes in
                    for byte in input {
                        state = Int(table[state &* classCount &+ Int(classes[Int(byte)])])
                        let from = Int(starts[state]), to = Int(starts[state + 1])
                        if from != to {
                            for i in from..<to { found(Int(outputs[i])) }
                        }
                    }
                }
            }
        }
    }
}
