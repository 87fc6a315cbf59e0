#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The training files the console may use: plain files directly inside a few known folders
/// (the project's `Dataset/`, the shared copy, and the uploads folder). The page picks one by
/// its id from this list; a path typed by a client is never opened.
public struct DatasetCatalog: Sendable {
    public struct Folder: Sendable {
        public let label: String
        public let path: String
        public init(label: String, path: String) {
            self.label = label
            self.path = path
        }
    }

    public struct Entry: Sendable, Equatable {
        /// `folder-label/file-name`
        public let id: String
        public let folder: String
        public let name: String
        public let path: String
        public let bytes: Int64
    }

    public let folders: [Folder]
    public let uploadFolder: Folder
    public static let maxUploadBytes: Int64 = 512 << 20

    public init(folders: [Folder], uploadFolder: Folder) {
        self.folders = folders
        self.uploadFolder = uploadFolder
    }

    /// `Dataset/`, `../shared/Dataset/` and `Dataset/uploads/`, relative to the working directory.
    public static var standard: DatasetCatalog {
        DatasetCatalog(folders: [Folder(label: "Dataset", path: "Dataset"), Folder(label: "shared", path: "../shared/Dataset")],
                       uploadFolder: Folder(label: "uploads", path: "Dataset/uploads"))
    }

    public func list() -> [Entry] {
        var entries: [Entry] = []
        for folder in folders + [uploadFolder] {
            guard let directory = opendir(folder.path) else { continue }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if Self.isAcceptableName(name) { names.append(name) }
            }
            closedir(directory)
            for name in names.sorted() {
                let path = folder.path + "/" + name
                var info = stat()
                // lstat: a symbolic link could lead out of the folder.
                guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                entries.append(Entry(id: folder.label + "/" + name, folder: folder.label, name: name, path: path, bytes: Int64(info.st_size)))
            }
        }
        return entries
    }

    /// Only ids that `list()` gives resolve.
    public func entry(id: String) -> Entry? {
        list().first { $0.id == id }
    }

    /// Training text files: letters, digits, `.`, `_`, `-`; no leading dot; `.txt`.
    static func isAcceptableName(_ name: String) -> Bool {
        guard name.utf8.count <= 128, name.hasSuffix(".txt"), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }

    /// The name an upload is stored under: unsafe characters become `_`, `.txt` is added.
    public static func sanitizedUploadName(_ name: String) -> String? {
        var base = String(name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "")
        base = String(base.unicodeScalars.map { scalar -> Character in
            let ok = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "_" || scalar == "-")
            return ok ? Character(scalar) : "_"
        })
        while base.hasPrefix(".") { base.removeFirst() }
        if base.isEmpty { return nil }
        if !base.hasSuffix(".txt") { base += ".txt" }
        if base.utf8.count > 128 { base = String(base.suffix(128)) }
        return isAcceptableName(base) ? base : nil
    }
}
