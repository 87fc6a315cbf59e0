import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The proxy's answers to abuse: oversize and non-HTTP starts are refused at once however they
/// are segmented, a body must keep a minimum rate, a client that pipelines without reading is
/// not read either, and memory goes back after a flood of clients leaves.
@Suite(.serialized) struct ProxyLimitTests {
    /// Sends pieces with pauses between them; returns the answer and how long it took to start.
    func trickle(port: Int, _ pieces: [String], pause: UInt32 = 50_000, wait: Int32 = 3000) -> (answer: String, seconds: Double) {
        guard let fd = connectLoopback(port: port, receiveTimeout: 10) else { return ("", 0) }
        defer { close(fd) }
        let started = Date()
        for piece in pieces {
            _ = Array(piece.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            usleep(pause)
        }
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&ready, 1, wait)
        let seconds = Date().timeIntervalSince(started)
        return (readAvailable(fd, quietMilliseconds: 300), seconds)
    }

    static func residentKilobytes(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func oversizeAndNonHTTPStartsAreRefusedAtOnce() throws {
        let setup = try ProxySetup(extra: ["--header-timeout", "10"])
        defer { setup.stop() }
        // A request line past 8 KiB, in 1 KiB segments, never finished: 414 at once.
        let line = ["GET /?q="] + Array(repeating: String(repeating: "a", count: 1024), count: 9)
        let long = trickle(port: setup.proxyPort, line)
        #expect(long.answer.hasPrefix("HTTP/1.1 414"), "\(long.answer.prefix(80))")
        #expect(long.seconds < 3, "414 came after \(long.seconds) s")
        // A benign 12 KB URL in several segments: refused at once too (as Apache and nginx do), not 408 after 10 s.
        let benign = trickle(port: setup.proxyPort, ["GET /page?ref=", String(repeating: "b", count: 6000), String(repeating: "c", count: 6000), " HTTP/1.1\r\nHost: x\r\n\r\n"])
        #expect(benign.answer.hasPrefix("HTTP/1.1 414"), "\(benign.answer.prefix(80))")
        #expect(benign.seconds < 3)
        // Headers past the limit (32 KiB), never finished: 431 at once.
        let headers = ["GET / HTTP/1.1\r\nHost: x\r\n"] + Array(repeating: "X-Pad: " + String(repeating: "d", count: 4000) + "\r\n", count: 10)
        let big = trickle(port: setup.proxyPort, headers)
        #expect(big.answer.hasPrefix("HTTP/1.1 431"), "\(big.answer.prefix(80))")
        #expect(big.seconds < 3)
        // Not HTTP: 400 at once, whether binary or text.
        for start in ["\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}", "HELLO\u{01}there", "SSH-2.0-OpenSSH_9.2\r\n"] {
            let answer = trickle(port: setup.proxyPort, [start])
            #expect(answer.answer.hasPrefix("HTTP/1.1 400"), "\(start.debugDescription): \(answer.answer.prefix(60))")
            #expect(answer.seconds < 3)
        }
        // A target with a space is refused, not forwarded as is.
        let spaced = rawExchange(port: setup.proxyPort, Array("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(spaced.hasPrefix("HTTP/1.1 400"), "\(spaced.prefix(80))")
        // Each refusal is an alert with its reason.
        #expect(eventually {
            let log = setup.alertLog
            return log.contains("oversize_start_line") && log.contains("oversize_headers") && log.contains("whitespace_in_target")
        })
        // Ordinary requests still pass, a long-but-allowed one included.
        #expect(rawHTTP(port: setup.proxyPort, path: "/ok?x=" + String(repeating: "e", count: 6000))?.status == 200)
    }

    /// A request refused before its head is complete still waits for the responses owed before
    /// it on the connection: answers stay in order.
    @Test func refusalsKeepPipelinedAnswersInOrder() throws {
        let setup = try ProxySetup()
        defer { setup.stop() }
        let answer = trickle(port: setup.proxyPort, ["GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /" + String(repeating: "z", count: 9000)])
        let first = answer.answer.range(of: "HTTP/1.1 200")
        let refused = answer.answer.range(of: "HTTP/1.1 414")
        #expect(first != nil && refused != nil && first!.lowerBound < refused!.lowerBound, "\(answer.answer.prefix(200))")
        #expect(answer.answer.contains("/first"))
    }

    @Test func aBodyMustKeepAMinimumRate() throws {
        let setup = try ProxySetup(extra: ["--body-timeout", "1", "--body-min-rate", "100", "--idle-timeout", "30"])
        defer { setup.stop() }
        // A byte every 0.3 s (3 B/s against 100 B/s): 408 after about a second.
        let slow = trickle(port: setup.proxyPort, ["POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"] + Array(repeating: "a", count: 8), pause: 300_000, wait: 4000)
        #expect(slow.answer.hasPrefix("HTTP/1.1 408"), "\(slow.answer.prefix(80))")
        // 300 bytes in six steady pieces over 1.5 s (200 B/s): delivered.
        let body = String(repeating: "b", count: 50)
        let steady = trickle(port: setup.proxyPort, ["POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n"] + Array(repeating: body, count: 6), pause: 250_000)
        #expect(steady.answer.hasPrefix("HTTP/1.1 200"), "\(steady.answer.prefix(80))")
        #expect(eventually { setup.alertLog.contains("Request body too slow") })
    }

    /// Clients that pipeline without reading are not read either; when they leave, the
    /// memory they cost goes back.
    @Test func pipeliningWithoutReadingIsBoundedAndMemoryReturns() throws {
        let setup = try ProxySetup(block: false)
        defer { setup.stop() }
        let pid = try #require(setup.proxy?.processIdentifier)
        // Warm up: connections and buffers of an ordinary load.
        for _ in 0..<200 { _ = rawHTTP(port: setup.proxyPort, path: "/warm") }
        usleep(1_500_000)
        let before = Self.residentKilobytes(pid)
        let request = Array("GET /p HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let burst = Array([[UInt8]](repeating: request, count: 2000).joined())
        var clients: [Int32] = []
        for _ in 0..<8 {
            guard let fd = connectLoopback(port: setup.proxyPort, receiveTimeout: 2) else { continue }
            var small: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var flags = fcntl(fd, F_GETFL)
            flags |= O_NONBLOCK
            _ = fcntl(fd, F_SETFL, flags)
            clients.append(fd)
        }
        // Each client sends 100 bursts (200,000 requests) as fast as the proxy takes them, never reading.
        for _ in 0..<100 {
            for fd in clients { _ = burst.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        }
        usleep(1_000_000)
        let during = Self.residentKilobytes(pid)
        #expect(during - before < 64 * 1024, "held \(during - before) KB for clients that never read")
        for fd in clients { close(fd) }
        usleep(2_000_000)
        // A last client closes after the flood: the trim runs when the count reaches zero.
        _ = rawHTTP(port: setup.proxyPort, path: "/after")
        usleep(1_500_000)
        let after = Self.residentKilobytes(pid)
        print("proxy RSS: before \(before) KB, during the flood \(during) KB, after it \(after) KB")
        #expect(Double(after) <= Double(before) * 1.1 + 2048, "RSS before \(before) KB, during \(during) KB, after \(after) KB")
        // Still serving.
        #expect(rawHTTP(port: setup.proxyPort, path: "/still")?.status == 200)
    }
}
