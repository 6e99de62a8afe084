#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/.

Run once when a format changes (needs python3-cryptography); the files are committed, so the
fuzz runs need nothing but the repository. Keys are fixed test seeds (01.., 02.., 03.. repeated),
never real ones. Sui vectors come from ../shared/testdata/sui/vectors.json when present.
"""
import base64
import hashlib
import json
import os
import struct
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")
SHARED = os.path.join(ROOT, "..", "..", "..", "shared", "testdata")


def put(target, name, content):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())


def blake2b256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def uleb(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def bcs_bytes(b):
    return uleb(len(b)) + b


CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32(hrp, data):
    acc, bits, five = 0, 0, []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            five.append((acc >> bits) & 31)
    if bits:
        five.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = polymod(expanded + five + [0] * 6) ^ 1
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in five + checksum)


class Key:
    def __init__(self, seed):
        self.seed = seed
        self.sk = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        self.pk = self.sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.address = blake2b256(b"\0" + self.pk)

    def personal(self, message):
        digest = blake2b256(bytes([3, 0, 0]) + bcs_bytes(message))
        return b"\0" + self.sk.sign(digest) + self.pk


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    k1, k2, k3 = Key(b"\1" * 32), Key(b"\2" * 32), Key(b"\3" * 32)
    shared_sui = os.path.join(SHARED, "sui", "vectors.json")
    vectors = json.load(open(shared_sui)) if os.path.exists(shared_sui) else None

    # ---- suiprivkey_fuzz
    t = "suiprivkey_fuzz"
    put(t, "suiprivkey", bech32("suiprivkey", b"\0" + k1.seed))
    put(t, "suiprivkey-upper", bech32("suiprivkey", b"\0" + k2.seed).upper())
    put(t, "suiprivkey-secp256k1", bech32("suiprivkey", b"\1" + k1.seed))
    put(t, "bech32-other-hrp", bech32("bc", bytes(range(20))))
    put(t, "keystore-entry", base64.b64encode(b"\0" + k1.seed))
    put(t, "address-short", "0x2")
    put(t, "address", "0x" + k1.address.hex())
    put(t, "signature-b64", base64.b64encode(k1.personal(b"hello")))
    put(t, "signature-raw", k1.personal(b"hello"))

    # ---- keystore_fuzz (the loaders look for k1)
    t = "keystore_fuzz"
    entries = [base64.b64encode(b"\0" + k.seed).decode() for k in (k1, k2)]
    put(t, "keystore", json.dumps(entries))
    put(t, "keystore-other-first", json.dumps([entries[1], base64.b64encode(b"\1" + k2.seed).decode(), entries[0]]))
    put(t, "keystore-malformed", json.dumps([1, "AA==", None, entries[1]]))
    put(t, "key-file", bech32("suiprivkey", b"\0" + k1.seed) + "\n")
    put(t, "key-file-two-lines", bech32("suiprivkey", b"\0" + k1.seed) + "\n" + bech32("suiprivkey", b"\0" + k2.seed))

    # ---- pem_fuzz
    t = "pem_fuzz"
    root = os.path.join(SHARED, "attestation", "aws-nitro-enclaves-root-G1.pem")
    if os.path.exists(root):
        put(t, "aws-root.pem", open(root, "rb").read())
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    import datetime
    ca_key = ec.derive_private_key(7, ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k3s-daas fuzz root")])
    t0 = datetime.datetime(2026, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
            .serial_number(7).not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA384()))
    put(t, "ec-root.pem", cert.public_bytes(serialization.Encoding.PEM))
    put(t, "ec-root.der", cert.public_bytes(serialization.Encoding.DER))
    put(t, "pcr0", "0=" + "ab" * 48)
    put(t, "pcr31", "31=" + "00" * 32)

    # ---- seal_token_fuzz (verified at 1767225600000 + 60 s; staker k2)
    t = "seal_token_fuzz"
    def payload(node_id, staker, issued, expires, audience=b"", nonce=b"\x11" * 16, version=1):
        return (bytes([version]) + bcs_bytes(node_id.encode()) + staker + b"\x5a" * 32 + bcs_bytes(audience)
                + struct.pack("<QQ", issued, expires) + bcs_bytes(nonce))
    issued = 1767225600000
    good = payload("worker-1", k2.address, issued, issued + 3600_000, k3.pk)
    put(t, "payload.bcs", good)
    put(t, "payload-expired.bcs", payload("worker-1", k2.address, issued - 7200_000, issued - 3600_000))
    put(t, "payload-other-staker.bcs", payload("worker-2", k1.address, issued, issued + 3600_000))
    put(t, "token", "sealv1." + b64url(good) + "." + b64url(k2.personal(good)))
    put(t, "token-wrong-signer", "sealv1." + b64url(good) + "." + b64url(k1.personal(good)))

    # ---- master_ack_fuzz: the `data` objects of the three answers
    t = "master_ack_fuzz"
    put(t, "register", json.dumps({"node_id": "worker-1", "nonce": "00" * 32, "k3s_server_url": "https://10.0.0.1:6443",
                                   "join_token": "K10abc::server:def", "heartbeat_interval_ms": 30000,
                                   "token_expires_at_ms": "18446744073709551615"}))
    put(t, "heartbeat", json.dumps({"node_id": "worker-1", "seq": 1767225600001, "command": 2,
                                    "heartbeat_interval_ms": "30000"}))
    put(t, "deregister", json.dumps({"node_id": "worker-1"}))

    # ---- envelope_fuzz: whole answers (the target's key has no known secret)
    t = "envelope_fuzz"
    for intent, data in ((1, json.loads(open(os.path.join(CORPUS, "master_ack_fuzz", "register")).read())),
                         (2, {"node_id": "worker-1", "seq": 1, "command": 0, "heartbeat_interval_ms": 30000}),
                         (3, {"node_id": "worker-1"})):
        body = {"response": {"intent": intent, "timestamp_ms": issued, "data": data}, "signature": "ab" * 64}
        put(t, "intent-%d" % intent, json.dumps(body))

    # ---- attestation_fuzz: the text forms of a real document
    t = "attestation_fuzz"
    doc = os.path.join(SHARED, "attestation", "nautilus", "weather-example-attestation-2025-04-15T022523Z.cbor")
    if os.path.exists(doc):
        raw = open(doc, "rb").read()
        put(t, "weather.json", json.dumps({"attestation": raw.hex()}))
        put(t, "weather.b64", base64.b64encode(raw))

    # ---- sui_bcs_fuzz
    t = "sui_bcs_fuzz"
    if vectors:
        for i, tx in enumerate(vectors["transactions"][:4]):
            put(t, "tx-%d-%s.bcs" % (i, tx["kind"]), base64.b64decode(tx["tx_bytes_b64"]))
    put(t, "type-coin", "0x2::coin::Coin<0x2::sui::SUI>")
    put(t, "type-nested", "vector<0x1::option::Option<vector<u8>>>")
    put(t, "object-ref", "0x5 12 " + b58(b"\x07" * 32))
    put(t, "reader-primitives", bytes([0]) + struct.pack("<Q", 5) + bytes([1, 0x80, 1, 2, 3]) + b"abc"
        + bytes([3, 2]) + b"ok" + bytes([4]) + b"\x09" * 32 + bytes([5, 1, 6]) + b"\x01" * 16 + bytes([7]) + b"\0" * 4)

    # ---- state_files_fuzz
    t = "state_files_fuzz"
    tx = base64.b64decode(vectors["transactions"][0]["tx_bytes_b64"]) if vectors else b"\0\0\0\0"
    digest = b58(blake2b256(b"TransactionData::" + tx))
    entry = {"kind": "stake", "node_id": "worker-1", "digest": digest, "tx_bytes": base64.b64encode(tx).decode(),
             "signature": base64.b64encode(k1.personal(b"x")).decode(),
             "gas_payment": [{"object_id": "0x" + "07" * 32, "version": 100, "digest": b58(b"\x08" * 32)}],
             "signed_at_ms": issued, "submissions": 2}
    put(t, "sui-journal.json", json.dumps({"version": 1, "pending": entry}, indent=2))
    put(t, "sui-journal-empty.json", json.dumps({"version": 1, "pending": None}))
    put(t, "stake.json", json.dumps({"version": 1, "node_id": "worker-1", "stake_record_id": "0x" + "5a" * 32,
                                     "stake_digest": digest, "staker": "0x" + k1.address.hex(), "status": "ACTIVE"}))
    put(t, "slashed", json.dumps({"detected_at_ms": issued, "node_id": "worker-1", "stake_id": "0x" + "5a" * 32,
                                  "evidence": "SlashEvent in tx " + digest, "tx_digest": digest,
                                  "record_version": 42, "amount_left_mist": 0}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
