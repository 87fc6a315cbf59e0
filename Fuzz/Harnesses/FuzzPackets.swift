import Capture
import NetworkTypes

/// The capture decoder and IP fragment reassembly: a sequence of frames, each a link type
/// choice, a length and its bytes, through one decoder (fragments accumulate across frames).
/// Small fragment bounds, so eviction runs too.
nonisolated(unsafe) var fuzzDecoder: PacketDecoder = makeDecoder()
nonisolated(unsafe) var fuzzRuns = 0

func makeDecoder() -> PacketDecoder {
    var limits = IPFragmentReassembler.Limits()
    limits.maxDatagrams = 64
    limits.maxBufferedBytes = 64 << 10
    return PacketDecoder(fragmentLimits: limits)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPackets(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    fuzzRuns += 1
    // A fresh decoder now and then: state from earlier inputs must not pile up, yet runs with
    // shared state find what needs history (fragments across inputs).
    if fuzzRuns % 1000 == 0 { fuzzDecoder = makeDecoder() }
    var input = FuzzInput(data, size)
    let linkTypes: [LinkType] = [.ethernet, .null, .loop, .linuxSLL, .linuxSLL2, .raw, .ipv4, .ipv6]
    var time: Int64 = 1_000_000
    while !input.isAtEnd {
        let linkType = linkTypes[Int(input.byte()) % linkTypes.count]
        let length = Int(input.uint16() % 4096)
        let frame = input.take(length)
        let wireLength = frame.count + Int(input.byte() % 4)
        time += Int64(input.byte()) * 1000
        frame.withUnsafeBytes { raw in
            fuzzDecoder.decode(frame: raw, linkType: linkType, timestamp: Timestamp(microseconds: time), wireLength: wireLength) { segment in
                precondition(segment.payload.count <= 65535, "a TCP payload cannot exceed an IP datagram")
            }
        }
    }
    precondition(fuzzDecoder.fragments.bufferedBytes >= 0 && fuzzDecoder.fragments.bufferedBytes <= 64 << 10,
                 "fragment bytes must stay within their bound")
    return 0
}
