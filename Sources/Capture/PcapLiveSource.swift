import CPcap
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Live capture through libpcap: packets handed over within a couple of milliseconds (or at
/// once in immediate mode), a configurable kernel buffer, a snaplen that holds whole frames.
///
/// Sendable by how it is used: every stored property is a constant; the capture thread alone
/// reads packets (`run`), and what other threads call (`statistics`, a getsockopt on Linux)
/// touches no state the read loop keeps.
public final class PcapLiveSource: @unchecked Sendable {
    public struct Options: Sendable {
        public var interface = "lo"
        public var filter = "tcp port 8080"
        public var snaplen: Int32 = 262_144
        public var bufferBytes: Int32 = 64 << 20
        /// Immediate mode wakes the capture thread for every packet. Off, the kernel hands over
        /// packets in blocks at most `readTimeoutMilliseconds` old: far fewer wakeups for the
        /// web server's CPU, for a bounded delay well inside the alert-latency budget.
        public var immediate = false
        public var readTimeoutMilliseconds: Int32 = 2
        public init() {}
    }

    public struct Statistics: Sendable, Equatable {
        public var received: UInt32 = 0
        public var droppedByKernel: UInt32 = 0
        public var droppedByInterface: UInt32 = 0
    }

    public let options: Options
    public let linkType: LinkType
    private let handle: OpaquePointer

    public init(options: Options) throws(CaptureError) {
        self.options = options
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(options.interface, &errorBuffer) else {
            throw .cannotOpen(file: options.interface, reason: errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        pcap_set_snaplen(handle, options.snaplen)
        pcap_set_promisc(handle, 0)
        pcap_set_immediate_mode(handle, options.immediate ? 1 : 0)
        pcap_set_buffer_size(handle, options.bufferBytes)
        pcap_set_timeout(handle, options.readTimeoutMilliseconds)
        let status = pcap_activate(handle)
        if status < 0 {
            let detail = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw Self.activationError(status, interface: options.interface, detail: detail)
        }
        let dlt = pcap_datalink(handle)
        guard let linkType = LinkType(dlt: dlt) else {
            pcap_close(handle)
            throw .unsupportedLinkType(file: options.interface, dlt: dlt, name: pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown")
        }
        if !options.filter.isEmpty {
            do throws(CaptureError) {
                try PcapFilter.apply(options.filter, to: handle)
            } catch {
                pcap_close(handle)
                throw error
            }
        }
        self.handle = handle
        self.linkType = linkType
    }

    deinit {
        pcap_close(handle)
    }

    static func activationError(_ status: Int32, interface: String, detail: String) -> CaptureError {
        switch status {
        case PCAP_ERROR_PERM_DENIED:
            return .cannotOpen(file: interface, reason: """
                permission denied: capturing needs root or the CAP_NET_RAW and CAP_NET_ADMIN capabilities; \
                run as root, or once: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v diffai)
                """)
        case PCAP_ERROR_NO_SUCH_DEVICE:
            let known = interfaceNames()
            return .cannotOpen(file: interface, reason: "no such interface; interfaces here: \(known.isEmpty ? "none found" : known.joined(separator: ", "))")
        default:
            return .cannotOpen(file: interface, reason: detail.isEmpty ? "cannot start capture (libpcap status \(status))" : detail)
        }
    }

    /// The capture interfaces libpcap can see.
    public static func interfaceNames() -> [String] {
        var list: UnsafeMutablePointer<pcap_if_t>?
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard pcap_findalldevs(&list, &errorBuffer) == 0 else { return [] }
        defer { pcap_freealldevs(list) }
        var names: [String] = []
        var current = list
        while let device = current {
            names.append(String(cString: device.pointee.name))
            current = device.pointee.next
        }
        return names
    }

    /// Reads packets until `stop()` or `shouldStop` (checked at least every read timeout).
    /// `body` runs on the calling thread for each packet; `batchEnded` after each run of
    /// packets libpcap had ready, so a consumer can be woken once per batch, not per packet
    /// (at 200k packets a second, a wake-up each costs the web server a core's worth of time).
    public func run(shouldStop: () -> Bool = { false }, batchEnded: () -> Void = {},
                    _ body: (CapturedFrame) -> Void) throws(CaptureError) {
        var failure: CaptureError?
        withoutActuallyEscaping(body) { body in
            var context = DispatchContext(body: body)
            while !shouldStop() {
                let status = dispatch(&context)
                if status > 0 {
                    batchEnded()
                } else if status == 0 {
                    continue  // read timeout: nothing arrived
                } else if status == PCAP_ERROR_BREAK {
                    break
                } else {
                    failure = .corrupt(file: options.interface, packet: context.number + 1, offset: nil,
                                       reason: String(cString: pcap_geterr(handle)))
                    return
                }
            }
            // Stopping: what the kernel already captured still counts. Its last block is handed
            // over only once the block timeout retires it (late under load), so drain until the
            // ring has been quiet for a while.
            var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
            pcap_setnonblock(handle, 1, &errorBuffer)
            var quietRounds = 0
            while quietRounds < 10 {
                let got = dispatch(&context) > 0
                if got { batchEnded() }
                quietRounds = got ? 0 : quietRounds + 1
                usleep(UInt32(max(1, options.readTimeoutMilliseconds)) * 2_000)
            }
        }
        if let failure { throw failure }
    }

    private struct DispatchContext {
        let body: (CapturedFrame) -> Void
        var number = 0
    }

    /// Hands every packet libpcap has ready to the context's body; libpcap's return value.
    private func dispatch(_ context: inout DispatchContext) -> Int32 {
        withUnsafeMutablePointer(to: &context) { pointer in
            pcap_dispatch(handle, -1, { user, header, data in
                guard let user, let header, let data else { return }
                let context = UnsafeMutableRawPointer(user).assumingMemoryBound(to: DispatchContext.self)
                context.pointee.number += 1
                let h = header.pointee
                context.pointee.body(CapturedFrame(
                    number: context.pointee.number,
                    timestamp: Timestamp(seconds: Int64(h.ts.tv_sec), microseconds: Int64(h.ts.tv_usec)),
                    wireLength: Int(h.len), bytes: UnsafeRawBufferPointer(start: data, count: Int(h.caplen))))
            }, UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Makes `run` return; safe from another thread or a signal handler.
    public func stop() {
        pcap_breakloop(handle)
    }

    public var statistics: Statistics {
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return Statistics() }
        return Statistics(received: stats.ps_recv, droppedByKernel: stats.ps_drop, droppedByInterface: stats.ps_ifdrop)
    }
}
