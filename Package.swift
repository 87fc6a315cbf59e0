// swift-tools-version:6.0
import PackageDescription

// One module per pipeline stage; data flows one way:
// Capture → Reassembly → HTTP → Detection → Alerts.
// `Pipeline` composes the stages for replay and monitor, `Proxy` feeds HTTP → Detection →
// Alerts from its own sockets, `Console` serves the analyst; `diffai` is the only executable.
// Built and tested on Linux only (Glibc, libpcap, NIO on epoll): no other platform is declared.
//
// Per-packet and per-request code: the compiler proves exclusive access statically; the
// dynamic checks it otherwise adds on every class-property access cost ~7 % of replay time
// (measured with perf). The internet-facing Proxy and Console keep the checks: their own code
// is connection handling, not a per-byte loop, and a violation there must trap, not corrupt.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "diffai",
    products: [
        .executable(name: "diffai", targets: ["diffai"]),
        // For the benchmark packages under bench/ (and embedding): the pipeline stages.
        .library(name: "DiffaiKit", targets: ["Capture", "Reassembly", "HTTP", "Classifier", "Detection", "Alerts", "Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The console: HTTP + WebSocket server (Hummingbird 2 on SwiftNIO).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        // The inline proxy: SwiftNIO directly.
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            path: "Sources/CPcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        .systemLibrary(
            name: "CPCRE2",
            path: "Sources/CPCRE2",
            providers: [.apt(["libpcre2-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The system OpenSSL: libcrypto's KDFs and AEADs for passive TLS decryption.
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            providers: [.apt(["libssl-dev"])]
        ),
        // Vocabulary and small helpers every stage shares: addresses, endpoints, timestamps, TCP
        // segments; the clocks, threads, ASCII, trimming, percent-decoding, file reading, number formatting.
        .target(name: "NetworkTypes"),
        // Byte-level JSON lines for every machine-readable output.
        .target(name: "JSONOutput", dependencies: ["NetworkTypes"]),
        // libpcap sources (offline files and live capture), link/IP/TCP decoding, IP fragments.
        .target(name: "Capture", dependencies: ["CPcap", "NetworkTypes"], swiftSettings: hotPath),
        // TCP flow tracking and stream reassembly.
        .target(name: "Reassembly", dependencies: ["NetworkTypes"], swiftSettings: hotPath),
        // Incremental HTTP/1.x parsing and request/response pairing.
        .target(name: "HTTP", dependencies: ["NetworkTypes"], swiftSettings: hotPath),
        // The ML model: features, training, scoring, model files.
        .target(name: "Classifier", dependencies: ["NetworkTypes"], swiftSettings: hotPath),
        // Passive TLS decryption from key logs: records, hellos, key schedule, AEAD records.
        .target(name: "TLS", dependencies: ["COpenSSL", "NetworkTypes"]),
        // Rules and the ML model turn requests into verdicts.
        .target(name: "Detection", dependencies: ["HTTP", "NetworkTypes", "CPCRE2", "CZlib", "Classifier"], swiftSettings: hotPath),
        // Alerts out of verdicts: alert.log, EVE JSON, console lines.
        .target(name: "Alerts", dependencies: ["Detection", "HTTP", "NetworkTypes", "JSONOutput"]),
        // Wires the stages together for replay and monitor (threads, queues, memory budget).
        .target(name: "Pipeline", dependencies: ["Capture", "Reassembly", "HTTP", "TLS", "Detection", "Alerts", "NetworkTypes", "JSONOutput"], swiftSettings: hotPath),
        // Writes pcap/pcapng files from synthetic conversations: fixtures and load captures.
        .target(name: "CaptureSynthesis", dependencies: ["NetworkTypes", "Capture"]),
        // The analyst's web console: static pages, JSON APIs, WebSocket alert stream, training jobs.
        .target(
            name: "Console",
            dependencies: [
                "Alerts", "Detection", "Classifier", "JSONOutput", "NetworkTypes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // The inline proxy: SwiftNIO sockets, diffai's own HTTP parser, detection before forwarding.
        .target(
            name: "Proxy",
            dependencies: [
                "HTTP", "Detection", "Alerts", "NetworkTypes",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "diffai",
            dependencies: [
                "Console", "Proxy", "Pipeline", "Capture", "HTTP", "TLS", "CaptureSynthesis", "Detection", "Alerts", "JSONOutput", "Classifier", "NetworkTypes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What every test target shares: paths, seeds, waiting, processes, HTTP drivers.
        .target(name: "TestSupport", dependencies: ["HTTP", "NetworkTypes", "CaptureSynthesis", "CZlib"], path: "Tests/Support"),
        // One test target per stage, built with that stage (as SwiftNIO and Hummingbird do);
        // DiffaiTests holds what crosses stages: replay, monitor and proxy end to end, the
        // console in a browser, the fixtures, the hostile inputs.
        .testTarget(name: "NetworkTypesTests", dependencies: ["NetworkTypes", "CaptureSynthesis", "TestSupport"], path: "Tests/NetworkTypesTests"),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "CaptureSynthesis", "NetworkTypes", "TestSupport"], path: "Tests/CaptureTests"),
        .testTarget(name: "ReassemblyTests", dependencies: ["Reassembly", "NetworkTypes", "TestSupport"], path: "Tests/ReassemblyTests"),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "NetworkTypes", "CaptureSynthesis", "TestSupport"], path: "Tests/HTTPTests"),
        .testTarget(name: "ClassifierTests", dependencies: ["Classifier", "Detection", "HTTP", "TestSupport"], path: "Tests/ClassifierTests"),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Classifier", "HTTP", "NetworkTypes", "CZlib", "TestSupport"], path: "Tests/DetectionTests"),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "NetworkTypes", "CaptureSynthesis", "TestSupport"], path: "Tests/TLSTests",
                    exclude: ["tls-exchange.py"]),
        .testTarget(name: "AlertsTests", dependencies: ["Alerts", "Detection", "NetworkTypes", "CaptureSynthesis", "TestSupport"], path: "Tests/AlertsTests"),
        .testTarget(
            name: "DiffaiTests",
            dependencies: ["Capture", "Reassembly", "HTTP", "Pipeline", "CaptureSynthesis", "NetworkTypes", "JSONOutput", "Detection", "Alerts", "Classifier", "Console", "Proxy", "CZlib", "TestSupport",
                           .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "Tests/DiffaiTests"
        ),
        // The proxy's exchange state machine and its channel handler on NIO's embedded channel
        // (its end-to-end tests, with real backends, are in DiffaiTests).
        .testTarget(
            name: "ProxyTests",
            dependencies: ["Proxy", "HTTP", "Detection", "Alerts", "NetworkTypes",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio")],
            path: "Tests/ProxyTests"
        ),
    ]
)
