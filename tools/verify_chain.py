#!/usr/bin/env python3
"""Verify one person's Candor ledger proof offline.

Usage:
    verify_chain.py PROOF.json [--public-key HEX]

PROOF.json is the answer of GET /v1/subjects/{id}/proof. The script checks, without the server:

1. every entry's hash, recomputed exactly as CandorCore's LedgerHash.entryHash:
   SHA-256(prev_hash || u64be(seq) || u64be(created_at) || u32be(len) subject_id || u32be(len) kind
   || u32be(len) payload), the first prev_hash being 32 zero bytes;
2. the links: seq 1, 2, 3 … with each prev_hash equal to the previous entry's hash;
3. the checkpoint's Ed25519 signature over
   'candor-checkpoint-v2|id|created_at|up_to_entry|chain_count|entry_count|root', made by the expected key
   (--public-key, which you should get from the operator out of band; otherwise the proof's own key);
4. that the chain's head at the checkpoint (an entry of this chain) is in the signed Merkle root:
   leaf = SHA-256(0x00 || 'subject_id seq head_hex'), node = SHA-256(0x01 || left || right), along the
   inclusion path.

Exit status 0 when everything holds, 1 when anything does not (each failure is printed), 2 on bad input.
Needs Python 3.9+ and the `cryptography` package (tests/python/requirements.txt).
"""

import argparse
import base64
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = bytes(32)


def entry_hash(subject_id: str, seq: int, kind: str, created_at: int, prev_hash: bytes, payload: bytes) -> bytes:
    """LedgerHash.entryHash: lengths as 4-byte big-endian so no two different entries hash the same bytes."""
    h = hashlib.sha256()
    h.update(prev_hash)
    h.update(struct.pack(">Q", seq & 0xFFFFFFFFFFFFFFFF))
    h.update(struct.pack(">Q", created_at & 0xFFFFFFFFFFFFFFFF))
    for part in (subject_id.encode("utf-8"), kind.encode("utf-8"), payload):
        h.update(struct.pack(">I", len(part)))
        h.update(part)
    return h.digest()


def leaf_hash(line: str) -> bytes:
    return hashlib.sha256(b"\x00" + line.encode("utf-8")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def signed_bytes(cp: dict) -> bytes:
    return "candor-checkpoint-v2|{}|{}|{}|{}|{}|{}".format(
        cp["id"], cp["created_at"], cp["up_to_entry"], cp["chain_count"], cp["entry_count"], cp["root"]).encode("utf-8")


def verify(proof: dict, expected_key: str = None) -> list:
    """Returns the list of failures (empty when the proof holds)."""
    failures = []
    subject = proof["subject_id"]

    # 1 and 2: the chain itself.
    prev = GENESIS
    hashes = {}
    for index, entry in enumerate(proof["entries"]):
        seq = entry["seq"]
        if seq != index + 1:
            failures.append(f"entry {index + 1} is missing (found seq {seq})")
            break
        if bytes.fromhex(entry["prev_hash"]) != prev:
            failures.append(f"entry {seq}: previous hash does not match entry {seq - 1}")
        recomputed = entry_hash(subject, seq, entry["kind"], entry["created_at"], bytes.fromhex(entry["prev_hash"]),
                                base64.b64decode(entry["payload"]))
        if recomputed.hex() != entry["hash"]:
            failures.append(f"entry {seq}: content does not match its hash")
        prev = bytes.fromhex(entry["hash"])
        hashes[seq] = entry["hash"]

    # 3: the checkpoint signature, by the key the verifier trusts.
    cp = proof["checkpoint"]
    key_hex = expected_key or proof["public_key"]
    if cp["public_key"] != key_hex:
        failures.append("the checkpoint was signed by another key than the expected one")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(bytes.fromhex(cp["signature"]), signed_bytes(cp))
    except (InvalidSignature, ValueError):
        failures.append("the checkpoint signature is not valid")

    # 4: the head the checkpoint saw is an entry of this chain, and its line is in the signed root.
    covered = proof["covered"]
    if hashes.get(covered["seq"]) != covered["head"]:
        failures.append(f"the covered head (seq {covered['seq']}) is not an entry of this chain")
    line = f"{subject} {covered['seq']} {covered['head']}"
    if covered.get("line", line) != line:
        failures.append("the covered line does not match the chain's head")
    node = leaf_hash(line)
    for step in proof["inclusion"]["path"]:
        sibling = bytes.fromhex(step["hash"])
        node = node_hash(sibling, node) if step["side"] == "left" else node_hash(node, sibling)
    if node.hex() != cp["root"]:
        failures.append("the chain's head is not included in the checkpoint root")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Candor ledger proof offline.")
    parser.add_argument("proof", help="the JSON of GET /v1/subjects/{id}/proof")
    parser.add_argument("--public-key", help="the server's Ed25519 public key (hex), obtained out of band")
    args = parser.parse_args(argv)
    try:
        with open(args.proof, encoding="utf-8") as handle:
            proof = json.load(handle)
        failures = verify(proof, args.public_key)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"cannot read the proof: {error!r}", file=sys.stderr)
        return 2
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}")
        return 1
    after = len(proof["entries"]) - proof["covered"]["seq"]
    print(f"OK: {len(proof['entries'])} entries of {proof['subject_id']} verify; entry {proof['covered']['seq']} is in "
          f"checkpoint {proof['checkpoint']['id']} ({proof['checkpoint']['chain_count']} chains)"
          + (f"; {after} later entries are linked but not yet covered by a checkpoint" if after else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
