import Capture
import NetworkTypes

/// Writes classic pcap (microsecond) or pcapng files, byte for byte reproducible.
public final class CaptureFileWriter {
    public enum Format: Sendable { case pcap, pcapng }

    public let format: Format
    public let linkType: LinkType
    public let snaplen: Int
    public private(set) var bytes: [UInt8] = []
    public private(set) var frameCount = 0

    /// `linktypeOverride` writes an arbitrary link type number (to test unsupported ones).
    public init(format: Format = .pcap, linkType: LinkType, snaplen: Int = 262_144, linktypeOverride: UInt32? = nil) {
        self.format = format
        self.linkType = linkType
        self.snaplen = snaplen
        let linktype = linktypeOverride ?? linkType.linktypeValue
        switch format {
        case .pcap:
            append32(0xA1B2_C3D4)
            append16(2); append16(4)
            append32(0); append32(0)
            append32(UInt32(snaplen))
            append32(linktype)
        case .pcapng:
            // Section header block
            append32(0x0A0D_0D0A); append32(28); append32(0x1A2B_3C4D)
            append16(1); append16(0)
            append32(0xFFFF_FFFF); append32(0xFFFF_FFFF)
            append32(28)
            // Interface description block (default microsecond resolution)
            append32(1); append32(20)
            append16(UInt16(linktype)); append16(0)
            append32(UInt32(snaplen))
            append32(20)
        }
    }

    /// Adds a frame; it is cut to the snaplen like a real capture would.
    public func add(frame: [UInt8], at timestamp: Timestamp) {
        let captured = Array(frame.prefix(snaplen))
        frameCount += 1
        switch format {
        case .pcap:
            append32(UInt32(truncatingIfNeeded: timestamp.wholeSeconds))
            append32(UInt32(truncatingIfNeeded: timestamp.microsecondFraction))
            append32(UInt32(captured.count))
            append32(UInt32(frame.count))
            bytes.append(contentsOf: captured)
        case .pcapng:
            let padded = (captured.count + 3) & ~3
            let total = UInt32(32 + padded)
            append32(6); append32(total)
            append32(0)
            let ticks = UInt64(bitPattern: timestamp.microseconds)
            append32(UInt32(truncatingIfNeeded: ticks >> 32)); append32(UInt32(truncatingIfNeeded: ticks))
            append32(UInt32(captured.count)); append32(UInt32(frame.count))
            bytes.append(contentsOf: captured)
            bytes.append(contentsOf: [UInt8](repeating: 0, count: padded - captured.count))
            append32(total)
        }
    }

    /// Hands over what was written so far and starts an empty buffer (for streaming large files).
    public func takeBytes() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }

    public func write(to path: String) throws {
        try FileBytes.write(bytes, to: path)
    }

    // Little-endian, as written by the machines that produce most captures.
    private func append32(_ value: UInt32) {
        bytes.append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)])
    }

    private func append16(_ value: UInt16) {
        bytes.append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8)])
    }
}

public enum FileBytes {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Writes to a temporary file and renames it, so readers never see half a file.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        guard let file = fopen(temporary, "wb") else {
            throw WriteError(path: path, reason: String(cString: strerror(errno)))
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw WriteError(path: path, reason: "write failed")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
