// Attestation documents with one field altered at a time and RE-SIGNED with a valid key of the
// test Nitro chain (tests/peers/nautilus-master/make-pki.sh), so that the field's own check, not
// the COSE signature, has to catch each one. Used by tests/master/attestation_fields_test.cpp.
//
//   node attestation_variants.mjs --pki DIR
//
// Prints one JSON object on stdout:
//   {"now_ms", "max_age_ms", "pcrs": {"0": hex, "1": hex, "2": hex}, "nonce": hex,
//    "variants": [{"name", "hex", "expect": "accept" | <check name>, "mention": text, "why"}]}
// `expect` is the attestation::Check (check_name) that must refuse the document, or "accept" for
// the control document and for alterations protocol.md section 3.2 does not constrain. `mention` is
// a text the refusal message must contain (for an accepted one: the altered value, hex or text,
// that the parsed document must show). The extra certificates (another leaf, an expired leaf, a
// foreign chain, a second intermediate) are made with the openssl CLI in a temporary folder that
// is removed before exit. Tests only: these keys protect nothing.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------- a small CBOR encoder
// Own encoder (not cbor-x) so that a variant can carry what a map cannot: duplicate keys, raw
// bytes, invalid UTF-8. Values: non-negative or negative integers (number or BigInt), string
// (text), Buffer (bytes), null, Array, Map, {pairs: [[k, v], ...]}, {raw: Buffer}.
function head(major, n) {
  n = BigInt(n);
  const m = major << 5;
  if (n < 24n) return Buffer.from([m | Number(n)]);
  if (n < 0x100n) return Buffer.from([m | 24, Number(n)]);
  if (n < 0x10000n) { const b = Buffer.alloc(3); b[0] = m | 25; b.writeUInt16BE(Number(n), 1); return b; }
  if (n < 0x100000000n) { const b = Buffer.alloc(5); b[0] = m | 26; b.writeUInt32BE(Number(n), 1); return b; }
  const b = Buffer.alloc(9); b[0] = m | 27; b.writeBigUInt64BE(n, 1); return b;
}
function cbor(v) {
  if (v === null) return Buffer.from([0xf6]);
  if (typeof v === 'number' || typeof v === 'bigint') {
    const n = BigInt(v);
    return n >= 0n ? head(0, n) : head(1, -1n - n);
  }
  if (typeof v === 'string') { const b = Buffer.from(v, 'utf8'); return Buffer.concat([head(3, b.length), b]); }
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  if (v instanceof Map) return cbor({ pairs: [...v.entries()] });
  if (v && v.pairs) return Buffer.concat([head(5, v.pairs.length), ...v.pairs.flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  if (v && v.raw) return v.raw;
  throw new Error(`cannot encode ${typeof v}`);
}

// ---------------------------------------------------------------- test certificates
function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--pki') out.pki = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.pki) throw new Error('usage: attestation_variants.mjs --pki DIR');
  return out;
}

const args = parseArgs(process.argv.slice(2));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-att-variants-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

const nowMs = Date.now();
const nowS = Math.floor(nowMs / 1000);
const utc = (s) => new Date(s * 1000).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'; // YYMMDDHHMMSSZ

function openssl(...a) {
  execFileSync('openssl', a, { stdio: ['ignore', 'pipe', 'pipe'] });
}

const pkiFile = (name) => path.join(args.pki, name);
const certs = {
  root: { pem: pkiFile('nitro-root.pem'), key: pkiFile('nitro-root.key') },
  inter: { pem: pkiFile('nitro-inter.pem'), key: pkiFile('nitro-inter.key') },
  leaf: { pem: pkiFile('nitro-leaf.pem'), key: pkiFile('nitro-leaf.key') },
};

const CA_EXT = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
  'subjectKeyIdentifier=hash'];
const LEAF_EXT = ['basicConstraints=critical,CA:FALSE', 'keyUsage=digitalSignature,nonRepudiation'];

