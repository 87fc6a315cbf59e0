import Detection
import Foundation
import HTTP

// Per-request detection cost with 10, 100 and 1,000 rules (target: 1,000 ≤ 3× the cost of 10),
// and PCRE2 against Swift Regex on the default rules' patterns, measured in the same run.

let root = URL(fileURLWithPath: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "../..")
let defaults = try RuleFile.load(path: root.appendingPathComponent("rules.json").path).filter(\.enabled)

/// Synthetic rules shaped like real ones: literals and regexes over the usual targets and chains.
func synthetic(_ count: Int) -> [Rule] {
    let chains: [[Transform]] = [[.urlDecodeUni, .lowercase], [.urlDecodeUni, .htmlEntityDecode, .lowercase],
                                 [.urlDecodeUni, .replaceComments, .lowercase, .compressWhitespace], []]
    let targets: [[RuleTarget]] = [[.args], [.uri], [.uri, .body], [.header("user-agent")], [.args, .cookies]]
    var words = ["exploit", "payload", "shell", "inject", "probe", "dump", "admin", "passwd", "token", "debug"]
    words += words.map { $0 + "x" }
    return (0..<count).map { i in
        let word = "\(words[i % words.count])\(i)"
        let condition = i % 3 == 0
            ? RuleCondition(targets: targets[i % targets.count], operation: .regex, value: "\(word)[=:]\\s*\\d+", transforms: chains[i % chains.count])
            : RuleCondition(targets: targets[i % targets.count], operation: .contains, value: word, caseInsensitive: i % 2 == 0, transforms: chains[i % chains.count])
        return Rule(id: 100_000 + i, message: "synthetic \(i)", conditions: [condition])
    }
}

func ruleSet(_ count: Int) throws -> RuleSet {
    let base = Array(defaults.prefix(count))
    return try RuleSet(rules: base + synthetic(max(0, count - base.count)))
}

let agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "curl/8.5.0"]
let benign = ["/", "/index.html", "/products/42?page=2&sort=price", "/search?q=running+shoes&lang=de", "/api/v1/orders?from=2024-01-01&to=2024-01-31",
              "/static/app.js", "/account/login?next=%2Fcart", "/blog/2024/05/hello-world?utm_source=newsletter"]
let attacks = ["/items?id=1%20UNION%20SELECT%20password%20FROM%20users--", "/p?q=%3Cscript%3Ealert(1)%3C/script%3E",
               "/download?file=..%2F..%2F..%2Fetc%2Fpasswd", "/run?cmd=;cat%20/etc/shadow", "/x?a=${jndi:ldap://e/a}"]
var requests: [HTTPRequest] = []
for i in 0..<2000 {
    let target = i % 10 == 0 ? attacks[i / 10 % attacks.count] : benign[i % benign.count]
    let body = i % 4 == 0 ? "user=alice&comment=looks+good+to+me&rating=5" : ""
    requests.append(HTTPRequest.synthesize(method: body.isEmpty ? "GET" : "POST", target: Array(target.utf8),
        headers: [("Host", "shop.example"), ("User-Agent", agents[i % 2]), ("Cookie", "session=\(i); theme=dark"),
                  ("Content-Type", "application/x-www-form-urlencoded")], body: Array(body.utf8))!)
}

/// Best of several rounds of at least 0.3 s each: the machine is shared and noisy.
func perRequestMicroseconds(_ rules: RuleSet) -> Double {
    let scratch = DetectionScratch()
    var best = Double.infinity
    var sink = 0
    for _ in 0..<5 {
        var evaluated = 0
        let start = DispatchTime.now().uptimeNanoseconds
        while true {
            for request in requests { sink &+= rules.evaluate(request, scratch: scratch).count }
            evaluated += requests.count
            if DispatchTime.now().uptimeNanoseconds - start > 300_000_000 { break }
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(evaluated))
    }
    if sink == -1 { print(sink) }
    return best
}

// PROFILE=N: evaluate the proxy benchmark's request N times with the default rules and stop
// (for callgrind or perf: `PROFILE=20000 valgrind --tool=callgrind <stripped binary> ../..`).
if let iterations = ProcessInfo.processInfo.environment["PROFILE"].flatMap({ Int($0) }) {
    let rules = try RuleSet(rules: defaults)
    let request = HTTPRequest.synthesize(method: "GET", target: Array("/index.html?q=running+shoes&page=2".utf8),
                                         headers: [("Host", "127.0.0.1:18582"), ("Accept", "*/*")], body: [])!
    let scratch = DetectionScratch()
    var matches = 0
    for _ in 0..<iterations { matches &+= rules.evaluate(request, scratch: scratch).count }
    print("\(iterations) evaluations, \(matches) matches")
    exit(0)
}
var costs: [Int: Double] = [:]
for count in [10, 100, 1000] {
    costs[count] = perRequestMicroseconds(try ruleSet(count))
}
print("detection cost per request (release build, best of 5 rounds):")
for count in [10, 100, 1000] {
    print(String(format: "  %5d rules: %8.2f µs   (%.2fx the cost of 10)", count, costs[count]!, costs[count]! / costs[10]!))
}
print(String(format: "target: 1,000 rules ≤ 3.00x the cost of 10 → %@", costs[1000]! / costs[10]! <= 3 ? "met" : "NOT met"))

