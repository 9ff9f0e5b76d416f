/// A plain word bitmap over dense subject ordinals. At 1M people a bitmap is 16k words (122 KiB), and
/// and/or/and-not run at memory speed, which is what makes a count take microseconds to a millisecond.
/// (Roaring would save memory on sparse sets; the plain form is simpler and fast enough here.)
public struct Bitmap: Sendable, Hashable {
    /// Bit i of the set is bit i % 64 of word i / 64.
    public private(set) var words: [UInt64]

    /// An empty bitmap with room for `capacity` bits (it grows as needed).
    public init(capacity: Int = 0) { words = Array(repeating: 0, count: (capacity + 63) / 64) }

    /// Sets a bit, growing by half again when needed so appends stay amortized O(1).
    public mutating func insert(_ index: Int) {
        let word = index >> 6
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: max(word + 1 - words.count, words.count / 2 + 1))) }
        words[word] |= 1 << UInt64(index & 63)
    }

    /// Clears a bit.
    public mutating func remove(_ index: Int) {
        let word = index >> 6
        guard word < words.count else { return }
        words[word] &= ~(1 << UInt64(index & 63))
    }

    /// Whether a bit is set.
    public func contains(_ index: Int) -> Bool {
        let word = index >> 6
        return word < words.count && words[word] & (1 << UInt64(index & 63)) != 0
    }

    /// How many bits are set.
    public var count: Int {
        words.withUnsafeBufferPointer { buffer in
            var total = 0
            for word in buffer { total &+= word.nonzeroBitCount }
            return total
        }
    }

    /// Keeps only the bits also set in `other` (in place: counts over 1M people allocate nothing per step).
    public mutating func formIntersection(_ other: Bitmap) {
        if other.words.count < words.count { words.removeLast(words.count - other.words.count) }
        other.words.withUnsafeBufferPointer { theirs in
            words.withUnsafeMutableBufferPointer { mine in
                for i in 0..<mine.count { mine[i] &= theirs[i] }
            }
        }
    }

    /// Adds the bits set in `other`.
    public mutating func formUnion(_ other: Bitmap) {
        if other.words.count > words.count { words.append(contentsOf: repeatElement(0, count: other.words.count - words.count)) }
        other.words.withUnsafeBufferPointer { theirs in
            words.withUnsafeMutableBufferPointer { mine in
                for i in 0..<theirs.count { mine[i] |= theirs[i] }
            }
        }
    }

    /// Clears the bits set in `other`.
    public mutating func subtract(_ other: Bitmap) {
        let n = min(words.count, other.words.count)
        other.words.withUnsafeBufferPointer { theirs in
            words.withUnsafeMutableBufferPointer { mine in
                for i in 0..<n { mine[i] &= ~theirs[i] }
            }
        }
    }

    /// Bits set in both.
    public func intersection(_ other: Bitmap) -> Bitmap {
        var out = self
        out.formIntersection(other)
        return out
    }

    /// Bits set in either.
    public func union(_ other: Bitmap) -> Bitmap {
        var out = self
        out.formUnion(other)
        return out
    }

    /// Bits set here and not in `other`.
    public func subtracting(_ other: Bitmap) -> Bitmap {
        var out = self
        out.subtract(other)
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
