#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A large capture written as it is made: the writer's bytes go to the file in chunks, so
/// memory stays small whatever the capture's size (the load and flood generators).
final class StreamedCaptureFile {
    let writer = CaptureFileWriter(linkType: .ethernet)
    let builder = FrameBuilder(linkType: .ethernet)
    private(set) var bytesWritten = 0
    private let file: UnsafeMutablePointer<FILE>

    init(path: String) throws {
        guard let file = fopen(path, "wb") else {
            throw FileBytes.WriteError(path: path, reason: String(cString: strerror(errno)))
        }
        self.file = file
    }

    deinit { fclose(file) }

    /// Writes what the writer holds and empties it.
    func flush() {
        let chunk = writer.takeBytes()
        bytesWritten += chunk.count
        _ = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    }
}
