import Hummingbird
import JSONOutput
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The page's files, read once from `static/` at start-up. Serving from memory means no
/// request path ever reaches the file system, and every asset gets the same headers.
public struct StaticAssets: Sendable {
    public struct Asset: Sendable {
        let bytes: ByteBuffer
        let contentType: String
    }

    let assets: [String: Asset]
    public let folder: String

    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// `static/` in the working directory, else beside the project the executable was built
    /// in (`.build/debug/diffai` → `static/`), else the folder given.
    public static func locate(explicit: String?) -> String? {
        if let explicit { return explicit }
        var candidates = ["static"]
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            let executable = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var folder = executable
            for _ in 0..<5 {
                guard let slash = folder.lastIndex(of: "/") else { break }
                folder = String(folder[..<slash])
                candidates.append(folder + "/static")
                candidates.append(folder + "/share/diffai/static")
            }
        }
        return candidates.first { access($0 + "/index.html", R_OK) == 0 }
    }

    public init(folder: String) throws(Missing) {
        self.folder = folder
        var assets: [String: Asset] = [:]
        guard let directory = opendir(folder) else { throw Missing(description: "\(folder): the console's static files are not there (--static FOLDER)") }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        closedir(directory)
        for name in names {
            guard let type = Self.types[String(name.split(separator: ".").last ?? "")], let bytes = try? FileReading.bytes(folder + "/" + name) else { continue }
            assets["/" + name] = Asset(bytes: ByteBuffer(bytes: bytes), contentType: type)
        }
        guard let index = assets["/index.html"] else { throw Missing(description: "\(folder)/index.html is missing") }
        assets["/"] = index
        self.assets = assets
    }

    static let types = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml", "wav": "audio/wav", "png": "image/png", "ico": "image/x-icon", "txt": "text/plain; charset=utf-8",
    ]

    func response(path: String) -> Response? {
        guard let asset = assets[path] else { return nil }
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.bytes))
    }

}

/// JSON answers.
enum ConsoleJSON {
    static func response(_ status: HTTPResponse.Status = .ok, _ bytes: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// For answers made outside a route (the access rules' refusals, missing assets).
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        response(status, ConsoleEvents.encoded(ErrorMessage(error: message)))
    }
}