/** Issues NAME (new EC key on CURVE) signed by ISSUER (a certs entry, or null: self-signed). */
function issue(name, { curve = 'secp384r1', subj, issuer, ext, start = nowS - 2 * 86400, end = nowS + 3650 * 86400 }) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'index'), '');
  fs.writeFileSync(path.join(dir, 'serial'), `01${crypto.randomBytes(15).toString('hex')}\n`);
  fs.writeFileSync(path.join(dir, 'ext'), `${ext.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = t', '[t]', `database = ${dir}/index`, `new_certs_dir = ${dir}`, `serial = ${dir}/serial`,
    'policy = p', 'preserve = yes', 'unique_subject = no', 'email_in_dn = no', 'copy_extensions = none',
    '[p]', 'countryName = optional', 'organizationName = optional', 'organizationalUnitName = optional',
    'commonName = supplied', ''].join('\n'));
  const key = path.join(dir, 'key.pem');
  const csr = path.join(dir, 'csr.pem');
  const pem = path.join(dir, 'cert.pem');
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-pkeyopt', 'ec_param_enc:named_curve',
    '-nodes', '-keyout', key, '-subj', subj, '-out', csr, '-sha384');
  const signer = issuer ? ['-cert', issuer.pem, '-keyfile', issuer.key] : ['-selfsign', '-keyfile', key];
  openssl('ca', '-batch', '-notext', '-config', path.join(dir, 'ca.cnf'), ...signer, '-in', csr, '-md', 'sha384',
    '-startdate', utc(start), '-enddate', utc(end), '-extfile', path.join(dir, 'ext'), '-out', pem);
  certs[name] = { pem, key };
  return certs[name];
}

const LEAF_SUBJ = (cn) => `/C=US/O=k3s-daas test/OU=AWS/CN=${cn}`;
issue('otherLeaf', { subj: LEAF_SUBJ('i-0000000000other-enc0000000000other.us-east-1.aws'), issuer: certs.inter, ext: LEAF_EXT });
// Valid from 3 days ago to 1 day ago: genuine while it lived, expired now.
issue('expiredLeaf', { subj: LEAF_SUBJ('i-0000000000expired-enc000000expired.us-east-1.aws'), issuer: certs.inter,
  ext: LEAF_EXT, start: nowS - 3 * 86400, end: nowS - 86400 });
issue('p256Leaf', { curve: 'prime256v1', subj: LEAF_SUBJ('i-0000000000p256-enc00000000000p256.us-east-1.aws'),
  issuer: certs.inter, ext: LEAF_EXT });
// A foreign chain with the same names as ours (a look-alike AWS root).
issue('foreignRoot', { subj: '/C=US/O=k3s-daas test/OU=AWS/CN=aws.nitro-enclaves-test', issuer: null, ext: CA_EXT });
issue('foreignInter', { subj: '/C=US/O=k3s-daas test/OU=AWS/CN=test.us-east-1.aws.nitro-enclaves-test',
  issuer: certs.foreignRoot, ext: [...CA_EXT, 'authorityKeyIdentifier=keyid'] });
issue('foreignLeaf', { subj: LEAF_SUBJ('i-0000000000test-enc0000000000test.us-east-1.aws'), issuer: certs.foreignInter,
  ext: LEAF_EXT });
// A second intermediate below ours (root -> inter -> inter2 -> leaf2), like AWS's longer chains.
issue('inter2', { subj: '/C=US/O=k3s-daas test/OU=AWS/CN=zone.test.us-east-1.aws.nitro-enclaves-test', issuer: certs.inter,
  ext: [...CA_EXT, 'authorityKeyIdentifier=keyid'] });
issue('leaf2', { subj: LEAF_SUBJ('i-0000000000leaf2-enc000000000leaf2.us-east-1.aws'), issuer: certs.inter2, ext: LEAF_EXT });

for (const c of Object.values(certs)) {
  c.der = Buffer.from(new crypto.X509Certificate(fs.readFileSync(c.pem)).raw);
  c.privateKey = crypto.createPrivateKey(fs.readFileSync(c.key));
}

// ---------------------------------------------------------------- documents
const PROTECTED = cbor(new Map([[1, -35]]));
const pcrs = new Map([...Array(16).keys()].map((i) => [i, crypto.randomBytes(48)]));
const nonce = crypto.randomBytes(32);
const enclaveKey = crypto.randomBytes(32);
const MAX_AGE_MS = 300_000;

/** The control document's payload fields, in NSM order (a list so that a variant can repeat one). */
function fields({ leaf = certs.leaf, bundle = [certs.root, certs.inter], timestamp = nowMs - 1000 } = {}) {
  return [
    ['module_id', 'i-0000000000test-enc0000000000test'],
    ['digest', 'SHA384'],
    ['timestamp', BigInt(timestamp)],
    ['pcrs', new Map(pcrs)],
    ['certificate', leaf.der],
    ['cabundle', bundle.map((c) => c.der)],
    ['public_key', enclaveKey],
    ['user_data', null],
    ['nonce', nonce],
  ];
}
const set = (list, name, value) => list.map(([k, v]) => [k, k === name ? value : v]);
const drop = (list, name) => list.filter(([k]) => k !== name);
const pcrsWith = (edit) => { const m = new Map(pcrs); edit(m); return m; };
const flip = (b) => { const c = Buffer.from(b); c[7] ^= 0x40; return c; };

function sign1({ list = fields(), signer = certs.leaf, protectedBytes = PROTECTED, unprotected = new Map(), sigLength = 96 }) {
  const payload = cbor({ pairs: list });
  const toBeSigned = cbor(['Signature1', protectedBytes, Buffer.alloc(0), payload]);
  const hash = signer.privateKey.asymmetricKeyDetails.namedCurve === 'prime256v1' ? 'sha256' : 'sha384';
  let signature = crypto.sign(hash, toBeSigned, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
  if (signature.length !== sigLength) signature = Buffer.concat([signature, Buffer.alloc(96)]).subarray(0, sigLength);
  return cbor([protectedBytes, unprotected, payload, signature]);
}

const variants = [];
const add = (name, expect, mention, why, doc) => variants.push({ name, hex: doc.toString('hex'), expect, mention, why });
const hex = (b) => Buffer.from(b).toString('hex');

add('control', 'accept', '', 'the unaltered document', sign1({}));

// module_id
add('module_id_other', 'accept', 'i-0ffffffffffffffff-enc0fffffffffffffff', 'module_id names the enclave instance; protocol 3.2 pins the code by PCRs, not the instance',
  sign1({ list: set(fields(), 'module_id', 'i-0ffffffffffffffff-enc0fffffffffffffff') }));
add('module_id_empty', 'payload', 'module_id', 'empty', sign1({ list: set(fields(), 'module_id', '') }));
add('module_id_too_long', 'payload', 'module_id', '257 bytes', sign1({ list: set(fields(), 'module_id', 'i'.repeat(257)) }));
add('module_id_not_text', 'payload', 'module_id', 'a byte string', sign1({ list: set(fields(), 'module_id', Buffer.from('i-0')) }));
add('module_id_not_utf8', 'payload', 'malformed CBOR', 'invalid UTF-8 (libcbor refuses the text string itself)', sign1({ list: set(fields(), 'module_id', { raw: Buffer.from([0x63, 0x69, 0xff, 0x30]) }) }));
add('module_id_missing', 'payload', 'module_id', 'absent', sign1({ list: drop(fields(), 'module_id') }));

// digest
add('digest_sha256', 'payload', 'digest', 'SHA256 instead of SHA384', sign1({ list: set(fields(), 'digest', 'SHA256') }));
add('digest_lower_case', 'payload', 'digest', 'sha384', sign1({ list: set(fields(), 'digest', 'sha384') }));
add('digest_bytes', 'payload', 'digest', 'a byte string', sign1({ list: set(fields(), 'digest', Buffer.from('SHA384')) }));
add('digest_missing', 'payload', 'digest', 'absent', sign1({ list: drop(fields(), 'digest') }));

// timestamp
add('timestamp_stale', 'freshness', 'max_age', `${MAX_AGE_MS / 1000 + 60} s old`,
  sign1({ list: fields({ timestamp: nowMs - MAX_AGE_MS - 60_000 }) }));
add('timestamp_future', 'timestamp', 'lies after the verification time', '10 minutes ahead',
  sign1({ list: fields({ timestamp: nowMs + 600_000 }) }));
add('timestamp_future_within_skew', 'accept', String(nowMs + 30_000), '30 s ahead: inside the 60 s clock skew allowed',
  sign1({ list: fields({ timestamp: nowMs + 30_000 }) }));
add('timestamp_before_certificates', 'chain', 'not yet valid', '3 days ago, before every certificate began',
  sign1({ list: fields({ timestamp: nowMs - 3 * 86_400_000 }) }));
add('timestamp_zero', 'payload', 'timestamp', '0', sign1({ list: set(fields(), 'timestamp', 0) }));
add('timestamp_huge', 'payload', 'timestamp', '2^64-1', sign1({ list: set(fields(), 'timestamp', 2n ** 64n - 1n) }));
add('timestamp_negative', 'payload', 'timestamp', 'a negative integer', sign1({ list: set(fields(), 'timestamp', -nowMs) }));
add('timestamp_text', 'payload', 'timestamp', 'a text string', sign1({ list: set(fields(), 'timestamp', String(nowMs)) }));
add('timestamp_missing', 'payload', 'timestamp', 'absent', sign1({ list: drop(fields(), 'timestamp') }));

// PCRs
for (const i of [0, 1, 2]) {
  add(`pcr${i}_altered`, 'pcrs', `PCR${i} is `, 'one bit differs', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.set(i, flip(m.get(i))))) }));
  add(`pcr${i}_missing`, 'pcrs', `no PCR${i}`, 'absent from the map', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.delete(i))) }));
  add(`pcr${i}_47_bytes`, 'payload', `PCR${i} is 47 bytes`, 'wrong length', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.set(i, m.get(i).subarray(0, 47)))) }));
}
add('pcr0_32_bytes', 'pcrs', 'PCR0 is ', 'a legal length (SHA-256 bank) with other bytes', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.set(0, m.get(0).subarray(0, 32)))) }));
add('pcr3_altered', 'accept', '', 'PCR3 (IAM role) is not pinned by the policy', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.set(3, flip(m.get(3))))) }));
add('pcr_index_32', 'payload', 'index 0..31', 'a 17th PCR at index 32', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.set(32, Buffer.alloc(48)))) }));
add('pcr_index_huge', 'payload', 'index 0..31', 'index 2^32', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.set(2n ** 32n, Buffer.alloc(48)))) }));
add('pcr_index_negative', 'payload', 'index 0..31', 'index -1', sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => m.set(-1, Buffer.alloc(48)))) }));
add('pcr0_twice', 'payload', 'PCR0 appears twice', 'a second PCR0 after the right one',
  sign1({ list: set(fields(), 'pcrs', { pairs: [...pcrs.entries(), [0, flip(pcrs.get(0))]] }) }));
add('pcrs_debug_mode', 'debug_mode', 'debug mode', 'PCR0, PCR1 and PCR2 all zero',
  sign1({ list: set(fields(), 'pcrs', pcrsWith((m) => { for (const i of [0, 1, 2]) m.set(i, Buffer.alloc(48)); })) }));
add('pcrs_empty', 'payload', 'pcrs', 'an empty map', sign1({ list: set(fields(), 'pcrs', new Map()) }));
add('pcrs_missing', 'payload', 'pcrs', 'absent', sign1({ list: drop(fields(), 'pcrs') }));

// certificate
add('certificate_swapped_unsigned', 'cose_signature', 'does not verify', 'certificate of another leaf, document signed by ours',
  sign1({ list: fields({ leaf: certs.otherLeaf }) }));
add('certificate_swapped_reverse', 'cose_signature', 'does not verify', 'our certificate, document signed by the other leaf\'s key',
  sign1({ list: fields(), signer: certs.otherLeaf }));
add('certificate_other_leaf_resigned', 'accept', '', 'another leaf of the same chain signing its own document: a genuine document of another instance',
  sign1({ list: fields({ leaf: certs.otherLeaf }), signer: certs.otherLeaf }));
add('certificate_expired_leaf', 'expired', 'expired at', 'leaf expired 1 day ago; document from while it lived',
  sign1({ list: fields({ leaf: certs.expiredLeaf, timestamp: nowMs - 2 * 86_400_000 }), signer: certs.expiredLeaf }));
add('certificate_expired_leaf_now', 'chain', 'expired', 'leaf expired 1 day ago; document dated now',
  sign1({ list: fields({ leaf: certs.expiredLeaf }), signer: certs.expiredLeaf }));
add('certificate_not_signed_by_cabundle', 'chain', 'issuer', 'a leaf of a foreign intermediate, our cabundle',
  sign1({ list: fields({ leaf: certs.foreignLeaf }), signer: certs.foreignLeaf }));
add('certificate_p256_leaf', 'cose_signature', 'P-384', 'a P-256 leaf under our intermediate, ES256 signature',
  sign1({ list: fields({ leaf: certs.p256Leaf }), signer: certs.p256Leaf }));
add('certificate_is_intermediate', 'chain', 'CA', 'the intermediate CA signing documents itself',
  sign1({ list: fields({ leaf: certs.inter, bundle: [certs.root] }), signer: certs.inter }));
add('certificate_garbage', 'chain', 'not DER', 'not a certificate', sign1({ list: set(fields(), 'certificate', Buffer.from('not a certificate')) }));
add('certificate_missing', 'payload', 'certificate', 'absent', sign1({ list: drop(fields(), 'certificate') }));

// cabundle
add('cabundle_missing_intermediate', 'chain', 'issuer', '[root] only', sign1({ list: fields({ bundle: [certs.root] }) }));
add('cabundle_reordered', 'root', 'cabundle[0]', '[intermediate, root]', sign1({ list: fields({ bundle: [certs.inter, certs.root] }) }));
add('cabundle_foreign_root', 'root', 'not the trusted root', '[look-alike root, our intermediate]',
  sign1({ list: fields({ bundle: [certs.foreignRoot, certs.inter] }) }));
add('cabundle_foreign_chain', 'root', 'not the trusted root', 'a whole look-alike chain, consistent in itself',
  sign1({ list: fields({ leaf: certs.foreignLeaf, bundle: [certs.foreignRoot, certs.foreignInter] }), signer: certs.foreignLeaf }));
add('cabundle_two_intermediates', 'accept', '', 'root -> inter -> inter2 -> leaf2 in order (the shape of AWS chains)',
  sign1({ list: fields({ leaf: certs.leaf2, bundle: [certs.root, certs.inter, certs.inter2] }), signer: certs.leaf2 }));
add('cabundle_intermediates_reordered', 'chain', 'order', '[root, inter2, inter]: each certificate must be issued by the one before it',
  sign1({ list: fields({ leaf: certs.leaf2, bundle: [certs.root, certs.inter2, certs.inter] }), signer: certs.leaf2 }));
add('cabundle_extra_certificate', 'chain', 'order', '[root, inter, foreign intermediate]: a certificate the chain does not use',
  sign1({ list: fields({ bundle: [certs.root, certs.inter, certs.foreignInter] }) }));
add('cabundle_empty', 'payload', 'cabundle', 'an empty array', sign1({ list: set(fields(), 'cabundle', []) }));
add('cabundle_missing', 'payload', 'cabundle', 'absent', sign1({ list: drop(fields(), 'cabundle') }));

// public_key (the trust step requires a 32-byte Ed25519 key)
add('public_key_null', 'public_key', 'no public_key', 'null', sign1({ list: set(fields(), 'public_key', null) }));
add('public_key_absent', 'public_key', 'no public_key', 'absent', sign1({ list: drop(fields(), 'public_key') }));
add('public_key_31_bytes', 'public_key', '31 bytes', 'too short', sign1({ list: set(fields(), 'public_key', enclaveKey.subarray(0, 31)) }));
add('public_key_33_bytes', 'public_key', '33 bytes', 'too long', sign1({ list: set(fields(), 'public_key', Buffer.concat([enclaveKey, Buffer.from([0])])) }));
const p256Spki = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
add('public_key_p256_spki', 'public_key', `${p256Spki.length} bytes`, 'a P-256 SubjectPublicKeyInfo, not an Ed25519 key',
  sign1({ list: set(fields(), 'public_key', p256Spki) }));
add('public_key_empty', 'payload', 'public_key', '0 bytes', sign1({ list: set(fields(), 'public_key', Buffer.alloc(0)) }));
add('public_key_text', 'payload', 'public_key', 'a text string', sign1({ list: set(fields(), 'public_key', enclaveKey.toString('hex')) }));
const otherKey = crypto.randomBytes(32);
add('public_key_other', 'accept', hex(otherKey), 'another 32-byte key: the document vouches for it; Enclave.pk on chain decides (master_enclave_chain_e2e_test)',
  sign1({ list: set(fields(), 'public_key', otherKey) }));

// user_data
const userData = Buffer.from('{"k3s":"altered"}');
add('user_data_altered', 'accept', hex(userData), 'user_data is not used by the protocol', sign1({ list: set(fields(), 'user_data', userData) }));
add('user_data_too_long', 'payload', 'user_data', '1025 bytes', sign1({ list: set(fields(), 'user_data', Buffer.alloc(1025, 1)) }));
add('user_data_text', 'payload', 'user_data', 'a text string', sign1({ list: set(fields(), 'user_data', 'x') }));

// nonce
add('nonce_different', 'nonce', 'not the one sent', 'another 32 bytes', sign1({ list: set(fields(), 'nonce', crypto.randomBytes(32)) }));
add('nonce_truncated', 'nonce', 'not the one sent', 'the first 16 bytes', sign1({ list: set(fields(), 'nonce', nonce.subarray(0, 16)) }));
add('nonce_empty', 'nonce', 'not the one sent', '0 bytes', sign1({ list: set(fields(), 'nonce', Buffer.alloc(0)) }));
add('nonce_text', 'payload', 'nonce', 'the hex as a text string', sign1({ list: set(fields(), 'nonce', nonce.toString('hex')) }));
add('nonce_null_fresh', 'accept', '', 'no nonce: protocol 3.2 lets the master ignore it; max_age bounds the replay', sign1({ list: set(fields(), 'nonce', null) }));
add('nonce_null_stale', 'freshness', 'max_age', 'no nonce and older than max_age', sign1({ list: set(fields({ timestamp: nowMs - MAX_AGE_MS - 1000 }), 'nonce', null) }));

// payload map
add('field_twice', 'payload', 'nonce appears twice', 'the right nonce, then another', sign1({ list: [...fields(), ['nonce', crypto.randomBytes(32)]] }));
add('field_unknown', 'accept', '', 'an extra field no check reads (signed, ignored)', sign1({ list: [...fields(), ['extra', Buffer.from([1])]] }));

// COSE headers and signature
add('protected_es256', 'protected_header', 'ES384', 'alg -7 (ES256), ES384 signature', sign1({ protectedBytes: cbor(new Map([[1, -7]])) }));
add('protected_es512', 'protected_header', 'ES384', 'alg -36 (ES512)', sign1({ protectedBytes: cbor(new Map([[1, -36]])) }));
add('protected_extra_label', 'protected_header', 'ES384', '{1: -35, 4: kid}', sign1({ protectedBytes: cbor(new Map([[1, -35], [4, Buffer.from('kid')]])) }));
add('protected_empty', 'protected_header', 'ES384', 'an empty protected header', sign1({ protectedBytes: Buffer.alloc(0) }));
add('protected_alg_text', 'protected_header', 'ES384', '{1: "ES384"}', sign1({ protectedBytes: cbor(new Map([[1, 'ES384']])) }));
add('unprotected_alg', 'accept', '', 'alg -7 in the unprotected header is ignored', sign1({ unprotected: new Map([[1, -7]]) }));
add('signature_95_bytes', 'signature_length', '95 bytes', 'r || s one byte short', sign1({ sigLength: 95 }));

process.stdout.write(`${JSON.stringify({
  now_ms: nowMs,
  max_age_ms: MAX_AGE_MS,
  pcrs: Object.fromEntries([0, 1, 2].map((i) => [String(i), hex(pcrs.get(i))])),
  nonce: hex(nonce),
  variants,
})}\n`);
