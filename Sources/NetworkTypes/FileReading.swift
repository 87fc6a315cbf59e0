#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a whole file could not be read, in words for the message that names it.
public struct FileReadError: Error, Sendable {
    public enum Reason: Sendable {
        /// `open` failed (no such file, no permission, ...).
        case cannotOpen
        /// `read` failed part way.
        case cannotRead
        /// Larger than the caller allows.
        case tooLarge
    }

    public let reason: Reason
    /// The system's description of the error (`strerror`), or the limit that was passed.
    public let description: String
}

/// Whole small files (rule files, phrase lists, models, console assets, tokens): the one
/// reader, which says why when it cannot.
public enum FileReading {
    /// The bytes of the file at `path`; more than `limit` bytes is an error (`.tooLarge`), so
    /// a wrong path (a disk image, a device) cannot take the memory.
    public static func bytes(_ path: String, limit: Int = 1 << 30) throws(FileReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(reason: .cannotOpen, description: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileReadError(reason: .cannotRead, description: String(cString: strerror(errno)))
            }
            if count == 0 { return bytes }
            guard bytes.count + count <= limit else {
                throw FileReadError(reason: .tooLarge, description: "larger than \(limit) bytes")
            }
            bytes.append(contentsOf: block[0..<count])
        }
    }
}
