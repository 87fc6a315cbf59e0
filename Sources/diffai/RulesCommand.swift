import ArgumentParser
import Detection

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Work with rule files.",
        subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a rule file and print a summary.",
            discussion: "Exit status 0 when the file is valid, 65 when it is not (the message names the file, line and column, or the rule and field)."
        )

        @Argument(help: "Rule file to check.")
        var file: String = "rules.json"

        func run() throws {
            let rules: [Rule]
            do {
                rules = try RuleFile.load(path: file)
                _ = try RuleSet(rules: rules)
            } catch {
                printError("diffai: \(error.description)")
                throw ExitCode(65)
            }
            let enabled = rules.filter(\.enabled)
            print("\(file): \(rules.count) rules, \(enabled.count) enabled")
            for severity in Severity.allCases.reversed() {
                let count = enabled.filter { $0.severity == severity }.count
                if count > 0 { print("  \(severity.rawValue): \(count)") }
            }
            let blocking = enabled.filter { $0.action == .block }.count
            print("  action block: \(blocking), alert: \(enabled.count - blocking)")
            var targets: [String: Int] = [:]
            for rule in enabled { for condition in rule.conditions { targets[condition.target.name, default: 0] += 1 } }
            print("  targets: " + targets.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            var exclusions: [String: [Int]] = [:]
            for rule in rules { for exclusion in rule.exclusions { exclusions[exclusion.name, default: []].append(rule.id) } }
            for (name, ids) in exclusions.sorted(by: { $0.key < $1.key }) {
                print("  exclusion \"\(name)\": " + (ids.count == 1 ? "rule \(ids[0])" : "\(ids.count) rules (\(ids.first!)-\(ids.last!))"))
            }
        }
    }
}
