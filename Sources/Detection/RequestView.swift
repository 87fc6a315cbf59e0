import HTTP
import NetworkTypes

/// The values each rule target yields for one request, as slices of one byte arena, each
/// buffer (a target through a chain of transforms) computed on first use.
///
/// Built for the per-request path: the arena, the slice table and the transform output are
/// kept between requests (one view per detection scratch, so per thread), so a request costs
/// no allocation once they have grown; a transform that changes nothing makes no copy (the
/// buffer reuses its parent's slices), and values are never arrays of arrays, whose retains
/// and releases used to be half of detection's time.
final class RequestView {
    struct Slice {
        var start: Int
        var count: Int
        var traits: ByteTraits
    }

    private(set) var arena = ByteArena()
    private(set) var slices: [Slice] = []
    /// Per buffer id: its slice indices, once computed.
    private var spans: [Range<Int>?] = []
    private var transformOutput: [UInt8] = []
    private var request: HTTPRequest?
    /// `request?.head`, kept apart: reading it through the optional request copies the request.
    private var head: HTTPMessageHead?
    private var plan = BufferPlan()
    /// The request's arguments once `argumentsParsed` (not an optional: reading a stored
    /// optional struct copies it, a retain per array, on every `arg:` target).
    private var arguments = RequestArguments()
    private var argumentsParsed = false
    private var omitted: Set<[UInt8]> = []
    private var decodedBody: (bytes: [UInt8], decoded: Bool)?
    /// Cookie names and values as slices of the arena (computed once per request).
    private var cookieNames: [Slice]?
    private var cookieValues: [Slice] = []
    /// Argument names, values and file names as slices of the arena, copied there (and their
    /// traits taken) once per request for `args`, `arg_names`, `files` and every `arg:NAME`.
    private var argumentSlicesReady = false
    private var argumentNames: [Slice] = []
    private var argumentValues: [Slice] = []
    private var argumentFileNames: [Slice] = []
    /// Per header field, its value's slice once copied (`headers`, `header:NAME`, `host` and
    /// `user_agent` read the same values): nil until first read.
    private var fieldValues: [Slice?] = []

    /// Above this the arena is given back after the request instead of kept (a large body).
    static let retainedArenaBytes = 4 << 20

    init() {
        slices.reserveCapacity(256)
    }

    /// `omittingArguments`: argument names (query and body) this view leaves out, for a rule
    /// excluded from them; the query string and a parsed body are then read only as arguments.
    func reset(request: HTTPRequest, plan: BufferPlan, omittingArguments: Set<[UInt8]> = []) {
        omitted = omittingArguments
        self.request = request
        head = request.head
        self.plan = plan
        arena.removeAll()
        slices.removeAll(keepingCapacity: true)
        if spans.count != plan.entries.count {
            spans = Array(repeating: nil, count: plan.entries.count)
        } else {
            for i in spans.indices { spans[i] = nil }
        }
        arguments = RequestArguments()
        argumentsParsed = false
        decodedBody = nil
        cookieNames = nil
        cookieValues.removeAll(keepingCapacity: true)
        argumentSlicesReady = false
        argumentNames.removeAll(keepingCapacity: true)
        argumentValues.removeAll(keepingCapacity: true)
        argumentFileNames.removeAll(keepingCapacity: true)
        fieldValues.removeAll(keepingCapacity: true)
        fieldValues.append(contentsOf: repeatElement(nil, count: request.head.fields.count))
        generation &+= 1
        if generation == 0 {
            // Wrapped after 4 billion requests: old stamps could look current again.
            for i in memoStamp.indices { memoStamp[i] = 0 }
            generation = 1
        }
    }

    /// Lets go of the request (and of a large arena) once its evaluation is over.
    func finish() {
        request = nil
        head = nil
        arguments = RequestArguments()
        argumentsParsed = false
        decodedBody = nil
        if arena.capacity > Self.retainedArenaBytes { arena.release() }
        if transformOutput.capacity > Self.retainedArenaBytes { transformOutput = [] }
    }

