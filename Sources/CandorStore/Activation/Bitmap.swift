/// A plain word bitmap over dense subject ordinals. At 1M people a bitmap is 16k words (122 KiB), and
/// and/or/and-not run at memory speed, which is what makes a count take microseconds to a millisecond.
/// (Roaring would save memory on sparse sets; the plain form is simpler and fast enough here.)
public struct Bitmap: Sendable, Hashable {
    public private(set) var words: [UInt64]

    public init(capacity: Int = 0) { words = Array(repeating: 0, count: (capacity + 63) / 64) }

    public mutating func insert(_ index: Int) {
        let word = index >> 6
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: max(word + 1 - words.count, words.count / 2 + 1))) }
        words[word] |= 1 << UInt64(index & 63)
    }

    public mutating func remove(_ index: Int) {
        let word = index >> 6
        guard word < words.count else { return }
        words[word] &= ~(1 << UInt64(index & 63))
    }

    public func contains(_ index: Int) -> Bool {
        let word = index >> 6
        return word < words.count && words[word] & (1 << UInt64(index & 63)) != 0
    }

    /// How many bits are set.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    public func intersection(_ other: Bitmap) -> Bitmap {
        var out = Bitmap()
        let n = min(words.count, other.words.count)
        out.words = (0..<n).map { words[$0] & other.words[$0] }
        return out
    }

    public func union(_ other: Bitmap) -> Bitmap {
        var out = Bitmap()
        let n = max(words.count, other.words.count)
        out.words = (0..<n).map { ($0 < words.count ? words[$0] : 0) | ($0 < other.words.count ? other.words[$0] : 0) }
        return out
    }

    public func subtracting(_ other: Bitmap) -> Bitmap {
        var out = self
        for i in 0..<min(words.count, other.words.count) { out.words[i] &= ~other.words[i] }
        return out
    }

    /// The set bits in ascending order.
    public var members: [Int] {
        var out = [Int]()
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                out.append(w << 6 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return out
    }
}
