import Foundation

/// What an offer has earned so far: how often it was shown and how often that led to the reward.
public struct ArmRecord: Sendable, Hashable {
    public var trials: Int
    public var successes: Int

    public init(trials: Int, successes: Int) {
        self.trials = trials
        self.successes = min(successes, trials)
    }
}

/// Thompson sampling over Bernoulli arms: each arm's conversion rate has a Beta(1 + successes,
/// 1 + failures) posterior; one draw per arm ranks them. An arm with little evidence draws widely and
/// so still gets shown now and then (exploration), while an arm that converts well wins most draws
/// (exploitation) — without a tuning knob.
public enum ThompsonSampling {
    /// Orders `arms` by one posterior draw each, best first. Ties keep the given order.
    public static func rank<ID, R: RandomNumberGenerator>(_ arms: [(id: ID, record: ArmRecord)], using rng: inout R) -> [ID] {
        let draws = arms.enumerated().map { index, arm in
            (index: index, id: arm.id, draw: beta(alpha: 1 + Double(arm.record.successes), beta: 1 + Double(arm.record.trials - arm.record.successes), using: &rng))
        }
        return draws.sorted { ($0.draw, -$0.index) > ($1.draw, -$1.index) }.map(\.id)
    }

    /// A draw from Beta(α, β) as X / (X + Y) with X ~ Gamma(α), Y ~ Gamma(β).
    public static func beta<R: RandomNumberGenerator>(alpha: Double, beta: Double, using rng: inout R) -> Double {
        let x = gamma(shape: alpha, using: &rng), y = gamma(shape: beta, using: &rng)
        return x + y == 0 ? 0.5 : x / (x + y)
    }

    /// A draw from Gamma(shape, 1) by Marsaglia and Tsang's method (2000); shapes below 1 are boosted
    /// with the usual U^(1/shape) step. Every shape here is at least 1.
    public static func gamma<R: RandomNumberGenerator>(shape: Double, using rng: inout R) -> Double {
        if shape < 1 {
            let u = Double.random(in: Double.ulpOfOne..<1, using: &rng)
            return gamma(shape: shape + 1, using: &rng) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = normal(using: &rng)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = Double.random(in: Double.ulpOfOne..<1, using: &rng)
            if u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// A standard normal draw (Box–Muller).
    static func normal<R: RandomNumberGenerator>(using rng: inout R) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// A small, fast, seedable generator (SplitMix64): synthetic data and property tests are the same on
/// every run, and a failing sequence can be replayed from its seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with the given probability.
    public mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
}
