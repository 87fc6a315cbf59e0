extension ClassificationMetrics: Encodable {
    enum CodingKeys: String, CodingKey {
        case accuracy, precision, recall, f1
        case falsePositiveRate = "false_positive_rate"
        case confusion
    }

    enum ConfusionKeys: String, CodingKey {
        case trueNegatives = "true_negatives", falsePositives = "false_positives"
        case falseNegatives = "false_negatives", truePositives = "true_positives"
    }

    /// The one JSON form of a model's metrics, for the console's training jobs and
    /// `diffai evaluate --json` alike: the ratios to five decimals, and the confusion counts.
    /// It adds its members to the encoder's object, so a caller may put more beside them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.rounded(accuracy), forKey: .accuracy)
        try container.encode(Self.rounded(precision), forKey: .precision)
        try container.encode(Self.rounded(recall), forKey: .recall)
        try container.encode(Self.rounded(f1), forKey: .f1)
        try container.encode(Self.rounded(falsePositiveRate), forKey: .falsePositiveRate)
        var confusion = container.nestedContainer(keyedBy: ConfusionKeys.self, forKey: .confusion)
        try confusion.encode(trueNegatives, forKey: .trueNegatives)
        try confusion.encode(falsePositives, forKey: .falsePositives)
        try confusion.encode(falseNegatives, forKey: .falseNegatives)
        try confusion.encode(truePositives, forKey: .truePositives)
    }

    /// To `places` decimals: the nearest double prints as exactly that many digits at most.
    public static func rounded(_ value: Double, places: Int = 5) -> Double {
        guard value.isFinite else { return 0 }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (value * scale).rounded() / scale
    }
}
