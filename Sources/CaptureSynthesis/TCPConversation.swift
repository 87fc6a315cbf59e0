import Capture
import NetworkTypes

/// Scripts one TCP connection packet by packet and appends the frames to a capture writer.
/// High-level steps (handshake, send, close) keep sequence numbers right; `segment` crafts
/// anything else (overlaps, holes, bogus resets).
public final class TCPConversation {
    public enum Side: Sendable { case client, server }

    public let client: Endpoint
    public let server: Endpoint
    public var clientSequence: UInt32
    public var serverSequence: UInt32
    public var clock: Timestamp
    /// Capture-time step between packets.
    public var tick: Int64 = 100
    public var windowScale: UInt8? = 7
    /// IPv6 extension headers put before TCP in every packet (hop-by-hop, destination options...).
    public var ipv6Extensions: [(type: UInt8, body: [UInt8])] = []
    private let writer: CaptureFileWriter
    private let builder: FrameBuilder
    private var ipIdentification: UInt16 = 1

    public init(client: Endpoint, server: Endpoint, writer: CaptureFileWriter, builder: FrameBuilder,
                start: Timestamp, clientISN: UInt32 = 1_000_000, serverISN: UInt32 = 5_000_000) {
        self.client = client
        self.server = server
        self.writer = writer
        self.builder = builder
        clock = start
        clientSequence = clientISN
        serverSequence = serverISN
    }

    public func handshake() {
        segment(from: .client, sequence: clientSequence, flags: .syn, acknowledgment: 0)
        segment(from: .server, sequence: serverSequence, flags: [.syn, .ack], acknowledgment: clientSequence &+ 1)
        clientSequence &+= 1
        serverSequence &+= 1
        segment(from: .client, sequence: clientSequence, flags: .ack)
    }

    /// Sends `bytes` in segments of at most `segmentSize`, then the peer acknowledges.
    /// `dropping` lists segment indexes left out of the capture (the peer still got them).
    public func send(_ bytes: [UInt8], from side: Side, segmentSize: Int = 1448, acknowledge: Bool = true,
                     dropping: Set<Int> = []) {
        var offset = 0
        var index = 0
        while offset < bytes.count {
            let piece = Array(bytes[offset..<min(bytes.count, offset + segmentSize)])
            if !dropping.contains(index) {
                segment(from: side, sequence: sequence(of: side), flags: [.ack, .psh], payload: piece)
            }
            index += 1
            advance(side, by: piece.count)
            offset += piece.count
        }
        if acknowledge { segment(from: side == .client ? .server : .client, sequence: sequence(of: side == .client ? .server : .client), flags: .ack) }
    }

    public func send(_ text: String, from side: Side, segmentSize: Int = 1448, acknowledge: Bool = true,
                     dropping: Set<Int> = []) {
        send(Array(text.utf8), from: side, segmentSize: segmentSize, acknowledge: acknowledge, dropping: dropping)
    }

    /// FIN from both sides, client first.
    public func close() {
        segment(from: .client, sequence: clientSequence, flags: [.fin, .ack])
        clientSequence &+= 1
        segment(from: .server, sequence: serverSequence, flags: [.fin, .ack])
        serverSequence &+= 1
        segment(from: .client, sequence: clientSequence, flags: .ack)
    }

    public func reset(from side: Side) {
        segment(from: side, sequence: sequence(of: side), flags: [.rst, .ack])
    }

    public func sequence(of side: Side) -> UInt32 { side == .client ? clientSequence : serverSequence }

    public func advance(_ side: Side, by count: Int) {
        if side == .client { clientSequence &+= UInt32(count) } else { serverSequence &+= UInt32(count) }
    }

    /// Emits one segment exactly as described; sequence state is not changed.
    public func segment(from side: Side, sequence: UInt32, flags: TCPFlags, payload: [UInt8] = [],
                        acknowledgment: UInt32? = nil) {
        let (source, destination) = side == .client ? (client, server) : (server, client)
        let ack = acknowledgment ?? (side == .client ? serverSequence : clientSequence)
        let tcp = FrameBuilder.tcp(sourcePort: source.port, destinationPort: destination.port, sequence: sequence,
                                   acknowledgment: ack, flags: flags, windowScale: flags.contains(.syn) ? windowScale : nil,
                                   payload: payload)
        emit(transport: tcp, source: source.address, destination: destination.address)
    }

    /// Emits a TCP segment split into IP fragments of `fragmentSize` bytes, in `order`.
    public func fragmentedSegment(from side: Side, payload: [UInt8], fragmentSize: Int, order: [Int]? = nil) {
        let (source, destination) = side == .client ? (client, server) : (server, client)
        let tcp = FrameBuilder.tcp(sourcePort: source.port, destinationPort: destination.port,
                                   sequence: sequence(of: side), acknowledgment: sequence(of: side == .client ? .server : .client),
                                   flags: [.ack, .psh], payload: payload)
        advance(side, by: payload.count)
        let id = nextIdentification()
        var pieces: [[UInt8]] = []
        var offset = 0
        while offset < tcp.count {
            let end = min(tcp.count, offset + fragmentSize)
            let chunk = Array(tcp[offset..<end])
            if source.address.isIPv6 {
                let fragmentField = UInt16(offset) | (end < tcp.count ? 1 : 0)
                let body: [UInt8] = [0] + be16(fragmentField) + be32(UInt32(id))
                pieces.append(FrameBuilder.ipv6(source: source.address, destination: destination.address,
                                                extensions: [(44, body)], payload: chunk))
            } else {
                pieces.append(FrameBuilder.ipv4(source: source.address, destination: destination.address, identification: id,
                                                moreFragments: end < tcp.count, fragmentOffset: offset, payload: chunk))
            }
            offset = end
        }
        for index in order ?? Array(pieces.indices) where index < pieces.count {
            writeFrame(builder.frame(ipPacket: pieces[index]))
        }
    }

    /// Writes an arbitrary IP packet (for crafted fragment overlaps and the like).
    public func rawIP(_ packet: [UInt8]) {
        writeFrame(builder.frame(ipPacket: packet))
    }

    public func nextIdentification() -> UInt16 {
        ipIdentification &+= 1
        return ipIdentification
    }

    private func emit(transport: [UInt8], source: IPAddress, destination: IPAddress) {
        let packet = source.isIPv6
            ? FrameBuilder.ipv6(source: source, destination: destination, extensions: ipv6Extensions, payload: transport)
            : FrameBuilder.ipv4(source: source, destination: destination, identification: nextIdentification(), payload: transport)
        writeFrame(builder.frame(ipPacket: packet))
    }

    private func writeFrame(_ frame: [UInt8]) {
        writer.add(frame: frame, at: clock)
        clock = Timestamp(microseconds: clock.microseconds + tick)
    }
}
