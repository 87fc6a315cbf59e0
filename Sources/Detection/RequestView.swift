import HTTP

/// The values each rule target yields for one request, computed on first use and cached
/// with each chain of transforms, so that rules sharing a target share the work.
final class RequestView {
    let request: HTTPRequest
    private let plan: BufferPlan
    private var arguments: RequestArguments?
    private var cookiePairs: [(name: [UInt8], value: [UInt8])]?
    /// Indexed by buffer id: no hashing on the per-request path.
    private var cache: [[[UInt8]]?]

    init(request: HTTPRequest, plan: BufferPlan) {
        self.request = request
        self.plan = plan
        cache = Array(repeating: nil, count: plan.entries.count)
    }

    func values(_ id: Int) -> [[UInt8]] {
        if let cached = cache[id] { return cached }
        let entry = plan.entries[id]
        let result: [[UInt8]]
        if let parent = entry.parent, let transform = entry.transform {
            result = values(parent).map { Transforms.apply(transform, $0) }
        } else {
            result = raw(entry.target)
        }
        cache[id] = result
        return result
    }

    private var args: RequestArguments {
        if let arguments { return arguments }
        let parsed = RequestArguments(request: request)
        arguments = parsed
        return parsed
    }

    private var cookies: [(name: [UInt8], value: [UInt8])] {
        if let cookiePairs { return cookiePairs }
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for header in request.head.valueBytes(named: "cookie") {
            for piece in header.split(separator: 0x3B) {
                var item = piece.drop { $0 == 0x20 }
                while item.last == 0x20 { item = item.dropLast() }
                if let equals = item.firstIndex(of: 0x3D) {
                    pairs.append((Array(item[..<equals]), Array(item[(equals + 1)...])))
                } else if !item.isEmpty {
                    pairs.append((Array(item), []))
                }
            }
        }
        cookiePairs = pairs
        return pairs
    }

    private func raw(_ target: RuleTarget) -> [[UInt8]] {
        let head = request.head
        switch target {
        case .url:
            return [Array("http://".utf8) + (head.valueBytes(named: "host").first ?? []) + Array(request.targetBytes)]
        case .uri:
            return [Array(request.targetBytes)]
        case .path:
            let target = request.targetBytes
            return [Array(target.prefix { $0 != 0x3F })]
        case .query:
            let target = request.targetBytes
            guard let question = target.firstIndex(of: 0x3F) else { return [] }
            return [Array(target[(question + 1)...])]
        case .method:
            return [Array(request.methodBytes)]
        case .host:
            return head.valueBytes(named: "host")
        case .userAgent:
            return head.valueBytes(named: "user-agent")
        case .body:
            var bodies = request.body.isEmpty ? [] : [request.body]
            if request.bodyTruncated && !request.bodyTail.isEmpty { bodies.append(request.bodyTail) }
            return bodies
        case .args:
            return args.values
        case .argNames:
            return args.names
        case .arg(let name):
            let wanted = Array(name.utf8)
            return zip(args.names, args.values).filter { $0.0.map(Transforms.lower) == wanted }.map(\.1)
        case .cookies:
            return cookies.map(\.value)
        case .cookieNames:
            return cookies.map(\.name)
        case .cookie(let name):
            let wanted = Array(name.utf8)
            return cookies.filter { $0.name == wanted }.map(\.value)
        case .headers:
            return head.fields.map { Array(head.bytes($0.value)) }
        case .headerNames:
            return head.fields.map { Array(head.bytes($0.name)) }
        case .header(let name):
            return head.valueBytes(named: name)
        case .files:
            return args.fileNames
        case .anomalies:
            return request.anomalies.names.map { Array($0.utf8) }
        }
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
    private var ids: [BufferKey: Int] = [:]

    mutating func id(for key: BufferKey) -> Int {
        if let existing = ids[key] { return existing }
        var parent: Int?
        if !key.transforms.isEmpty {
            parent = id(for: BufferKey(target: key.target, transforms: Array(key.transforms.dropLast())))
        }
        let id = entries.count
        entries.append(Entry(target: key.target, parent: parent, transform: key.transforms.last, key: key))
        ids[key] = id
        return id
    }
}
