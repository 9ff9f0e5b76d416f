import Crypto
import Foundation

/// One link of a subject's hash chain. The payload is ciphertext under the subject's key, so the chain
/// can be verified by anyone while only the key holder can read it.
public struct LedgerEntry: Sendable, Hashable {
    public var id: Int64
    public var subjectId: String
    public var seq: Int64
    public var kind: String
    public var createdAt: Int64
    public var prevHash: [UInt8]
    public var payload: [UInt8]
    public var hash: [UInt8]

    public init(id: Int64, subjectId: String, seq: Int64, kind: String, createdAt: Int64, prevHash: [UInt8], payload: [UInt8], hash: [UInt8]) {
        self.id = id
        self.subjectId = subjectId
        self.seq = seq
        self.kind = kind
        self.createdAt = createdAt
        self.prevHash = prevHash
        self.payload = payload
        self.hash = hash
    }
}

/// The hashing rules of the ledger, shared by writers and verifiers (and documented for the offline verifier).
public enum LedgerHash {
    /// The previous hash of a chain's first entry: 32 zero bytes.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// `SHA-256(prev_hash ‖ u64be(seq) ‖ u64be(created_at) ‖ len‖subject_id ‖ len‖kind ‖ len‖payload)`,
    /// lengths as 4-byte big-endian, so no two different entries hash the same bytes.
    public static func entryHash(subjectId: String, seq: Int64, kind: String, createdAt: Int64, prevHash: [UInt8], payload: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: prevHash)
        hasher.update(data: bigEndian(UInt64(bitPattern: seq)))
        hasher.update(data: bigEndian(UInt64(bitPattern: createdAt)))
        for part in [Array(subjectId.utf8), Array(kind.utf8), payload] {
            hasher.update(data: bigEndian(UInt32(part.count)))
            hasher.update(data: part)
        }
        return Array(hasher.finalize())
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

/// Why a chain does not verify.
public struct LedgerBreak: Sendable, Hashable, Codable {
    public var subjectId: String
    public var seq: Int64
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case subjectId = "subject_id"
        case seq, reason
    }

    public init(subjectId: String, seq: Int64, reason: String) {
        self.subjectId = subjectId
        self.seq = seq
        self.reason = reason
    }
}

/// Walks one subject's chain in order and reports the first broken link.
public struct ChainWalker: Sendable {
    public let subjectId: String
    public private(set) var expectedSeq: Int64 = 1
    public private(set) var head: [UInt8] = LedgerHash.genesis
    public private(set) var broken: LedgerBreak?

    public init(subjectId: String) { self.subjectId = subjectId }

    /// Feeds the next entry (by ascending seq). Returns false once the chain is broken.
    @discardableResult
    public mutating func feed(_ entry: LedgerEntry) -> Bool {
        guard broken == nil else { return false }
        if entry.seq != expectedSeq {
            broken = LedgerBreak(subjectId: subjectId, seq: expectedSeq, reason: "entry \(expectedSeq) is missing (found \(entry.seq))")
            return false
        }
        if entry.prevHash != head {
            broken = LedgerBreak(subjectId: subjectId, seq: entry.seq, reason: "previous hash does not match entry \(entry.seq - 1)")
            return false
        }
        let recomputed = LedgerHash.entryHash(
            subjectId: entry.subjectId, seq: entry.seq, kind: entry.kind, createdAt: entry.createdAt,
            prevHash: entry.prevHash, payload: entry.payload)
        if recomputed != entry.hash {
            broken = LedgerBreak(subjectId: subjectId, seq: entry.seq, reason: "content does not match its hash")
            return false
        }
        head = entry.hash
        expectedSeq += 1
        return true
    }
}

/// The signed statement of every chain's head at one moment. Anyone with the public key can check
/// that no chain was rewritten or shortened before that moment.
public struct Checkpoint: Codable, Sendable, Hashable {
    public var id: String
    public var createdAt: String
    /// The highest ledger entry id the checkpoint covers.
    public var upToEntry: Int64
    public var chainCount: Int64
    public var entryCount: Int64
    /// Hex Merkle root over the lines `subject_id seq head_hex` of every chain, in subject id order
    /// (see `CheckpointRootBuilder` and docs/ledger.md).
    public var root: String
    /// Hex Ed25519 public key.
    public var publicKey: String
    /// Hex Ed25519 signature over `signedBytes`.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case id, root, signature
        case createdAt = "created_at"
        case upToEntry = "up_to_entry"
        case chainCount = "chain_count"
        case entryCount = "entry_count"
        case publicKey = "public_key"
    }

    /// The exact bytes that are signed: `candor-checkpoint-v2|id|created_at|up_to_entry|chains|entries|root`.
    /// (v2: the root is a Merkle root; v1 roots were one hash over all lines.)
    public static func signedBytes(id: String, createdAt: String, upToEntry: Int64, chainCount: Int64, entryCount: Int64, root: String) -> Data {
        Data("candor-checkpoint-v2|\(id)|\(createdAt)|\(upToEntry)|\(chainCount)|\(entryCount)|\(root)".utf8)
    }

    /// Whether the signature is valid for the content.
    public func hasValidSignature() -> Bool {
        guard let keyBytes = Digest.bytes(hex: publicKey), let sig = Digest.bytes(hex: signature),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes)
        else { return false }
        let bytes = Self.signedBytes(id: id, createdAt: createdAt, upToEntry: upToEntry, chainCount: chainCount, entryCount: entryCount, root: root)
        return key.isValidSignature(sig, for: bytes)
    }
}

