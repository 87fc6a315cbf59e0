/// How a Cookie header splits into pairs, as servers read it: pairs separated by `;`, blanks
/// around each pair dropped, the name up to the first `=`; a pair without `=` is a name with an
/// empty value. One reading for the rules' cookie targets and the model's cookie scoring.
enum CookieSyntax {
    /// Calls `body` with the name and value ranges (offsets into `header`) of every pair.
    static func forEachPair(in header: UnsafeRawBufferPointer, _ body: (_ name: Range<Int>, _ value: Range<Int>) -> Void) {
        let end = header.count
        var pieceStart = 0
        while pieceStart <= end {
            var pieceEnd = pieceStart
            while pieceEnd < end && header[pieceEnd] != 0x3B { pieceEnd += 1 }
            var s = pieceStart, e = pieceEnd
            while s < e && header[s] == 0x20 { s += 1 }
            while e > s && header[e - 1] == 0x20 { e -= 1 }
            if s < e {
                var equals = s
                while equals < e && header[equals] != 0x3D { equals += 1 }
                body(s..<equals, min(equals + 1, e)..<e)
            }
            pieceStart = pieceEnd + 1
        }
    }
}
