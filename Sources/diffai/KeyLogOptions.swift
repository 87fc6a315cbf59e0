import ArgumentParser
import NetworkTypes
import TLS

#if canImport(Glibc)
import Glibc
#endif

/// `--keylog FILE` (repeatable): NSS key logs (what `SSLKEYLOGFILE` makes Apache, curl and
/// browsers write) whose secrets decrypt the TLS streams of a capture. Secrets are secrets: a
/// file others can read is warned about, and nothing derived from one is printed.
struct KeyLogOptions: ParsableArguments {
    @Option(name: .customLong("keylog"), help: "NSS key log file for decrypting TLS (repeatable), e.g. keys/tls-keys.log.")
    var paths: [String] = []

    /// Replay: the secrets of every file, read whole; nil without `--keylog`.
    func load(report: (String) -> Void) throws -> KeyLogStore? {
        guard !paths.isEmpty else { return nil }
        let store = KeyLogStore()
        for path in paths {
            warnIfReadableByOthers(path, report: report)
            var bytes: [UInt8]
            do {
                bytes = try FileReading.bytes(path)
            } catch {
                throw ValidationError("--keylog \(path): \(error.description)")
            }
            // The file is whole: its last line counts without a newline too.
            if bytes.last != 0x0A { bytes.append(0x0A) }
            store.read(bytes)
        }
        let malformed = store.malformedLines
        report("key logs: secrets of \(store.sessions) TLS sessions from \(paths.count) file\(paths.count == 1 ? "" : "s")"
            + (malformed > 0 ? " (\(malformed) malformed lines skipped)" : ""))
        return store
    }

    /// Monitor: the files are followed as the server appends to them (a file not there yet is
    /// waited for); nil without `--keylog`.
    func follow(report: (String) -> Void) -> (store: KeyLogStore, follower: KeyLogFollower)? {
        guard !paths.isEmpty else { return nil }
        for path in paths { warnIfReadableByOthers(path, report: report) }
        let store = KeyLogStore()
        let follower = KeyLogFollower(paths: paths, store: store)
        report("key logs: following \(paths.joined(separator: ", ")) (secrets of \(store.sessions) TLS sessions so far)")
        return (store, follower)
    }

    private func warnIfReadableByOthers(_ path: String, report: (String) -> Void) {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            report("warning: \(path) holds TLS secrets and others can read it (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
    }
}
