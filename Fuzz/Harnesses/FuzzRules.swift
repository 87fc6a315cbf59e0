import Detection
import HTTP
import NetworkTypes

/// The rule file loader: any bytes either load (and then compile and evaluate against a few
/// requests, exclusions included) or fail with a message; never a trap.
nonisolated(unsafe) let fuzzRequests: [HTTPRequest] = [
    HTTPRequest.synthesize(target: Array("/search?q=1%27%20UNION%20SELECT%20a&b=<script>".utf8), headers: [("Host", "h"), ("User-Agent", "x")])!,
    HTTPRequest.synthesize(method: "POST", target: Array("/form".utf8), headers: [("Host", "h"), ("Content-Type", "application/json")],
                           body: Array(#"{"a":[1,{"b":"../../etc/passwd"}]}"#.utf8))!,
]
nonisolated(unsafe) let fuzzScratch = DetectionScratch()
/// Exclusions by network need a client address.
let fuzzClient = IPAddress("10.1.2.3")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let rules: [Rule]
    do {
        rules = try RuleFile.parse(bytes, fileName: "fuzz.json")
    } catch {
        precondition(error.description.hasPrefix("fuzz.json"), "errors name the file")
        return 0
    }
    guard let set = try? RuleSet(rules: rules) else { return 0 }
    for request in fuzzRequests { _ = set.evaluate(request, scratch: fuzzScratch, client: fuzzClient) }
    return 0
}
