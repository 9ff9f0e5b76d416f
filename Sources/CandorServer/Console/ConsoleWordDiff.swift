import Foundation

/// A word-level difference between two texts, for showing what a new notice version changed.
///
/// The longest common subsequence of the two word lists is kept; every other word of the old text is
/// removed and every other word of the new text added. Runs of the same kind are merged, so the
/// result reads as phrases. Words are split on white space and compared exactly (case and punctuation count:
/// in a notice, "may" → "may not" and "data." → "data," are real changes).
public enum WordDiff {
    /// One run of words.
    public enum Change: Equatable, Sendable {
        case same(String)
        case added(String)
        case removed(String)
    }

    /// The longest texts diffed word by word: beyond this many word pairs (about 2,000 × 2,000 words) the
    /// old text is shown removed and the new one added, instead of spending seconds and megabytes on a table.
    /// (A notice is at most 4,000 characters, well under it.)
    public static let maximumCells = 4_000_000

    /// The changes that turn `old` into `new`.
    public static func diff(_ old: String, _ new: String) -> [Change] {
        let a = words(old)
        let b = words(new)
        // Common head and tail are kept without entering them into the table.
        var head = 0
        while head < a.count, head < b.count, a[head] == b[head] { head += 1 }
        var tail = 0
        while tail < a.count - head, tail < b.count - head, a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
        let oldMiddle = Array(a[head..<(a.count - tail)])
        let newMiddle = Array(b[head..<(b.count - tail)])

        var steps: [(kind: Int, word: String)] = a[0..<head].map { (0, $0) }
        if oldMiddle.count * newMiddle.count > maximumCells {
            steps += oldMiddle.map { (-1, $0) } + newMiddle.map { (1, $0) }
        } else {
            steps += middle(oldMiddle, newMiddle)
        }
        steps += a[(a.count - tail)...].map { (0, $0) }
        return merge(steps)
    }

    /// The words of a text, split on white space.
    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0.isWhitespace || $0.isNewline }).map(String.init)
    }

    /// LCS by dynamic programming over the suffixes, then one walk from the start: removals before
    /// additions where both are possible, so a replaced word reads "old → new".
    static func middle(_ a: [String], _ b: [String]) -> [(kind: Int, word: String)] {
        let n = a.count, m = b.count
        guard n > 0 else { return b.map { (1, $0) } }
        guard m > 0 else { return a.map { (-1, $0) } }
        // lengths[i * (m + 1) + j] = LCS length of a[i...] and b[j...]
        var lengths = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lengths[i * (m + 1) + j] = a[i] == b[j]
                    ? lengths[(i + 1) * (m + 1) + j + 1] + 1
                    : max(lengths[(i + 1) * (m + 1) + j], lengths[i * (m + 1) + j + 1])
            }
        }
        var steps = [(kind: Int, word: String)]()
        var i = 0, j = 0
        while i < n && j < m {
            if a[i] == b[j] {
                steps.append((0, a[i])); i += 1; j += 1
            } else if lengths[(i + 1) * (m + 1) + j] >= lengths[i * (m + 1) + j + 1] {
                steps.append((-1, a[i])); i += 1
            } else {
                steps.append((1, b[j])); j += 1
            }
        }
        steps += a[i...].map { (-1, $0) } + b[j...].map { (1, $0) }
        return steps
    }

    /// Joins neighbouring words of the same kind into one run. Within a changed stretch the removed words
    /// come first and the added after them, so "a b" → "c d" reads as one deletion then one insertion.
    static func merge(_ steps: [(kind: Int, word: String)]) -> [Change] {
        var changes = [Change]()
        var index = 0
        while index < steps.count {
            if steps[index].kind == 0 {
                var run = [String]()
                while index < steps.count, steps[index].kind == 0 { run.append(steps[index].word); index += 1 }
                changes.append(.same(run.joined(separator: " ")))
            } else {
                var removed = [String](), added = [String]()
                while index < steps.count, steps[index].kind != 0 {
                    if steps[index].kind < 0 { removed.append(steps[index].word) } else { added.append(steps[index].word) }
                    index += 1
                }
                if !removed.isEmpty { changes.append(.removed(removed.joined(separator: " "))) }
                if !added.isEmpty { changes.append(.added(added.joined(separator: " "))) }
            }
        }
        return changes
    }

    /// The changes as HTML: unchanged words as text, removed words in `<del>` and added ones in `<ins>`,
    /// each led by a visually hidden label (`removedLabel`, `addedLabel`) so a screen reader, which does not
    /// announce the elements themselves, says what changed. Every word is escaped.
    public static func html(_ changes: [Change], addedLabel: String, removedLabel: String) -> String {
        changes.map { change in
            switch change {
            case .same(let text): return escape(text)
            case .removed(let text): return "<del><span class=\"visually-hidden\">\(escape(removedLabel)): </span>\(escape(text))</del>"
            case .added(let text): return "<ins><span class=\"visually-hidden\">\(escape(addedLabel)): </span>\(escape(text))</ins>"
            }
        }.joined(separator: " ")
    }

    /// Whether anything changed.
    public static func isUnchanged(_ changes: [Change]) -> Bool {
        changes.allSatisfy { if case .same = $0 { return true } else { return false } }
    }

    static func escape(_ text: String) -> String { SVGChart.escape(text) }
}