// PCRE2 (JIT, bytes) against Swift Regex (String) on the default rules' patterns.
let patterns = defaults.flatMap(\.conditions).filter { $0.operation == .regex }.map { ($0.value, $0.caseInsensitive) }
let values = requests.map { Array($0.targetBytes) }
let scratch = DetectionScratch()
let pcre = try patterns.map { try CompiledRegex(pattern: $0.0, caseInsensitive: $0.1) }
let swiftRegexes = patterns.compactMap { pattern -> Regex<AnyRegexOutput>? in
    guard let regex = try? Regex(pattern.0) else { return nil }
    return pattern.1 ? regex.ignoresCase() : regex
}
func time(_ body: () -> Int) -> Double {
    var best = Double.infinity
    for _ in 0..<3 {
        let start = DispatchTime.now().uptimeNanoseconds
        if body() == -1 { print("") }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return best
}
let pcreMs = time { var hits = 0; for v in values { for r in pcre where r.firstMatch(in: v, scratch: scratch) != nil { hits += 1 } }; return hits }
let swiftMs = time {
    var hits = 0
    for v in values {
        let text = String(decoding: v, as: UTF8.self)
        for r in swiftRegexes where (try? r.firstMatch(in: text)) != nil { hits += 1 }
    }
    return hits
}
print(String(format: "regex engines, %d patterns x %d targets: PCRE2 JIT %.1f ms, Swift Regex %.1f ms (%d patterns compiled) → Swift Regex %.1fx slower",
             pcre.count, values.count, pcreMs, swiftMs, swiftRegexes.count, swiftMs / pcreMs))

// ML classification, one URL at a time (target ≤ 5 µs per URL) and model load time.
import Classifier
let modelPath = root.appendingPathComponent("Dataset/diffai-model.bin").path
let loadStart = DispatchTime.now().uptimeNanoseconds
let model = try ModelFile.load(path: modelPath)
let loadMs = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
let urls = (benign + attacks).map { Array($0.utf8) }
var bestPerURL = Double.infinity
var checksum: Float = 0
for _ in 0..<5 {
    let start = DispatchTime.now().uptimeNanoseconds
    var scored = 0
    while DispatchTime.now().uptimeNanoseconds - start < 300_000_000 {
        for url in urls { checksum += model.score(target: url); scored += 1 }
    }
    bestPerURL = min(bestPerURL, Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(scored))
}
print(String(format: "ML model: load %.1f ms; classification %.2f µs per URL (target ≤ 5 µs) → %@", loadMs, bestPerURL,
             bestPerURL <= 5 ? "met" : "NOT met") + (checksum < 0 ? "" : ""))

// What the inline proxy spends per request before forwarding: every default rule and the
// model, on a plain benign request (the one bench/proxy.sh sends) and on the mixed set above.
let proxyRequest = HTTPRequest.synthesize(method: "GET", target: Array("/index.html?q=running+shoes&page=2".utf8),
                                          headers: [("Host", "127.0.0.1:18582"), ("Accept", "*/*")], body: [])!
let defaultRules = try RuleSet(rules: defaults)
let detector = ModelDetector(model: model)
func perCall(_ body: () -> Int) -> Double {
    var best = Double.infinity
    var sink = 0
    for _ in 0..<5 {
        var calls = 0
        let start = DispatchTime.now().uptimeNanoseconds
        while DispatchTime.now().uptimeNanoseconds - start < 300_000_000 {
            for _ in 0..<100 { sink &+= body() }
            calls += 100
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(calls))
    }
    if sink == -1 { print(sink) }
    return best
}
let proxyScratch = DetectionScratch()
let rulesOnly = perCall { defaultRules.evaluate(proxyRequest, scratch: proxyScratch).count }
let modelOnly = perCall { detector.score(proxyRequest).score > 2 ? 1 : 0 }
var mixedIndex = 0
let mixed = perCall {
    mixedIndex = (mixedIndex + 1) % requests.count
    return defaultRules.evaluate(requests[mixedIndex], scratch: proxyScratch).count + (detector.score(requests[mixedIndex]).score > 2 ? 1 : 0)
}
print(String(format: "proxy request, %d default rules: rules %.2f µs + model %.2f µs; mixed requests (rules + model) %.2f µs",
             defaults.count, rulesOnly, modelOnly, mixed))