    /// The slice indices of buffer `id`. May grow the arena: call before taking `bytes`.
    func span(_ id: Int) -> Range<Int> {
        if let cached = spans[id] { return cached }
        let result: Range<Int>
        // Plain values only on this path: copying a plan entry (target names, transform
        // lists) would cost retains and releases for each of the ~90 buffers of a request.
        let parent = plan.parents[id]
        if parent >= 0 {
            result = memoizedTransform(span(parent), id)
        } else {
            let first = slices.count
            appendRaw(id)
            result = first..<slices.count
        }
        spans[id] = result
        return result
    }

    /// The bytes of slice `index`: valid until the next `span` call (which may grow the arena).
    @inline(__always)
    func bytes(_ index: Int) -> UnsafeRawBufferPointer {
        slices.withUnsafeBufferPointer { arena.bytes($0[index].start, $0[index].count) }
    }

    // MARK: - Transforms

    /// Chains often reach the same step from parents that changed nothing (`lowercase` after
    /// five different decodings of a plain header): the same input span through the same
    /// transform is computed once per request. A non-empty span's first slice index names it
    /// (slices are only ever appended); empty spans all transform to empty.
    private var memoStamp: [UInt32] = []
    private var memoResult: [Range<Int>] = []
    private var generation: UInt32 = 1

    private func memoizedTransform(_ input: Range<Int>, _ id: Int) -> Range<Int> {
        guard !input.isEmpty else { return input }
        let key = input.lowerBound &* Transform.allCases.count &+ plan.transformIndexes[id]
        if key < memoStamp.count, memoStamp[key] == generation { return memoResult[key] }
        let result = transformed(input, plan.transforms[id])
        if key >= memoStamp.count {
            let size = max(64, (key + 1) * 2)
            memoStamp.append(contentsOf: repeatElement(0, count: size - memoStamp.count))
            memoResult.append(contentsOf: repeatElement(0..<0, count: size - memoResult.count))
        }
        memoStamp[key] = generation
        memoResult[key] = result
        return result
    }

    private func transformed(_ inputs: Range<Int>, _ transform: Transform) -> Range<Int> {
        let first = slices.count
        var changed = false
        let trigger = ByteTraits.trigger(of: transform)
        // The usual case first: no value has what this transform acts on.
        guard slices.withUnsafeBufferPointer({ all in inputs.contains { !all[$0].traits.isDisjoint(with: trigger) } }) else {
            return inputs
        }
        for index in inputs {
            let input = slices[index]
            guard !input.traits.isDisjoint(with: trigger) else {
                slices.append(input)
                continue
            }
            transformOutput.removeAll(keepingCapacity: true)
            let didChange = Transforms.apply(transform, arena.bytes(input.start, input.count).assumingMemoryBound(to: UInt8.self),
                                             into: &transformOutput)
            if didChange {
                changed = true
                // Lowercasing only takes uppercase away; any other output is looked at again.
                let traits = transform == .lowercase ? input.traits.subtracting(.uppercase) : transformOutput.withUnsafeBytes { ByteTraits.of($0) }
                slices.append(Slice(start: arena.count, count: transformOutput.count, traits: traits))
                transformOutput.withUnsafeBytes { arena.append($0) }
            } else {
                slices.append(input)
            }
        }
        guard changed else {
            // Every value came through untouched: share the parent's slices.
            slices.removeLast(slices.count - first)
            return inputs
        }
        return first..<slices.count
    }

    // MARK: - Raw targets

