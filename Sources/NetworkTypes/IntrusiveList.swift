/// Which fields of a member hold one intrusive list's links. A caseless enum per list conforms,
/// so one object can sit in several lists (a flow is in the activity list and the list of
/// out-of-order holders) and `IntrusiveList` is specialised per list, with no indirection on the
/// per-packet paths that use it.
public protocol IntrusiveListLinks {
    associatedtype Member: AnyObject
    static func newer(of member: Member) -> Member?
    static func setNewer(of member: Member, to newer: Member?)
    static func older(of member: Member) -> Member?
    static func setOlder(of member: Member, to older: Member?)
}

/// Members oldest first, linked through the members themselves: appending and removing cost
/// O(1) and allocate nothing, which is what bounds enforced "oldest first" need (the flows the
/// reassembler evicts, the connections the HTTP stage sheds). The list holds its members
/// strongly through `oldest` and the `newer` links; `newest` and the `older` links are
/// unowned(unsafe), valid because a member is removed from the list before it is released
/// (every owner removes on retire or deinit; `remove` asserts the links it relies on).
public struct IntrusiveList<Links: IntrusiveListLinks> {
    @usableFromInline var first: Links.Member?
    @usableFromInline unowned(unsafe) var last: Links.Member?

    public init() {}

    @inlinable public var oldest: Links.Member? { first }
    @inlinable public var newest: Links.Member? { last }

    /// Appends a member that is in no list of this kind.
    @inlinable public mutating func append(_ member: Links.Member) {
        assert(Links.newer(of: member) == nil && Links.older(of: member) == nil && first !== member,
               "a member is in a list of this kind once")
        Links.setOlder(of: member, to: last)
        Links.setNewer(of: member, to: nil)
        if let last { Links.setNewer(of: last, to: member) } else { first = member }
        last = member
    }

    /// Removes a member that is in this list.
    @inlinable public mutating func remove(_ member: Links.Member) {
        let older = Links.older(of: member), newer = Links.newer(of: member)
        assert(older != nil || first === member, "a member without an older one is the oldest")
        if let older { Links.setNewer(of: older, to: newer) } else { first = newer }
        if let newer { Links.setOlder(of: newer, to: older) } else { last = older }
        Links.setNewer(of: member, to: nil)
        Links.setOlder(of: member, to: nil)
    }
}
