import ArgumentParser
import Detection

/// `--rules PATH` shared by every command that detects.
struct RulesOption: ParsableArguments {
    @Option(name: .customLong("rules"), help: "Rule file (JSON).")
    var path: String = "rules.json"

    /// Loads and compiles the rules, or stops the program with the file's error.
    func load() throws -> RuleSet {
        do {
            return try RuleSet(rules: RuleFile.load(path: path))
        } catch {
            printError("diffai: \(error.description)")
            throw ExitCode(65)
        }
    }
}