    private func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        slices.append(copy(bytes))
    }

    private func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    private func appendRaw(_ id: Int) {
        guard let head else { return }
        let raw = plan.kinds[id]
        if !omitted.isEmpty {
            // Without some arguments, the whole target and a parsed body would still hold
            // them: those targets are read as the path, and as the arguments.
            switch raw {
            case .url, .uri, .query:
                let target = head.bytes(head.startLine.1)
                let path = target.prefix { $0 != 0x3F }
                if raw != .query { path.withUnsafeBufferPointer { append($0) } }
                return
            case .body where args.count > 0:
                return
            default:
                break
            }
        }
        switch raw {
        case .body:
            guard let request else { break }
            let body = applicationBody
            if !body.bytes.isEmpty { append(body.bytes) }
            // The kept tail of a compressed body is a piece of the stream, not text.
            if !body.decoded && request.bodyTruncated && !request.bodyTail.isEmpty { append(request.bodyTail) }
        case .anomalies:
            guard let request else { break }
            var anomalies = request.anomalies
            if !request.body.isEmpty {
                anomalies.formUnion(args.bodyAnomalies)
                if !applicationBody.decoded && !BodyDecoding.codings(request).isEmpty { anomalies.insert(.bodyNotDecoded) }
            }
            if !anomalies.isEmpty { for name in anomalies.names { append(Array(name.utf8)) } }
        case .cookies:
            // Cookie slices point into one copy of the Cookie headers in the arena.
            parseCookies()
            slices.append(contentsOf: cookieValues)
        case .cookieNames:
            slices.append(contentsOf: parseCookies())
        case .cookie:
            let names = parseCookies()
            let wanted = plan.selectors[id]
            for (name, value) in zip(names, cookieValues)
            where arena.bytes(name.start, name.count).elementsEqual(wanted) {
                slices.append(value)
            }
        case .args:
            appendArguments(.values)
        case .argNames:
            appendArguments(.names)
        case .arg:
            appendArguments(.values, named: plan.selectors[id])
        case .files:
            appendArguments(.fileNames)
        case .url, .uri, .path, .query, .method, .host, .userAgent, .header, .headers, .headerNames:
            head.storage.withUnsafeBufferPointer { appendHeadTarget(raw, id, head, $0) }
        }
    }

    /// Targets read straight from the head's bytes. (A method, not nested functions: those
    /// captured the head and its storage in a context allocated for every buffer.)
    private func appendHeadTarget(_ raw: RuleTarget.Kind, _ id: Int, _ head: HTTPMessageHead, _ storage: UnsafeBufferPointer<UInt8>) {
        let target = Self.bytes(storage, head.startLine.1)
        switch raw {
        case .url:
            let start = arena.count
            Self.httpScheme.withUnsafeBytes { arena.append($0) }
            if let host = head.fields.first(where: { Self.equalsLowercase(Self.bytes(storage, $0.name), Self.hostName) }) {
                arena.append(UnsafeRawBufferPointer(Self.bytes(storage, host.value)))
            }
            arena.append(UnsafeRawBufferPointer(target))
            slices.append(Slice(start: start, count: arena.count - start, traits: ByteTraits.of(arena.bytes(start, arena.count - start))))
        case .uri:
            append(target)
        case .path:
            append(UnsafeBufferPointer(rebasing: target[..<(target.firstIndex(of: 0x3F) ?? target.endIndex)]))
        case .query:
            if let question = target.firstIndex(of: 0x3F) { append(UnsafeBufferPointer(rebasing: target[(question + 1)...])) }
        case .method:
            append(Self.bytes(storage, head.startLine.0))
            // Frameworks take the method from an override header or a `_method` argument
            // (Rails, Laravel, Express's method-override): a rule about methods must see
            // those too, or POST carries any method past it (EVASION 16).
            for name in Self.methodOverrideHeaders { appendValues(of: name, head, storage) }
            appendArguments(.values, named: Self.methodArgument)
        case .host:
            appendValues(of: Self.hostName, head, storage)
        case .userAgent:
            appendValues(of: Self.userAgentName, head, storage)
        case .header:
            appendValues(of: plan.selectors[id], head, storage)
        case .headers:
            for index in head.fields.indices { appendFieldValue(index, head, storage) }
        case .headerNames:
            for field in head.fields { append(Self.bytes(storage, field.name)) }
        default:
            assertionFailure("\(raw) is not read from the head's bytes")
        }
    }

    private func appendValues(of lowercaseName: [UInt8], _ head: HTTPMessageHead, _ storage: UnsafeBufferPointer<UInt8>) {
        for (index, field) in head.fields.enumerated() where Self.equalsLowercase(Self.bytes(storage, field.name), lowercaseName) {
            appendFieldValue(index, head, storage)
        }
    }

    /// The value of field `index`: copied into the arena the first time, shared after.
    private func appendFieldValue(_ index: Int, _ head: HTTPMessageHead, _ storage: UnsafeBufferPointer<UInt8>) {
        if let slice = fieldValues[index] {
            slices.append(slice)
            return
        }
        append(Self.bytes(storage, head.fields[index].value))
        fieldValues[index] = slices[slices.count - 1]
    }

    @inline(__always)
    private static func bytes(_ storage: UnsafeBufferPointer<UInt8>, _ range: ByteRange) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: storage[Int(range.start)..<Int(range.end)])
    }

    private enum ArgumentPart { case names, values, fileNames }

    /// Appends one part of every argument, only of those named `name` (lowercase, compared
    /// ignoring case) when given. Runs once per `arg:` target of the rule set (dozens per
    /// request): plain pointers, no copy of the arguments.
    private func appendArguments(_ part: ArgumentPart, named name: [UInt8]? = nil) {
        prepareArgumentSlices()
        assert(name == nil || part != .fileNames, "file names are not indexed like argument names")
        guard let name else {
            switch part {
            case .names: slices.append(contentsOf: argumentNames)
            case .values: slices.append(contentsOf: argumentValues)
            case .fileNames: slices.append(contentsOf: argumentFileNames)
            }
            return
        }
        guard !argumentNames.isEmpty else { return }
        let arena = self.arena.bytes(0, self.arena.count)
        for index in argumentNames.indices {
            let slice = argumentNames[index]
            guard slice.count == name.count,
                  Self.equalsLowercase(UnsafeRawBufferPointer(rebasing: arena[slice.start..<(slice.start + slice.count)]).assumingMemoryBound(to: UInt8.self), name)
            else { continue }
            slices.append(argumentValues[index])
        }
    }

    /// Copies the arguments into the arena once, names, values and file names each a slice.
    private func prepareArgumentSlices() {
        guard !argumentSlicesReady else { return }
        argumentSlicesReady = true
        parseArguments()
        guard arguments.count > 0 || !arguments.fileNameRanges.isEmpty else { return }
        arguments.storage.withUnsafeBufferPointer { store in
            for range in arguments.nameRanges { argumentNames.append(copy(UnsafeBufferPointer(rebasing: store[range]))) }
            for range in arguments.valueRanges { argumentValues.append(copy(UnsafeBufferPointer(rebasing: store[range]))) }
            for range in arguments.fileNameRanges { argumentFileNames.append(copy(UnsafeBufferPointer(rebasing: store[range]))) }
        }
    }

    /// `bytes` copied into the arena, as a slice (not yet part of any buffer).
    private func copy(_ bytes: UnsafeBufferPointer<UInt8>) -> Slice {
        let slice = Slice(start: arena.count, count: bytes.count, traits: ByteTraits.of(UnsafeRawBufferPointer(bytes)))
        arena.append(UnsafeRawBufferPointer(bytes))
        return slice
    }

    private func parseArguments() {
        guard !argumentsParsed else { return }
        argumentsParsed = true
        if let request { arguments = RequestArguments(request: request, body: applicationBody.bytes, omitting: omitted) }
    }

    private var args: RequestArguments {
        parseArguments()
        return arguments
    }

    /// The body as the application reads it (inflated once per request, for the body target
    /// and the arguments alike).
    private var applicationBody: (bytes: [UInt8], decoded: Bool) {
        if let decodedBody { return decodedBody }
        let body = request.map { BodyDecoding.applicationBody($0) } ?? ([], false)
        decodedBody = body
        return body
    }

    /// Splits every Cookie header (copied once into the arena) into name and value slices.
    @discardableResult
    private func parseCookies() -> [Slice] {
        if let cookieNames { return cookieNames }
        var names: [Slice] = []
        if let head {
            let first = slices.count
            head.storage.withUnsafeBufferPointer { storage in
                for field in head.fields {
                    let name = UnsafeBufferPointer(rebasing: storage[Int(field.name.start)..<Int(field.name.end)])
                    guard Self.equalsLowercase(name, Self.cookieName) else { continue }
                    append(UnsafeBufferPointer(rebasing: storage[Int(field.value.start)..<Int(field.value.end)]))
                }
            }
            let headers = Array(slices[first...])
            slices.removeLast(slices.count - first)
            let arena = self.arena.bytes(0, self.arena.count)
            for header in headers {
                let base = header.start
                CookieSyntax.forEachPair(in: UnsafeRawBufferPointer(rebasing: arena[base..<(base + header.count)])) { name, value in
                    names.append(Self.slice(arena, base + name.lowerBound, base + name.upperBound))
                    cookieValues.append(Self.slice(arena, base + value.lowerBound, base + value.upperBound))
                }
            }
        }
        cookieNames = names
        return names
    }

    private static func slice(_ arena: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Slice {
        Slice(start: start, count: end - start, traits: ByteTraits.of(UnsafeRawBufferPointer(rebasing: arena[start..<end])))
    }

    static let httpScheme = Array("http://".utf8)
    static let hostName = Array("host".utf8)
    static let userAgentName = Array("user-agent".utf8)
    static let cookieName = Array("cookie".utf8)
    static let methodOverrideHeaders = ["x-http-method-override", "x-http-method", "x-method-override"].map { Array($0.utf8) }
    static let methodArgument = Array("_method".utf8)

    @inline(__always)
    static func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: [UInt8]) -> Bool {
        lowercase.withUnsafeBytes { ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(bytes), lowercase: $0) }
    }
}

