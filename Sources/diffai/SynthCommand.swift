import ArgumentParser
import CaptureSynthesis
import Classifier

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write synthetic captures: the test fixtures in captures/, or a large load capture for benchmarks.",
        subcommands: [Fixtures.self, Load.self, Benign.self, Flood.self]
    )

    struct Fixtures: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write every fixture capture into a folder.")

        @Option(help: "Folder to write into.")
        var out: String = "captures"

        func run() throws {
            for fixture in CaptureFixtures.all {
                let path = out + "/" + fixture.name
                try FileBytes.write(fixture.build(), to: path)
                print("\(path): \(fixture.summary)")
            }
        }
    }

    struct Benign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print realistic benign request targets with parameters (the ML validation generator), one per line.")

        @Option(help: "How many.")
        var count = 10_000
        @Option(help: "Random seed.")
        var seed: UInt64 = 1042

        func run() {
            var generator = BenignRequestGenerator(seed: seed)
            for _ in 0..<count { print(generator.nextTarget()) }
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a large keep-alive HTTP capture (deterministic for a seed).")

        @Option(help: "Requests in all.")
        var requests: Int = 200_000
        @Option(help: "Connections in all (requests are spread evenly).")
        var connections: Int = 20_000
        @Option(help: "Connections open at once.")
        var concurrency: Int = 1_000
        @Option(help: "Random seed.")
        var seed: UInt64 = 42
        @Option(help: "Output file.")
        var out: String

        func run() throws {
            var generator = LoadCaptureGenerator()
            generator.requests = requests
            generator.connections = connections
            generator.concurrency = concurrency
            generator.seed = seed
            let result = try generator.write(to: out)
            print("\(out): \(result.requests) requests, \(result.connections) connections, \(result.packets) packets, \(result.bytes) bytes")
        }
    }

    struct Flood: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a hostile flood capture (to test the memory budget), then one attack unless --no-attack.",
            discussion: "Kinds: syn (half-open flows), heads (unfinished request heads), out-of-order (data held behind holes), fragments (incomplete IP datagrams), pipelined (requests never answered).")

        @Option(help: "syn, heads, out-of-order, fragments or pipelined.")
        var kind: String
        @Option(help: "Connections (datagrams for fragments) in the flood.")
        var count: Int = 100_000
        @Option(name: .customLong("bytes-per-flow"), help: "Bytes each flood connection holds (heads, out-of-order, pipelined).")
        var bytesPerFlow: Int = 10_000
        @Flag(name: .customLong("no-attack"), help: "Leave out the attack after the flood.")
        var noAttack = false
        @Option(help: "Output file.")
        var out: String

        func validate() throws {
            guard FloodCaptureGenerator.Kind(rawValue: kind) != nil else {
                throw ValidationError("--kind: one of \(FloodCaptureGenerator.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard count > 0, bytesPerFlow >= 0 else { throw ValidationError("--count must be positive") }
        }

        func run() throws {
            var generator = FloodCaptureGenerator(kind: FloodCaptureGenerator.Kind(rawValue: kind)!, count: count)
            generator.bytesPerFlow = bytesPerFlow
            generator.attackAfter = !noAttack
            let result = try generator.write(to: out)
            print("\(out): \(kind) flood of \(count), \(result.packets) packets, \(result.bytes) bytes")
        }
    }
}
