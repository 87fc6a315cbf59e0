// swift-tools-version:6.0
import PackageDescription

// Outside the main package so that CI never builds it: `bench/detection.sh` runs it in release.
let package = Package(
    name: "DetectionBench",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "diffai", path: "../..")],
    targets: [
        .executableTarget(name: "DetectionBench", dependencies: [.product(name: "DiffaiKit", package: "diffai")],
                          swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
