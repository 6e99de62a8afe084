// GET /get_attestation: the generated document has the shape of a real AWS Nitro document, its
// COSE signature verifies with the test leaf, its chain verifies to nitro-root, and it carries the
// nonce and the enclave key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  SHARED_DIR, admin, coseSignatureValid, makePki, parseDoc, removeDir, request, startServer, tlsAgent,
} from '../support/helpers.mjs';

const REAL_DOC = path.join(SHARED_DIR, 'testdata/attestation/nautilus/weather-example-attestation-2025-04-15T022523Z.cbor');

/** A structural description: map key names/types in order, value types, byte lengths where fixed. */
function shape(v, depth = 0) {
  if (v === null) return 'null';
  if (v instanceof Map) return `map{${[...v.entries()].map(([k, x]) => `${typeof k}:${typeof k === 'string' ? k : '#'}=${shape(x, depth + 1)}`).join(',')}}`;
  if (Array.isArray(v)) return `array[${v.map((x) => shape(x, depth + 1)).join(',')}]`;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'bigint') return 'uint';
  if (typeof v === 'number') return Number.isInteger(v) ? (v < 0 ? 'nint' : 'uint') : 'float';
  return typeof v;
}

let pki;
let srv;
let agent;
before(async () => {
  pki = makePki();
  srv = await startServer(pki);
  agent = tlsAgent(pki);
});
after(async () => {
  agent?.destroy();
  await srv?.stop();
  removeDir(pki);
});

async function getDoc(query = '') {
  const r = await request(`${srv.info.url}/get_attestation${query}`, { agent });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.attestation, /^[0-9a-f]+$/);
  return { bytes: Buffer.from(r.json.attestation, 'hex'), doc: parseDoc(Buffer.from(r.json.attestation, 'hex')) };
}

test('a generated document is shaped like a real AWS Nitro document', async (t) => {
  const nonce = crypto.randomBytes(32);
  const { bytes, doc } = await getDoc(`?nonce=${nonce.toString('hex')}`);
  assert.equal(bytes[0], 0x84, 'untagged 4-array, like NSM output');
  assert.equal(doc.tagged, false);
  assert.deepEqual([...doc.header.entries()], [[1, -35]], 'protected header {1: -35}');
  assert.equal(Buffer.from(doc.protectedBytes).toString('hex'), 'a1013822');
  assert.ok(doc.unprotected instanceof Map && doc.unprotected.size === 0);
  assert.equal(doc.signature.length, 96);

  const p = doc.payload;
  assert.deepEqual([...p.keys()], ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce']);
  assert.equal(p.get('digest'), 'SHA384');
  assert.match(p.get('module_id'), /^i-[0-9a-f]{17}-enc[0-9a-f]{16}$/);
  assert.equal(typeof p.get('timestamp'), 'bigint', 'timestamp is a CBOR uint64 like NSM');
  assert.ok(Math.abs(Number(p.get('timestamp')) - Date.now()) < 10_000);
  assert.deepEqual([...p.get('pcrs').keys()], [...Array(16).keys()]);
  for (const v of p.get('pcrs').values()) assert.equal(v.length, 48);
  for (const i of [0, 1, 2]) assert.equal(Buffer.from(p.get('pcrs').get(i)).toString('hex'), srv.info[`pcr${i}`]);
  assert.equal(Buffer.from(p.get('public_key')).toString('hex'), srv.info.enclave_public_key);
  assert.equal(p.get('user_data'), null);
  assert.ok(Buffer.from(p.get('nonce')).equals(nonce));

  if (fs.existsSync(REAL_DOC)) {
    const real = parseDoc(fs.readFileSync(REAL_DOC));
    const plain = (await getDoc()).doc; // the real document carries no nonce
    // the real document has four certificates in its cabundle, ours two (root, intermediate)
    const norm = (s) => s.replace(/cabundle=array\[[^\]]*\]/, 'cabundle=array[bytes…]');
    assert.equal(norm(shape(plain.payload)), norm(shape(real.payload)));
    assert.equal(shape([plain.header, plain.unprotected]), shape([real.header, real.unprotected]));
  } else {
    t.diagnostic(`real sample not found at ${REAL_DOC}: shape comparison skipped`);
  }
});