/// Growable raw bytes. Unlike an array, reading a slice costs no retain and no closure; a
/// pointer into it stays valid until the next append (which may move the memory).
///
/// Invariant: `0 <= count <= capacity`, and `base` holds `capacity` allocated bytes of which
/// the first `count` are initialised; a slice handed out lies within `count`.
struct ByteArena: ~Copyable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var count = 0
    static let initialCapacity = 16 << 10

    init() {
        capacity = Self.initialCapacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    mutating func removeAll() { count = 0 }

    /// Gives large memory back, keeping an initial-size block.
    mutating func release() {
        base.deallocate()
        capacity = Self.initialCapacity
        base = .allocate(byteCount: capacity, alignment: 16)
        count = 0
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if count + bytes.count > capacity {
            let newCapacity = max(capacity * 2, count + bytes.count)
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            grown.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = grown
            capacity = newCapacity
        }
        assert(count + bytes.count <= capacity, "ByteArena: an append past the capacity it just grew to")
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    func bytes(_ start: Int, _ length: Int) -> UnsafeRawBufferPointer {
        assert(start >= 0 && length >= 0 && start + length <= count, "ByteArena: slice \(start)+\(length) outside the \(count) bytes written")
        return UnsafeRawBufferPointer(start: base + start, count: length)
    }
}

/// A target read through a chain of transforms: the unit the prefilter and the cache work on.
struct BufferKey: Hashable {
    var target: RuleTarget
    var transforms: [Transform]
}

/// Every buffer a rule set needs, numbered at compile time; each is its parent buffer (one
/// transform shorter) plus one transform, so chains sharing a prefix share its work.
struct BufferPlan {
    struct Entry {
        let target: RuleTarget
        let parent: Int?
        let transform: Transform?
        let key: BufferKey
    }

    private(set) var entries: [Entry] = []
    /// `entries[id].parent` (-1: a raw target), `entries[id].transform` and the kind of target
    /// as plain arrays (read per buffer per request, where copying an entry costs retains).
    private(set) var parents: [Int] = []
    private(set) var kinds: [RuleTarget.Kind] = []
    /// The header, argument or cookie name of `header:`, `arg:`, `cookie:` targets
    /// (`target.selector`) as bytes: lowercase for headers and arguments, matched ignoring case.
    private(set) var selectors: [[UInt8]] = []
    private(set) var transforms: [Transform] = []
    private(set) var transformIndexes: [Int] = []
    private var ids: [BufferKey: Int] = [:]

    /// The raw target buffer `id` is derived from.
    func root(_ id: Int) -> Int {
        var id = id
        while parents[id] >= 0 { id = parents[id] }
        return id
    }

    /// `id` without the `lowercase` steps that end its chain (what a case-folding scan of it reads).
    func withoutTrailingLowercase(_ id: Int) -> Int {
        var id = id
        while parents[id] >= 0 && transforms[id] == .lowercase { id = parents[id] }
        return id
    }

    mutating func id(for key: BufferKey) -> Int {
        if let existing = ids[key] { return existing }
        var parent: Int?
        if !key.transforms.isEmpty {
            parent = id(for: BufferKey(target: key.target, transforms: Array(key.transforms.dropLast())))
        }
        let id = entries.count
        entries.append(Entry(target: key.target, parent: parent, transform: key.transforms.last, key: key))
        parents.append(parent ?? -1)
        kinds.append(key.target.kind)
        selectors.append(Array(key.target.selector.utf8))
        transforms.append(key.transforms.last ?? .lowercase)  // unused for raw targets
        transformIndexes.append(key.transforms.last.flatMap { Transform.allCases.firstIndex(of: $0) } ?? 0)
        ids[key] = id
        return id
    }
}
