#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a text file line by line as bytes (any encoding), without the CR/LF ending, one line
/// at a time so it streams from a pipe. With `maxBytes`, longer lines are cut to that length.
public enum LineReader {
    public static func forEachLine(in file: UnsafeMutablePointer<FILE>, maxBytes: Int? = nil, _ body: ([UInt8]) -> Void) {
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while true {
            let length = getline(&line, &capacity, file)
            if length < 0 { return }
            var bytes = [UInt8](UnsafeRawBufferPointer(start: line, count: maxBytes.map { min(length, $0 + 2) } ?? length))
            while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
            if let maxBytes, bytes.count > maxBytes { bytes.removeLast(bytes.count - maxBytes) }
            body(bytes)
        }
    }
}
