import Capture
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic pseudo-random numbers (SplitMix64): the same seed gives the same capture.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes a large, realistic capture for benchmarks: keep-alive connections carrying browser-
/// like requests and responses, many connections open at once, interleaved packet by packet.
public struct LoadCaptureGenerator {
    public var requests = 200_000
    public var connections = 20_000
    /// Connections open at the same time; their packets interleave.
    public var concurrency = 1_000
    public var seed: UInt64 = 42

    public init() {}

    public struct Result: Sendable {
        public var requests = 0
        public var connections = 0
        public var packets = 0
        public var bytes = 0
    }

    static let paths = ["/", "/index.html", "/products", "/products/42", "/search", "/api/v1/orders", "/static/app.js",
                        "/static/style.css", "/images/logo.png", "/account/login", "/cart", "/blog/2024/05/hello-world",
                        "/api/v1/users/1234/profile", "/favicon.ico", "/checkout/payment", "/help/faq"]
    static let queries = ["", "", "", "?page=2", "?q=running+shoes&sort=price", "?id=9812", "?lang=de&ref=newsletter",
                          "?from=2024-01-01&to=2024-01-31", "?utm_source=google&utm_medium=cpc&utm_campaign=spring"]
    static let agents = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        "curl/8.5.0",
    ]

    /// Writes the capture to `path` in chunks; memory stays small whatever the size.
    public func write(to path: String) throws -> Result {
        let output = try StreamedCaptureFile(path: path)
        let writer = output.writer, builder = output.builder
        var random = SeededGenerator(seed: seed)
        var result = Result()
        let perConnection = max(1, requests / max(1, connections))
        var clock = Timestamp(seconds: 1_700_000_000, microseconds: 0)
        var started = 0
        var active: [(conversation: TCPConversation, remaining: Int)] = []

        func flush() {
            output.flush()
            result.bytes = output.bytesWritten
        }

        while started < connections || !active.isEmpty {
            while active.count < concurrency && started < connections {
                let clientAddress = IPAddress(ipv4: 0x0A00_0000 | UInt32(1 + started / 60000))
                let client = Endpoint(address: clientAddress, port: UInt16(1024 + started % 60000))
                let server = Endpoint(address: IPAddress(ipv4: 0x0A00_FF01), port: 8080)
                let conversation = TCPConversation(client: client, server: server, writer: writer, builder: builder, start: clock,
                                                   clientISN: UInt32.random(in: 0...UInt32.max, using: &random),
                                                   serverISN: UInt32.random(in: 0...UInt32.max, using: &random))
                conversation.tick = 0
                conversation.handshake()
                active.append((conversation, perConnection))
                started += 1
                result.connections += 1
            }
            var index = 0
            while index < active.count {
                let conversation = active[index].conversation
                conversation.clock = clock
                let request = makeRequest(&random)
                conversation.send(request, from: .client)
                conversation.send(makeResponse(&random), from: .server)
                result.requests += 1
                active[index].remaining -= 1
                clock = Timestamp(microseconds: clock.microseconds + 7)
                if active[index].remaining == 0 {
                    conversation.close()
                    active.swapAt(index, active.count - 1)
                    active.removeLast()
                } else {
                    index += 1
                }
                if writer.bytes.count > 8 << 20 { flush() }
            }
        }
        flush()
        result.packets = writer.frameCount
        return result
    }

    func makeRequest(_ random: inout SeededGenerator) -> [UInt8] {
        let path = Self.paths.randomElement(using: &random)!
        let query = Self.queries.randomElement(using: &random)!
        let agent = Self.agents.randomElement(using: &random)!
        var text = "GET \(path)\(query) HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: \(agent)\r\n"
        text += "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        text += "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n"
        if Bool.random(using: &random) {
            text += "Cookie: session=\(UInt64.random(in: 0...UInt64.max, using: &random)); theme=dark\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    func makeResponse(_ random: inout SeededGenerator) -> [UInt8] {
        let length = Int.random(in: 200...2400, using: &random)
        var text = "HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\nServer: Apache/2.4.57 (Debian)\r\n"
        text += "Content-Type: text/html; charset=UTF-8\r\nContent-Length: \(length)\r\nKeep-Alive: timeout=5, max=100\r\n\r\n"
        return Array(text.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: length)
    }
}
