import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The monitor on Apache's public HTTPS port: Apache (mod_ssl) terminates TLS and writes its
/// secrets to the file SSLKEYLOGFILE names; diffai follows that file and decrypts what it
/// captures on `lo`, so attacks sent over TLS 1.3 and TLS 1.2 are alerted with their server name.
@Suite(.serialized) struct ApacheTLSMonitorTests {
    @Test(.enabled(if: ApacheMonitorTests.enabled))
    func attacksOverHTTPSAreDecryptedFromApachesKeyLogAndAlerted() throws {
        let directory = TestPaths.temporaryDirectory("apache-tls")
        let openssl = try #require(which("openssl"))
        let cert = directory.appendingPathComponent("server.crt").path, key = directory.appendingPathComponent("server.key").path
        #expect(try run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                  "-subj", "/CN=shop.example", "-days", "2"]).status == 0)
        let root = directory.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("hello over tls\n".utf8).write(to: root.appendingPathComponent("index.html"))
        let backendPort = freePort(), tlsPort = freePort()
        let backend = try startHTTPServer(port: backendPort, root: root)
        defer { kill(backend.processIdentifier, SIGKILL); backend.waitUntilExit() }
        let keys = directory.appendingPathComponent("tls-keys.log").path
        let server = try startApache("/usr/sbin/apache2", directory: directory, ports: [tlsPort], proxying: """
            LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
            LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
            SSLSessionCache shmcb:\(directory.path)/ssl_scache(512000)
            <VirtualHost 127.0.0.1:\(tlsPort)>
                ServerName shop.example
                SSLEngine on
                SSLCertificateFile \(cert)
                SSLCertificateKeyFile \(key)
                ProxyPass / http://127.0.0.1:\(backendPort)/
            </VirtualHost>
            """, environment: ["SSLKEYLOGFILE": keys])
        defer { kill(server.processIdentifier, SIGTERM); server.waitUntilExit() }
        let curlPath = which("curl") ?? "/usr/bin/curl"
        func curl(_ target: String, _ extra: [String] = []) throws -> ProcessResult {
            try run(curlPath, ["-sk", "--http1.1", "--resolve", "shop.example:\(tlsPort):127.0.0.1"] + extra
                    + ["https://shop.example:\(tlsPort)\(target)"])
        }
        #expect(eventually { (try? curl("/index.html"))?.stdout == "hello over tls\n" },
                "Apache with TLS did not come up: \((try? String(contentsOf: directory.appendingPathComponent("apache.out"), encoding: .utf8)) ?? "")")

        let log = directory.appendingPathComponent("alert.log").path, eve = directory.appendingPathComponent("eve.json").path
        let monitorOutput = directory.appendingPathComponent("monitor.out")
        let monitor = try launchWithCleanSignalMask([TestPaths.diffaiBinary, "monitor", "--no-console", "--interface", "lo", "--port", "\(tlsPort)",
                                                     "--no-ml", "--stats-interval", "0", "--keylog", keys,
                                                     "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path,
                                                     "--alert-log", log, "--eve", eve], output: monitorOutput)
        defer { if monitor.isRunning { kill(monitor.processIdentifier, SIGKILL) } }
        #expect(eventually { ((try? String(contentsOf: monitorOutput, encoding: .utf8)) ?? "").contains("monitoring lo") })

        #expect(try curl("/index.html?q=running+shoes").stdout == "hello over tls\n")
        #expect(try curl("/index.html?tls=13&id=1%20UNION%20SELECT%20password%20FROM%20users").status == 0)
        #expect(try curl("/index.html?tls=12&id=1%20UNION%20SELECT%20password%20FROM%20users", ["--tls-max", "1.2"]).status == 0)

        func events() -> [[String: Any]] {
            ((try? String(contentsOfFile: eve, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        func alert(_ marker: String) -> [String: Any]? {
            events().first { (($0["http"] as? [String: Any])?["url"] as? String)?.contains(marker) == true }
        }
        #expect(eventually { alert("tls=13") != nil && alert("tls=12") != nil }, "\((try? String(contentsOf: monitorOutput, encoding: .utf8)) ?? "")")
        for (marker, version) in [("tls=13", "TLS 1.3"), ("tls=12", "TLS 1.2")] {
            let tls = alert(marker)?["tls"] as? [String: Any]
            #expect(tls?["sni"] as? String == "shop.example", "\(marker)")
            #expect(tls?["version"] as? String == version, "\(marker)")
        }
        #expect(!events().contains { (($0["http"] as? [String: Any])?["url"] as? String)?.contains("running") == true })
        #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("tls_sni=shop.example"))

        kill(monitor.processIdentifier, SIGTERM)
        monitor.waitUntilExit()
        #expect(monitor.terminationStatus == 0)
        let output = (try? String(contentsOf: monitorOutput, encoding: .utf8)) ?? ""
        #expect(output.contains("decrypted") && !output.contains("not decrypted"), "\(output)")
    }
}