/// Streams chain heads into a checkpoint root: a binary SHA-256 Merkle tree over the lines
/// `subject_id seq head_hex` (no newline) in subject id order, so that one chain's inclusion can be proven
/// with log2(n) hashes instead of every other chain. Leaves are `SHA-256(0x00 ‖ line)`, inner nodes
/// `SHA-256(0x01 ‖ left ‖ right)` (the prefixes keep a leaf from passing for a node); a level's odd last node
/// is promoted unchanged. The root of no chains is SHA-256 of nothing. Only the 32-byte leaf hashes are kept
/// (32 MB for a million chains), never the lines.
public struct CheckpointRootBuilder: Sendable {
    /// The leaf hashes, 32 bytes each, back to back.
    private var leaves: [UInt8] = []
    public private(set) var chainCount: Int64 = 0
    public private(set) var entryCount: Int64 = 0

    public init() {}

    /// The line a chain contributes.
    public static func line(subjectId: String, seq: Int64, head: [UInt8]) -> String { "\(subjectId) \(seq) \(Digest.hex(head))" }

    /// `SHA-256(0x00 ‖ line)`.
    public static func leafHash(_ line: String) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: Array(line.utf8))
        return Array(hasher.finalize())
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public static func nodeHash(_ left: some Collection<UInt8>, _ right: some Collection<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: Array(left))
        hasher.update(data: Array(right))
        return Array(hasher.finalize())
    }

    /// Adds one chain's head; chains must come in ascending subject id order.
    public mutating func add(subjectId: String, seq: Int64, head: [UInt8]) {
        leaves.append(contentsOf: Self.leafHash(Self.line(subjectId: subjectId, seq: seq, head: head)))
        chainCount += 1
        entryCount += seq
    }

    /// The hex root.
    public func finish() -> String { Digest.hex(Self.root(of: leaves)) }

    /// The inclusion proof of the leaf at `index` (its position among the added chains), or nil when out of range.
    public func proof(at index: Int) -> MerkleProof? {
        guard index >= 0, Int64(index) < chainCount else { return nil }
        var level = leaves
        var position = index
        var steps = [MerkleProof.Step]()
        while level.count > 32 {
            let count = level.count / 32
            let sibling = position ^ 1
            if sibling < count {
                steps.append(MerkleProof.Step(side: sibling < position ? .left : .right, hash: Digest.hex(Array(level[(sibling * 32)..<(sibling * 32 + 32)]))))
            }
            level = Self.nextLevel(level)
            position /= 2
        }
        return MerkleProof(leafIndex: Int64(index), treeSize: chainCount, path: steps)
    }

    /// The root of a flat buffer of leaf hashes.
    static func root(of leaves: [UInt8]) -> [UInt8] {
        if leaves.isEmpty { return Array(SHA256.hash(data: [UInt8]())) }
        var level = leaves
        while level.count > 32 { level = nextLevel(level) }
        return level
    }

    /// Pairs up a level's nodes; an odd last node moves up as it is.
    static func nextLevel(_ level: [UInt8]) -> [UInt8] {
        let count = level.count / 32
        var next = [UInt8]()
        next.reserveCapacity(((count + 1) / 2) * 32)
        var i = 0
        while i + 1 < count {
            next.append(contentsOf: nodeHash(level[(i * 32)..<(i * 32 + 32)], level[((i + 1) * 32)..<((i + 1) * 32 + 32)]))
            i += 2
        }
        if i < count { next.append(contentsOf: level[(i * 32)..<(i * 32 + 32)]) }
        return next
    }

    /// Signs a root into a checkpoint.
    public func sign(id: String, createdAt: String, upToEntry: Int64, with key: Curve25519.Signing.PrivateKey) throws -> Checkpoint {
        let root = finish()
        let bytes = Checkpoint.signedBytes(id: id, createdAt: createdAt, upToEntry: upToEntry, chainCount: chainCount, entryCount: entryCount, root: root)
        let signature = try key.signature(for: bytes)
        return Checkpoint(
            id: id, createdAt: createdAt, upToEntry: upToEntry, chainCount: chainCount, entryCount: entryCount, root: root,
            publicKey: Digest.hex(key.publicKey.rawRepresentation), signature: Digest.hex(signature))
    }
}

/// The path from one chain's leaf to a checkpoint root: the sibling hashes, bottom up. Levels where the
/// node was promoted (no sibling) have no step.
public struct MerkleProof: Codable, Sendable, Hashable {
    /// Which side the sibling is on.
    public enum Side: String, Codable, Sendable {
        case left, right
    }

    /// One sibling on the way up.
    public struct Step: Codable, Sendable, Hashable {
        public var side: Side
        /// Hex SHA-256.
        public var hash: String
    }

    public var leafIndex: Int64
    public var treeSize: Int64
    public var path: [Step]

    enum CodingKeys: String, CodingKey {
        case path
        case leafIndex = "leaf_index"
        case treeSize = "tree_size"
    }

    /// Recomputes the root from a chain's line; equal to the checkpoint's root when the chain is included.
    public func root(forLine line: String) -> String? {
        var node = CheckpointRootBuilder.leafHash(line)
        for step in path {
            guard let sibling = Digest.bytes(hex: step.hash), sibling.count == 32 else { return nil }
            node = step.side == .left ? CheckpointRootBuilder.nodeHash(sibling, node) : CheckpointRootBuilder.nodeHash(node, sibling)
        }
        return Digest.hex(node)
    }
}
