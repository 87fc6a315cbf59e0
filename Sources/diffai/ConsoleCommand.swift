import ArgumentParser
import Classifier
import Console
import Detection

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ConsoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the web console on its own, over the alert files that sensors write.",
        discussion: """
        View Logs reads the EVE file (or alert.log when there is no EVE file); alerts appended to it \
        by a running monitor, proxy or replay appear live on Home. Rules lists --rules; Reload \
        checks that file. A model trained here is activated by installing it as the default model \
        (Dataset/diffai-model.bin), which sensors load when they start. Runs until interrupted.
        """
    )

    @OptionGroup var files: AlertFileOptions
    @OptionGroup var rules: RulesOption
    @OptionGroup var console: ConsoleOptions
    @Option(name: .customLong("install-model"), help: "Where an activated model is installed.")
    var installModel = DefaultPaths.model

    func run() throws {
        guard !console.disabled else {
            printError("diffai: --no-console leaves `diffai console` nothing to do")
            throw ExitCode(64)
        }
        let path = rules.path
        let installPath = installModel
        let hooks = ConsoleHooks(
            mode: "console", rulesFile: path,
            rules: { (try? RuleFile.load(path: path))?.map(RuleSummary.init) ?? [] },
            reloadRules: {
                do {
                    let loaded = try RuleSet(rules: RuleFile.load(path: path))
                    return .success(loaded.count)
                } catch {
                    return .failure(ConsoleFailure("\(error)"))
                }
            },
            activateModel: { model in
                do {
                    let classifier = try ModelFile.load(path: model)
                    try ModelFile.save(classifier, to: installPath)
                    return .success("installed as \(installPath); sensors use it from their next start")
                } catch {
                    return .failure(ConsoleFailure("\(error)"))
                }
            })
        Signals.installStopFlag()
        guard let server = console.start(mode: "console", hooks: hooks, history: files.history, feed: ConsoleFeed(), follow: true,
                                          trainingAudit: (try? RuleSet(rules: RuleFile.load(path: path))).map { Detector.benignAudit(rules: $0) }) else {
            throw ExitCode(69)
        }
        while !Signals.stopping { usleep(100_000) }
        server.stop()
    }
}
