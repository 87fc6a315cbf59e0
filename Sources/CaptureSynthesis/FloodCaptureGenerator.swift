import Capture
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes the captures a hostile sender would make to exhaust a sensor, each optionally
/// followed by one attack, so a test can check that the flood cost the flooder and the
/// attack after it is still seen. Deterministic; streamed to the file (a flood is large).
public struct FloodCaptureGenerator {
    public enum Kind: String, CaseIterable, Sendable {
        /// SYN-only connections (half-open flows).
        case syn
        /// Connections each sending `bytesPerFlow` of a request head that never ends.
        case heads
        /// Connections each holding `bytesPerFlow` of out-of-order data behind a hole never filled.
        case outOfOrder = "out-of-order"
        /// First fragments (1 KiB) of datagrams whose other fragments never come.
        case fragments
        /// Connections each pipelining `bytesPerFlow / 200` requests that are never answered.
        case pipelined
        /// Not a flood: `count` complete 64 KB TCP segments, each sent as IPv4 fragments of
        /// `bytesPerFlow` bytes (8: the 8,191 fragments a datagram can have), last first. For
        /// measuring what a fragment costs as their number grows.
        case fragmented
    }

    public var kind: Kind
    /// Connections (or datagrams) in the flood.
    public var count: Int
    public var bytesPerFlow = 10_000
    /// After the flood, one connection sends `attackRequest`, in the flood's own way where that
    /// applies (out of order, or fragmented).
    public var attackAfter = true
    public static let attackRequest = "GET /search?q=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\r\nHost: shop.example\r\n\r\n"

    public init(kind: Kind, count: Int) {
        self.kind = kind
        self.count = count
    }

    public struct Result: Sendable {
        public var packets = 0
        public var bytes = 0
    }

