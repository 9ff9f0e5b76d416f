/// Subject ids ↔ dense ordinals, in three flat arrays: the ids' bytes end to end, where each ends,
/// and an open-addressing hash table of ordinals. A million ids take ~42 MB this way; an `[String]`
/// plus a `[String: Int]` took ~128 MB (a heap object per id, and the dictionary's slots), which was
/// the largest part of the segment index after the bitmaps were made compact.
///
/// Ordinals are never removed or reused (the index only clears an erased person's bits).
struct OrdinalTable: Sendable {
    private var bytes: [UInt8] = []
    private var ends: [UInt32] = []
    /// Ordinal + 1 per slot; 0 is empty. The capacity is a power of two, at most half full.
    private var slots: [Int32] = Array(repeating: 0, count: 1024)

    /// How many ids the table holds.
    var count: Int { ends.count }

    /// The ordinal of an id, if the table holds it.
    func ordinal(of id: String) -> Int? {
        var id = id
        return id.withUTF8 { utf8 in
            let mask = slots.count - 1
            var slot = Self.hash(utf8) & mask
            while slots[slot] != 0 {
                let o = Int(slots[slot]) - 1
                if equals(o, utf8) { return o }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    /// The ordinal of an id, adding it when new.
    mutating func insert(_ id: String) -> Int {
        if let existing = ordinal(of: id) { return existing }
        if (ends.count + 1) * 2 > slots.count { grow() }
        let o = ends.count
        var id = id
        id.withUTF8 { utf8 in
            bytes.append(contentsOf: utf8)
            place(o, hash: Self.hash(utf8))
        }
        ends.append(UInt32(bytes.count))
        return o
    }

    /// The id at an ordinal.
    func id(at o: Int) -> String {
        let start = o == 0 ? 0 : Int(ends[o - 1])
        return String(decoding: bytes[start..<Int(ends[o])], as: UTF8.self)
    }

    /// Bytes held (for the index's memory estimate).
    var estimatedBytes: Int { bytes.capacity + ends.capacity * 4 + slots.count * 4 }

    private func equals(_ o: Int, _ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = o == 0 ? 0 : Int(ends[o - 1])
        let end = Int(ends[o])
        guard end - start == utf8.count else { return false }
        return bytes.withUnsafeBufferPointer { stored in
            for index in 0..<utf8.count where stored[start + index] != utf8[index] { return false }
            return true
        }
    }

    private mutating func place(_ o: Int, hash: Int) {
        Self.place(o, hash: hash, in: &slots)
    }

    private static func place(_ o: Int, hash: Int, in slots: inout [Int32]) {
        let mask = slots.count - 1
        var slot = hash & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(o + 1)
    }

    private mutating func grow() {
        var larger = [Int32](repeating: 0, count: slots.count * 2)
        bytes.withUnsafeBufferPointer { all in
            for o in 0..<ends.count {
                let start = o == 0 ? 0 : Int(ends[o - 1])
                Self.place(o, hash: Self.hash(UnsafeBufferPointer(rebasing: all[start..<Int(ends[o])])), in: &larger)
            }
        }
        slots = larger
    }

    /// FNV-1a, 64 bits: ids share long prefixes (`sub_` and a time part), which it mixes well enough
    /// for linear probing at half load.
    private static func hash(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }
}