test('the COSE signature verifies with the leaf, the chain verifies to nitro-root', async () => {
  const { doc } = await getDoc('?nonce=00');
  const p = doc.payload;
  assert.ok(coseSignatureValid(doc, p.get('certificate')));
  const [rootDer, interDer] = p.get('cabundle');
  const root = new crypto.X509Certificate(rootDer);
  const inter = new crypto.X509Certificate(interDer);
  const leaf = new crypto.X509Certificate(p.get('certificate'));
  const pinned = new crypto.X509Certificate(fs.readFileSync(srv.info.nitro_root));
  assert.equal(root.fingerprint256, pinned.fingerprint256, 'cabundle[0] is the pinned test root');
  assert.ok(root.verify(root.publicKey), 'root is self-signed');
  assert.ok(inter.verify(root.publicKey) && inter.checkIssued(root));
  assert.ok(leaf.verify(inter.publicKey) && leaf.checkIssued(inter));
  assert.ok(root.ca && inter.ca && !leaf.ca);
  assert.equal(leaf.publicKey.asymmetricKeyDetails.namedCurve, 'secp384r1');
  const ts = Number(p.get('timestamp'));
  for (const c of [root, inter, leaf]) {
    assert.ok(Date.parse(c.validFrom) <= ts && ts <= Date.parse(c.validTo), `${c.subject} valid at the document time`);
  }
  // and not with another key: flip one payload byte
  const tampered = { ...doc, payloadBytes: Buffer.from(doc.payloadBytes) };
  tampered.payloadBytes[20] ^= 1;
  assert.equal(coseSignatureValid(tampered, p.get('certificate')), false);
});

test('without a nonce the nonce field is null; bad nonces are refused', async () => {
  const { doc } = await getDoc();
  assert.equal(doc.payload.get('nonce'), null);
  assert.equal((await request(`${srv.info.url}/get_attestation?nonce=xyz`, { agent })).status, 400);
  assert.equal((await request(`${srv.info.url}/get_attestation?nonce=abc`, { agent })).status, 400);
});

test('tag18 and debug_mode settings', async () => {
  await admin(srv.info, 'POST', '/admin/settings', { tag18: true, debug_mode: true });
  try {
    const { bytes, doc } = await getDoc();
    assert.equal(bytes[0], 0xd2, 'CBOR tag 18');
    assert.equal(doc.tagged, 18);
    for (const i of [0, 1, 2]) assert.equal(Buffer.from(doc.payload.get('pcrs').get(i)).toString('hex'), '0'.repeat(96));
    assert.ok(coseSignatureValid(doc, doc.payload.get('certificate')));
  } finally {
    await admin(srv.info, 'POST', '/admin/settings', { tag18: false, debug_mode: false });
  }
});

test('attestation_timestamp_offset_ms makes old documents', async () => {
  await admin(srv.info, 'POST', '/admin/settings', { attestation_timestamp_offset_ms: -3600_000 });
  try {
    const { doc } = await getDoc();
    assert.ok(Math.abs(Number(doc.payload.get('timestamp')) - (Date.now() - 3600_000)) < 10_000);
    assert.ok(coseSignatureValid(doc, doc.payload.get('certificate')));
  } finally {
    await admin(srv.info, 'POST', '/admin/settings', { attestation_timestamp_offset_ms: 0 });
  }
});

test('--debug-mode and --pcrN at start-up', async () => {
  const pcr = (c) => c.repeat(96);
  const s2 = await startServer(pki, ['--no-chain-check', '--pcr0', pcr('a'), '--pcr1', pcr('b'), '--pcr2', pcr('c')]);
  const s3 = await startServer(pki, ['--no-chain-check', '--debug-mode']);
  try {
    assert.deepEqual([s2.info.pcr0, s2.info.pcr1, s2.info.pcr2], [pcr('a'), pcr('b'), pcr('c')]);
    assert.deepEqual([s3.info.pcr0, s3.info.pcr1, s3.info.pcr2], [pcr('0'), pcr('0'), pcr('0')]);
    assert.notEqual(s2.info.enclave_public_key, s3.info.enclave_public_key, 'a fresh enclave key per start');
  } finally {
    assert.equal(await s2.stop(), 0);
    assert.equal(await s3.stop(), 0);
  }
});
