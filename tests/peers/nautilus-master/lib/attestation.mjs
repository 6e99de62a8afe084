// Builds AWS-Nitro-shaped attestation documents (COSE_Sign1, ES384) signed by the test "Nitro"
// chain from make-pki.sh. Shapes follow real NSM documents (see shared/testdata/attestation):
// untagged 4-array, protected header bstr({1: -35}), empty unprotected map, payload bstr of a map
// with text keys in NSM order, uint64 timestamp, pcrs map uint -> 48-byte bstr for 0..15.
// Owns: document bytes only. Never decides what goes into a document (the server does).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Encoder, Tag } from 'cbor-x';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false, variableMapSize: true });
export const encodeCbor = (v) => Buffer.from(cbor.encode(v));

const PROTECTED_ES384 = encodeCbor(new Map([[1, -35]]));

function pemToDer(pem) {
  return Buffer.from(new crypto.X509Certificate(pem).raw);
}

export function loadNitroChain(pkiDir) {
  const read = (f) => fs.readFileSync(path.join(pkiDir, f));
  return {
    rootDer: pemToDer(read('nitro-root.pem')),
    interDer: pemToDer(read('nitro-inter.pem')),
    leafDer: pemToDer(read('nitro-leaf.pem')),
    leafKey: crypto.createPrivateKey(read('nitro-leaf.key')),
  };
}

/** Sig_structure for COSE_Sign1 (RFC 9052 section 4.4) with empty external_aad. */
export function sigStructure(protectedBytes, payloadBytes) {
  return encodeCbor(['Signature1', protectedBytes, Buffer.alloc(0), payloadBytes]);
}

/**
 * @param chain        from loadNitroChain
 * @param moduleId     text
 * @param pcrs         Map index -> 48-byte Buffer (indexes 0..15)
 * @param publicKey    Buffer or null
 * @param nonce        Buffer or null
 * @param userData     Buffer or null
 * @param timestampMs  number
 * @param tag18        wrap in CBOR tag 18 (COSE_Sign1 tag); real NSM documents are untagged
 * @param flipSignatureBit  corrupt the signature (test fault)
 */
export function buildAttestationDocument({ chain, moduleId, pcrs, publicKey, nonce, userData = null,
  timestampMs, tag18 = false, flipSignatureBit = false }) {
  const payload = new Map([
    ['module_id', moduleId],
    ['digest', 'SHA384'],
    ['timestamp', BigInt(timestampMs)],
    ['pcrs', pcrs],
    ['certificate', chain.leafDer],
    ['cabundle', [chain.rootDer, chain.interDer]],
    ['public_key', publicKey ?? null],
    ['user_data', userData ?? null],
    ['nonce', nonce ?? null],
  ]);
  const payloadBytes = encodeCbor(payload);
  const signature = crypto.sign('sha384', sigStructure(PROTECTED_ES384, payloadBytes),
    { key: chain.leafKey, dsaEncoding: 'ieee-p1363' });
  if (flipSignatureBit) signature[signature.length - 1] ^= 0x01;
  const sign1 = [PROTECTED_ES384, new Map(), payloadBytes, signature];
  return encodeCbor(tag18 ? new Tag(sign1, 18) : sign1);
}
