import CaptureSynthesis
import Foundation
import Pipeline
import Testing
import TestSupport

/// Floods a hostile sender would use to exhaust or blind a sensor, replayed under a small
/// budget: peak memory stays under the budget, the counters say what the flood cost, and the
/// attack sent after the flood is still alerted.
@Suite(.serialized) struct MemoryBudgetTests {
    struct Flood: Sendable, CustomStringConvertible {
        var kind: FloodCaptureGenerator.Kind
        var count: Int
        var bytesPerFlow = 10_000
        /// The loss counters that must show the flood's cost (any of them).
        var costs: [String]
        var description: String { "\(kind.rawValue) ×\(count)" }
    }

    static let floods = [
        Flood(kind: .syn, count: 40_000, costs: ["half-open flows evicted at the flow limit"]),
        Flood(kind: .heads, count: 4_000, costs: ["requests inspected early for memory"]),
        Flood(kind: .outOfOrder, count: 4_000, costs: ["out-of-order holds delivered past their holes for memory"]),
        Flood(kind: .fragments, count: 12_000, bytesPerFlow: 0, costs: ["fragmented datagrams given up for memory"]),
        Flood(kind: .pipelined, count: 400, bytesPerFlow: 20_000, costs: ["requests inspected early for memory"]),
    ]

    @Test(arguments: floods)
    func floodCostsTheFlooderNotTheNextAttack(_ flood: Flood) throws {
        let directory = TestPaths.temporaryDirectory("flood")
        let capture = directory.appendingPathComponent("\(flood.kind.rawValue).pcap").path
        var generator = FloodCaptureGenerator(kind: flood.kind, count: flood.count)
        generator.bytesPerFlow = flood.bytesPerFlow
        _ = try generator.write(to: capture)
        let budget = 64
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--no-ml", "--json", "--memory-budget", "\(budget)M",
                                                      "--rules", TestPaths.packageRoot.appendingPathComponent("rules.json").path, capture])
        #expect(result.status == 0, "\(result.stderr)")
        // The attack after the flood is alerted.
        let alerts = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let attack = alerts.filter { $0["src_ip"] as? String == "203.0.113.7" }
        #expect(attack.contains { alertRuleIDs($0).contains(1001) }, "\(flood): \(result.stderr)")
        // The flood cost the flood: its counters say so.
        let notInspected = result.stderr.split(separator: "\n").first { $0.hasPrefix("not inspected:") }.map(String.init) ?? ""
        #expect(flood.costs.contains { notInspected.contains($0) }, "\(flood): \(notInspected)")
        // And memory stayed within the budget.
        let memoryLine = result.stderr.split(separator: "\n").first { $0.hasPrefix("memory: peak resident") }.map(String.init) ?? ""
        let peak = Int(memoryLine.split(separator: " ")[3]) ?? Int.max
        #expect(peak < budget, "\(flood): \(memoryLine)")
    }

    @Test func budgetSizesAndShares() {
        #expect(MemoryBudget.parseSize("512M") == 512 << 20)
        #expect(MemoryBudget.parseSize("2g") == 2 << 30)
        #expect(MemoryBudget.parseSize("1048576") == 1 << 20)
        #expect(MemoryBudget.parseSize("64K") == 64 << 10)
        for bad in ["", "M", "-5M", "12X", "1.5G", "99999999999999999G"] { #expect(MemoryBudget.parseSize(bad) == nil, "\(bad)") }
        let budget = MemoryBudget()
        #expect(budget.totalBytes == 512 << 20)
        let shares = budget.captureQueueBytes + budget.fragmentBytes + budget.flowTableBytes + budget.outOfOrderBytes + budget.httpHeldBytes
        #expect(shares == budget.totalBytes / 16 * 13, "13/16 to the stages, 3/16 left for the program")
        var options = PipelineOptions()
        MemoryBudget(totalBytes: 1 << 30).apply(to: &options)
        #expect(options.reassembly.maxFlows == (1 << 28) / MemoryBudget.bytesPerFlow)
        #expect(options.httpHeldBytes == 1 << 28)
    }

    @Test func aBudgetTooSmallIsRefused() throws {
        let result = try run(TestPaths.diffaiBinary, ["replay", "--no-console", "--memory-budget", "10M", TestPaths.capture("basic-get.pcap")])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--memory-budget: 10M is not a size of at least 64M"))
    }
}
