import Alerts

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `diffai console` on its own: the sensors are other processes, so new alerts are read from
/// the end of their alert file (like `tail -F`: a rotated or truncated file is followed from
/// its start) and pushed to the pages like in-process alerts.
public struct AlertFileFollower: Sendable {
    public let history: AlertHistory
    public let feed: ConsoleFeed
    public var interval: Duration = .milliseconds(100)

    public init(history: AlertHistory, feed: ConsoleFeed) {
        self.history = history
        self.feed = feed
    }

    public func run() async {
        var followed: (path: String, inode: UInt64, offset: Int64)?
        var splitter = AlertLineSplitter()
        var block = [UInt8](repeating: 0, count: 64 * 1024)
        var firstLook = true
        while !Task.isCancelled {
            defer { firstLook = false }
            if let (path, format) = history.source {
                var info = stat()
                if stat(path, &info) == 0 {
                    let inode = UInt64(info.st_ino)
                    if followed == nil || followed!.path != path {
                        // Lines there when the console started are history; a file that appears
                        // later is new, all of it.
                        followed = (path, inode, firstLook ? Int64(info.st_size) : 0)
                        splitter.reset()
                    } else if followed!.inode != inode || Int64(info.st_size) < followed!.offset {
                        followed = (path, inode, 0)
                        splitter.reset()
                    }
                    if Int64(info.st_size) > followed!.offset {
                        let fd = open(path, O_RDONLY | O_CLOEXEC)
                        if fd >= 0 {
                            while true {
                                let read = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(followed!.offset)) }
                                guard read > 0 else { break }
                                followed!.offset += Int64(read)
                                splitter.feed(block[0..<read]) { line in
                                    if let eve = AlertHistory.eveJSON(line, format: format) {
                                        feed.publishAlert(eveLine: eve.bytes)
                                    }
                                }
                            }
                            close(fd)
                        }
                    }
                }
            }
            try? await Task.sleep(for: interval)
        }
    }
}
