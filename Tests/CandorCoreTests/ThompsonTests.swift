import CandorCore
import Testing

/// Thompson sampling for offer ranking (issue 5, optional learning).
@Suite struct ThompsonTests {
    @Test func betaDrawsHaveTheRightMeanAndStayInsideZeroOne() {
        var rng = SeededRandom(seed: 7)
        for (alpha, beta) in [(1.0, 1.0), (2.0, 8.0), (30.0, 10.0), (0.5, 0.5)] {
            let draws = (0..<20_000).map { _ in ThompsonSampling.beta(alpha: alpha, beta: beta, using: &rng) }
            #expect(draws.allSatisfy { (0...1).contains($0) })
            let mean = draws.reduce(0, +) / Double(draws.count)
            #expect(abs(mean - alpha / (alpha + beta)) < 0.01, "Beta(\(alpha), \(beta)) mean \(mean)")
        }
    }

    @Test func anArmThatConvertsWinsMostDrawsButAnArmWithLittleEvidenceIsStillExplored() {
        var rng = SeededRandom(seed: 42)
        let arms = [
            (id: "weak", record: ArmRecord(trials: 200, successes: 4)),
            (id: "strong", record: ArmRecord(trials: 200, successes: 40)),
            (id: "new", record: ArmRecord(trials: 20, successes: 1)),
        ]
        // (An arm with no evidence at all would win about 80% of draws against a 20% arm: Beta(1, 1) is uniform.)
        var firsts = [String: Int]()
        for _ in 0..<2_000 { firsts[ThompsonSampling.rank(arms, using: &rng)[0], default: 0] += 1 }
        #expect(firsts["strong", default: 0] > 1_500, "\(firsts)")
        #expect(firsts["new", default: 0] > 30, "an arm with little evidence is tried now and then: \(firsts)")
        #expect(firsts["weak", default: 0] < 20, "\(firsts)")
    }

    @Test func rankingReturnsEveryArmOnce() {
        var rng = SeededRandom(seed: 1)
        let arms = (0..<6).map { (id: $0, record: ArmRecord(trials: 10, successes: $0)) }
        #expect(Set(ThompsonSampling.rank(arms, using: &rng)) == Set(0..<6))
        #expect(ThompsonSampling.rank([(id: 1, record: ArmRecord(trials: 0, successes: 0))], using: &rng) == [1])
    }

    @Test func seededGeneratorsRepeat() {
        var a = SeededRandom(seed: 3), b = SeededRandom(seed: 3)
        #expect((0..<5).map { _ in a.next() } == (0..<5).map { _ in b.next() })
    }
}
