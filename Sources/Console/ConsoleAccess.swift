import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who may use the console.
///
/// - Bound to loopback and reached as `localhost` or a loopback address literal (exactly:
///   `127.x.y.z`, `::1`, `[::1]`, no prefixes or suffixes): reading needs nothing, and every
///   state change needs the token or proof that the page itself sent it (Origin equal to the
///   console's own origin). A cross-site form or script therefore cannot reload rules, start
///   training or switch models.
/// - Reached by any other Host name, even on loopback: a DNS-rebinding page (`127.attacker.tld`
///   resolving to 127.0.0.1) is same-origin with itself, so only the token proves anything:
///   everything but the login page and its assets needs it.
/// - Bound anywhere else: the same, token for everything, sent as `Authorization: Bearer
///   TOKEN` or as the HttpOnly cookie that `/api/login` sets.
/// - WebSocket: a browser always sends Origin; one that is not ours is refused (cross-site
///   WebSocket hijacking).
public struct ConsoleAccess: Sendable {
    public let token: String
    public let loopbackOnly: Bool
    public static let cookieName = "diffai_token"

    public init(token: String, loopbackOnly: Bool) {
        self.token = token
        self.loopbackOnly = loopbackOnly
    }

    public enum Decision: Equatable {
        case allow
        case refuse(HTTPResponse.Status, String)
    }

    /// Assets and the login call that a page needs before it has the token.
    static let publicPaths: Set<String> = ["/", "/index.html", "/app.js", "/style.css", "/logo.svg", "/beep.wav", "/favicon.ico", "/api/login", "/login"]

    /// `host`: the Host header (HTTP/1) or :authority.
    public func decide(method: HTTPRequest.Method, path: String, host: String, headers: HTTPFields) -> Decision {
        let trustedName = loopbackOnly && Self.isLoopbackHost(host)
        let authenticated = presentsToken(headers)
        let origin = headers[.origin]
        let sameOrigin = origin.map { Self.sameOrigin($0, host: host) }
        let tokenMessage = trustedName || !loopbackOnly ? "token required"
            : "token required: this console was reached by a name other than localhost or a loopback address"
        if path == "/ws" {
            if sameOrigin == false { return .refuse(.forbidden, "cross-origin WebSocket refused") }
            if !trustedName && !authenticated { return .refuse(.unauthorized, tokenMessage) }
            return .allow
        }
        if !trustedName, !authenticated, !Self.publicPaths.contains(path) {
            return .refuse(.unauthorized, tokenMessage)
        }
        let changesState = method != .get && method != .head && method != .options
        if changesState, path != "/api/login" {
            // A browser sends Origin with every POST; without it only the token is proof.
            if sameOrigin == false { return .refuse(.forbidden, "cross-origin request refused") }
            if !authenticated, sameOrigin != true { return .refuse(.forbidden, "state-changing request without token or same-origin proof") }
        }
        return .allow
    }

    func presentsToken(_ headers: HTTPFields) -> Bool {
        if let authorization = headers[.authorization], authorization.hasPrefix("Bearer "),
           Self.constantTimeEqual(String(authorization.dropFirst(7)), token) {
            return true
        }
        for cookieHeader in headers[values: .cookie] {
            for part in cookieHeader.split(separator: ";") {
                let pair = part.trimmingSpaces
                if pair.hasPrefix(Self.cookieName + "="), Self.constantTimeEqual(String(pair.dropFirst(Self.cookieName.count + 1)), token) {
                    return true
                }
            }
        }
        return false
    }

    public func checkToken(_ candidate: String) -> Bool { Self.constantTimeEqual(candidate, token) }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// `localhost`, or an address literal in 127.0.0.0/8 or ::1 (IPv4-mapped included), with
    /// an optional port. Names are compared whole: `127.attacker.tld` and `localhost.evil` are
    /// names anyone can point at 127.0.0.1.
    static func isLoopbackHost(_ host: String) -> Bool {
        guard let name = hostName(host) else { return false }
        if name.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if !name.contains(":"), inet_pton(AF_INET, name, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard name.contains(":"), inet_pton(AF_INET6, name, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        // ::ffff:127.x.y.z
        return bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }

    /// The host of a Host header: `example:5000` → `example`, `[::1]:5000` → `::1`; nil when
    /// the header is not `name[:port]` or `[address][:port]`.
    static func hostName(_ host: String) -> String? {
        func isPort(_ text: Substring) -> Bool { !text.isEmpty && text.count <= 5 && text.allSatisfy { $0.isASCII && $0.isNumber } }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && isPort(rest.dropFirst())) else { return nil }
            return String(host[host.index(after: host.startIndex)..<close])
        }
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return parts[0].isEmpty ? nil : String(parts[0])
        case 2: return !parts[0].isEmpty && isPort(parts[1]) ? String(parts[0]) : nil
        default: return nil
        }
    }

    static func sameOrigin(_ origin: String, host: String) -> Bool {
        origin.lowercased() == "http://" + host.lowercased() || origin.lowercased() == "https://" + host.lowercased()
    }

    /// Security headers on every answer. `connect-src` names the WebSocket origin explicitly:
    /// older browsers do not count ws: as 'self'.
    static func secure(_ response: inout Response, host: String) {
        let hostOnly = host.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".:-[]".unicodeScalars.contains($0)) }
        let socket = hostOnly && !host.isEmpty ? " ws://\(host)" : ""
        response.headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'\(socket); base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Applies `ConsoleAccess` to every request, the WebSocket upgrade included.
struct ConsoleAccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: ConsoleAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        var response: Response
        switch access.decide(method: request.method, path: request.uri.path, host: host, headers: request.headers) {
        case .allow:
            do {
                response = try await next(request, context)
            } catch let error as HTTPError {
                response = ConsoleJSON.error(error.status, error.body ?? "\(error.status.reasonPhrase)")
            }
        case .refuse(let status, let message):
            response = ConsoleJSON.error(status, message)
        }
        ConsoleAccess.secure(&response, host: host)
        return response
    }
}

/// The console's access token: read from its file, or made (32 random bytes, hex) and written
/// with mode 0600 in a 0700 folder when absent.
public enum ConsoleToken {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func loadOrCreate(path: String) throws(Failure) -> (token: String, created: Bool) {
        if let existing = (try? FileReading.bytes(path)).map({ String(decoding: $0, as: UTF8.self) }), !existing.isEmpty {
            let token = existing.filter { !$0.isWhitespace }
            guard token.count >= 16 else { throw Failure(description: "\(path): the console token is shorter than 16 characters; delete the file to make a new one") }
            return (token, false)
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0, Glibc.read(fd, &bytes, 32) == 32 else { throw Failure(description: "cannot read /dev/urandom to make a console token") }
        close(fd)
        let token = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        if let slash = path.lastIndex(of: "/") {
            let folder = String(path[..<slash])
            if !folder.isEmpty { mkdir(folder, 0o700) }
        }
        let out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw Failure(description: "\(path): cannot create the console token file: \(String(cString: strerror(errno)))") }
        let line = Array((token + "\n").utf8)
        let written = write(out, line, line.count)
        close(out)
        guard written == line.count else { throw Failure(description: "\(path): cannot write the console token") }
        return (token, true)
    }

}