    public func write(to path: String) throws -> Result {
        let output = try StreamedCaptureFile(path: path)
        let writer = output.writer, builder = output.builder
        var result = Result()
        func flush() {
            output.flush()
            result.bytes = output.bytesWritten
        }
        let server = Endpoint(address: IPAddress(ipv4: 0xC000_0250), port: 8080)  // 192.0.2.80
        // Ten microseconds a packet: a flood of a million packets spans ten seconds, well within
        // the idle timeout, so only the memory bounds act on it.
        var clock = Timestamp(seconds: 1_764_000_000, microseconds: 0)
        func client(_ index: Int) -> Endpoint {
            Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(1 + index / 50_000)), port: UInt16(10_000 + index % 50_000))
        }
        func conversation(_ index: Int) -> TCPConversation {
            let c = TCPConversation(client: client(index), server: server, writer: writer, builder: builder, start: clock,
                                    clientISN: UInt32(truncatingIfNeeded: index &* 2_654_435_761), serverISN: 77)
            c.tick = 10
            return c
        }
        let padding = [UInt8](repeating: UInt8(ascii: "a"), count: max(0, bytesPerFlow))
        for index in 0..<count {
            switch kind {
            case .syn:
                let c = conversation(index)
                c.segment(from: .client, sequence: c.clientSequence, flags: .syn, acknowledgment: 0)
                clock = c.clock
            case .heads:
                let c = conversation(index)
                c.handshake()
                c.send(Array("GET /flood/\(index) HTTP/1.1\r\nHost: shop.example\r\nX-Pad: ".utf8) + padding, from: .client)
                clock = c.clock
            case .outOfOrder:
                let c = conversation(index)
                c.handshake()
                // The first segment is never seen and never acknowledged: everything after it waits.
                let head = Array("POST /flood/\(index) HTTP/1.1\r\nHost: shop.example\r\nContent-Length: \(bytesPerFlow)\r\n\r\n".utf8)
                c.send(head + padding, from: .client, acknowledge: false, dropping: [0])
                clock = c.clock
            case .fragments:
                let tcp = FrameBuilder.tcp(sourcePort: client(index).port, destinationPort: 8080, sequence: 1, acknowledgment: 1,
                                           flags: [.ack, .psh], payload: [UInt8](repeating: 0x62, count: 2048))
                let first = FrameBuilder.ipv4(source: client(index).address, destination: server.address,
                                              identification: UInt16(truncatingIfNeeded: index), moreFragments: true,
                                              fragmentOffset: 0, dontFragment: false, payload: Array(tcp.prefix(1024)))
                writer.add(frame: builder.frame(ipPacket: first), at: clock)
                clock = Timestamp(microseconds: clock.microseconds + 10)
            case .fragmented:
                let body = [UInt8](repeating: UInt8(ascii: "f"), count: 65_535 - 20 - 20 - 64)
                let tcp = FrameBuilder.tcp(sourcePort: client(index).port, destinationPort: 8080, sequence: 1, acknowledgment: 1,
                                           flags: [.ack, .psh], payload: Array("POST /f HTTP/1.1\r\n".utf8) + body)
                let piece = max(8, bytesPerFlow & ~7)
                for offset in stride(from: 0, to: tcp.count, by: piece).reversed() {
                    let end = min(tcp.count, offset + piece)
                    let fragment = FrameBuilder.ipv4(source: client(index).address, destination: server.address,
                                                     identification: UInt16(truncatingIfNeeded: index), moreFragments: end < tcp.count,
                                                     fragmentOffset: offset, dontFragment: false, payload: Array(tcp[offset..<end]))
                    writer.add(frame: builder.frame(ipPacket: fragment), at: clock)
                    if writer.bytes.count > 4 << 20 { flush() }
                }
                clock = Timestamp(microseconds: clock.microseconds + 10)
            case .pipelined:
                let c = conversation(index)
                c.handshake()
                var requests: [UInt8] = []
                for n in 0..<max(1, bytesPerFlow / 200) {
                    requests += Array("GET /flood/\(index)/\(n)?page=\(n) HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: flood\r\nAccept: */*\r\n\r\n".utf8)
                }
                c.send(requests, from: .client)
                clock = c.clock
            }
            if writer.bytes.count > 4 << 20 { flush() }
        }
        if attackAfter { writeAttack(writer: writer, builder: builder, server: server, clock: clock) }
        result.packets = writer.frameCount
        flush()
        return result
    }

    private func writeAttack(writer: CaptureFileWriter, builder: FrameBuilder, server: Endpoint, clock: Timestamp) {
        let attacker = Endpoint(address: IPAddress(ipv4: 0xCB00_7107), port: 40_000)  // 203.0.113.7
        let c = TCPConversation(client: attacker, server: server, writer: writer, builder: builder, start: clock)
        c.tick = 10
        c.handshake()
        let request = Array(Self.attackRequest.utf8)
        switch kind {
        case .outOfOrder:
            // Every segment but the first, then the first: all of it waits in the queue.
            let start = c.clientSequence
            let pieces = stride(from: 0, to: request.count, by: 16).map { ($0, Array(request[$0..<min(request.count, $0 + 16)])) }
            for (offset, piece) in pieces.dropFirst().reversed() {
                c.segment(from: .client, sequence: start &+ UInt32(offset), flags: [.ack, .psh], payload: piece)
            }
            c.segment(from: .client, sequence: start, flags: [.ack, .psh], payload: pieces[0].1)
            c.advance(.client, by: request.count)
            c.segment(from: .server, sequence: c.serverSequence, flags: .ack)
        case .fragments:
            let tcp = FrameBuilder.tcp(sourcePort: attacker.port, destinationPort: server.port, sequence: c.clientSequence,
                                       acknowledgment: c.serverSequence, flags: [.ack, .psh], payload: request)
            let cut = 48
            let second = FrameBuilder.ipv4(source: attacker.address, destination: server.address, identification: 4242,
                                           moreFragments: false, fragmentOffset: cut, dontFragment: false, payload: Array(tcp[cut...]))
            let first = FrameBuilder.ipv4(source: attacker.address, destination: server.address, identification: 4242,
                                          moreFragments: true, fragmentOffset: 0, dontFragment: false, payload: Array(tcp[..<cut]))
            writer.add(frame: builder.frame(ipPacket: second), at: c.clock)
            writer.add(frame: builder.frame(ipPacket: first), at: c.clock)
            c.advance(.client, by: request.count)
            c.segment(from: .server, sequence: c.serverSequence, flags: .ack)
        default:
            c.send(request, from: .client)
        }
        c.send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", from: .server)
        c.close()
    }
}
