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
    /// Hex SHA-256 over the lines `subject_id seq head_hex\n` of every chain, in subject id order.
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

    /// The exact bytes that are signed: `candor-checkpoint-v1|id|created_at|up_to_entry|chains|entries|root`.
    public static func signedBytes(id: String, createdAt: String, upToEntry: Int64, chainCount: Int64, entryCount: Int64, root: String) -> Data {
        Data("candor-checkpoint-v1|\(id)|\(createdAt)|\(upToEntry)|\(chainCount)|\(entryCount)|\(root)".utf8)
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

/// Streams chain heads into a checkpoint root.
public struct CheckpointRootBuilder: Sendable {
    private var hasher = SHA256()
    public private(set) var chainCount: Int64 = 0
    public private(set) var entryCount: Int64 = 0

    public init() {}

    /// Adds one chain's head; chains must come in ascending subject id order.
    public mutating func add(subjectId: String, seq: Int64, head: [UInt8]) {
        hasher.update(data: Data("\(subjectId) \(seq) \(Digest.hex(head))\n".utf8))
        chainCount += 1
        entryCount += seq
    }

    /// The hex root.
    public func finish() -> String { Digest.hex(hasher.finalize()) }

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
