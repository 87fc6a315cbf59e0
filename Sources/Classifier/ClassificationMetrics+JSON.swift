import JSONOutput
import NetworkTypes

extension ClassificationMetrics {
    /// The one JSON form of a model's metrics, for the console's training jobs and
    /// `diffai evaluate --json` alike: the ratios to five decimals, and the confusion counts.
    /// Writes members into the object the caller has begun.
    public func writeMembers(into json: inout JSONWriter) {
        json.key("accuracy"); json.number(literal: accuracy.fixed(5))
        json.key("precision"); json.number(literal: precision.fixed(5))
        json.key("recall"); json.number(literal: recall.fixed(5))
        json.key("f1"); json.number(literal: f1.fixed(5))
        json.key("false_positive_rate"); json.number(literal: falsePositiveRate.fixed(5))
        json.key("confusion")
        json.beginObject()
        json.key("true_negatives"); json.number(trueNegatives)
        json.key("false_positives"); json.number(falsePositives)
        json.key("false_negatives"); json.number(falseNegatives)
        json.key("true_positives"); json.number(truePositives)
        json.endObject()
    }
}
