import Foundation

/// Conversion of one group: how many decisions and how many of them converted.
public struct ConversionGroup: Sendable, Hashable, Codable {
    public var decisions: Int
    public var conversions: Int
    public var rate: Double { decisions == 0 ? 0 : Double(conversions) / Double(decisions) }

    public init(decisions: Int, conversions: Int) {
        self.decisions = decisions
        self.conversions = conversions
    }
}

/// Lift measured, not claimed: personalized conversion minus holdout conversion, with a 95% interval.
public enum Lift {
    /// z for a two-sided 95% interval.
    public static let z95 = 1.959963984540054

    /// The Wilson score interval of a proportion (good at small counts and rates near 0 or 1, where the
    /// normal approximation gives intervals outside [0, 1]).
    public static func wilson(_ group: ConversionGroup, z: Double = z95) -> (low: Double, high: Double) {
        guard group.decisions > 0 else { return (0, 1) }
        let n = Double(group.decisions), p = group.rate, z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        return (max(0, centre - half), min(1, centre + half))
    }

    /// The difference of two proportions (a − b) with Newcombe's hybrid score interval (method 10 of
    /// Newcombe 1998), built from the two Wilson intervals.
    public static func difference(_ a: ConversionGroup, _ b: ConversionGroup, z: Double = z95) -> (difference: Double, low: Double, high: Double) {
        let (p1, p2) = (a.rate, b.rate)
        let (l1, u1) = wilson(a, z: z), (l2, u2) = wilson(b, z: z)
        let d = p1 - p2
        let low = d - ((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2)).squareRoot()
        let high = d + ((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2)).squareRoot()
        return (d, max(-1, low), min(1, high))
    }
}
