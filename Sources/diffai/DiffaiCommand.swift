import ArgumentParser

@main
struct DiffaiCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffai",
        abstract: "diffai (دفاعی): web-application intrusion detection for HTTP traffic.",
        discussion: """
        Pipeline: capture (libpcap) → TCP reassembly → HTTP parsing → detection → alerts.
        Start with `diffai demo`.
        """,
        subcommands: [DemoCommand.self, MonitorCommand.self, ProxyCommand.self, ReplayCommand.self, ConsoleCommand.self, ScanCommand.self, RulesCommand.self, TrainCommand.self, EvaluateCommand.self,
                      ClassifyCommand.self, SynthCommand.self]
    )
}
