import CPcap
import NetworkTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One captured frame as libpcap hands it over. `bytes` is valid only inside the callback.
public struct CapturedFrame {
    /// 1-based position in its file, for error messages an analyst can act on.
    public var number: Int
    public var timestamp: Timestamp
    public var wireLength: Int
    public var bytes: UnsafeRawBufferPointer

    public init(number: Int, timestamp: Timestamp, wireLength: Int, bytes: UnsafeRawBufferPointer) {
        self.number = number
        self.timestamp = timestamp
        self.wireLength = wireLength
        self.bytes = bytes
    }
}

/// Reads a `.pcap` or `.pcapng` file through libpcap, optionally through a BPF filter.
public final class PcapFileReader {
    public let path: String
    public let linkType: LinkType
    public let datalinkName: String
    private let handle: OpaquePointer
    private let streamBuffer: UnsafeMutablePointer<CChar>
    static let streamBufferBytes = 1 << 20

    public init(path: String, filter: String? = nil) throws(CaptureError) {
        self.path = path
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        // Opened here rather than by libpcap to give the stream a large buffer: with stdio's
        // default (the file system block, 4 KB) reading costs one system call per 4 KB.
        guard let file = fopen(path, "rb") else {
            throw .cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        // glibc ignores the size unless it is given the buffer too.
        let streamBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Self.streamBufferBytes)
        setvbuf(file, streamBuffer, _IOFBF, Self.streamBufferBytes)
        guard let handle = pcap_fopen_offline_with_tstamp_precision(
            file, UInt32(PCAP_TSTAMP_PRECISION_MICRO), &errorBuffer)
        else {
            fclose(file)
            streamBuffer.deallocate()
            throw .cannotOpen(file: path, reason: errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        let dlt = pcap_datalink(handle)
        let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown"
        guard let linkType = LinkType(dlt: dlt) else {
            pcap_close(handle)
            streamBuffer.deallocate()
            throw .unsupportedLinkType(file: path, dlt: dlt, name: name)
        }
        // The filter goes on before the handle is stored: once every property is set, a throw
        // runs deinit, which closes the handle itself.
        if let filter, !filter.isEmpty {
            do throws(CaptureError) {
                try PcapFilter.apply(filter, to: handle)
            } catch {
                pcap_close(handle)
                streamBuffer.deallocate()
                throw error
            }
        }
        self.handle = handle
        self.streamBuffer = streamBuffer
        self.linkType = linkType
        self.datalinkName = name
    }

    deinit {
        pcap_close(handle)  // closes the stream, which then no longer uses its buffer
        streamBuffer.deallocate()
    }

    /// Calls `body` for each frame in file order. Returns normally at the end of the file and
    /// throws `.corrupt` (with packet number and offset) when libpcap cannot go on.
    public func forEachFrame(_ body: (CapturedFrame) -> Void) throws(CaptureError) {
        var number = 0
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            if status == 1, let header, let data {
                number += 1
                let h = header.pointee
                body(CapturedFrame(
                    number: number,
                    timestamp: Timestamp(seconds: Int64(h.ts.tv_sec), microseconds: Int64(h.ts.tv_usec)),
                    wireLength: Int(h.len),
                    bytes: UnsafeRawBufferPointer(start: data, count: Int(h.caplen))))
            } else if status == PCAP_ERROR_BREAK || status == 0 {
                return
            } else {
                let reason = String(cString: pcap_geterr(handle))
                throw .corrupt(file: path, packet: number + 1, offset: currentOffset, reason: reason)
            }
        }
    }

    /// Byte position of libpcap's reader in the file, for error messages.
    private var currentOffset: Int64? {
        guard let file = pcap_file(handle) else { return nil }
        let position = ftello(file)
        return position >= 0 ? Int64(position) : nil
    }
}

public enum PcapFilter {
    /// Compiles `filter` against an Ethernet link without a capture, so a typo is reported once
    /// before any file is opened.
    public static func validate(_ filter: String) throws(CaptureError) {
        guard let handle = pcap_open_dead(DLT_EN10MB, 262_144) else { return }
        defer { pcap_close(handle) }
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw .badFilter(filter: filter, reason: String(cString: pcap_geterr(handle)))
        }
        pcap_freecode(&program)
    }

    static func apply(_ filter: String, to handle: OpaquePointer) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw .badFilter(filter: filter, reason: String(cString: pcap_geterr(handle)))
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw .badFilter(filter: filter, reason: String(cString: pcap_geterr(handle)))
        }
    }
}
