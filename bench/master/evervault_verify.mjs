#!/usr/bin/env node
// Reference timing: how long @evervault/wasm-attestation-bindings takes to verify each real AWS
// Nitro attestation document that shared/testdata/attestation/MANIFEST.json marks valid
// (COSE signature, chain, certificates valid at the document time). Those documents are old, so
// the clock the library reads (Date.now) is set to each document's own timestamp around the call.
//
//   node bench/master/evervault_verify.mjs [--runs N] [--shared DIR]
//
// Prints one JSON line per document:
//   {"tool":"@evervault/wasm-attestation-bindings","file":…,"ok":true|false,"us_per_verify_median":…}
// Exit status 1 when a document the manifest marks valid does not verify.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const TOOL = '@evervault/wasm-attestation-bindings';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const PEERS = path.join(REPO, 'tests/peers');

function usage(message) {
  process.stderr.write(`evervault_verify: ${message}\nusage: node bench/master/evervault_verify.mjs [--runs N] [--shared DIR]\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      shared: { type: 'string', default: path.resolve(REPO, '../shared') },
    },
  }));
} catch (e) {
  usage(e.message);
}
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) usage(`--runs: expected a positive integer, found ${args.runs}`);
const attestationDir = path.join(path.resolve(args.shared), 'testdata/attestation');
const manifestPath = path.join(attestationDir, 'MANIFEST.json');
if (!fs.existsSync(manifestPath)) usage(`no MANIFEST.json under ${attestationDir} (use --shared DIR)`);

// The bindings are an ES module living in tests/peers/node_modules: resolve from there.
const require = createRequire(path.join(PEERS, 'package.json'));
let entry;
try {
  entry = require.resolve(`${TOOL}/index.js`);
} catch {
  usage(`${TOOL} not installed; run npm ci in tests/peers`);
}
const ev = await import(pathToFileURL(entry).href);
ev.initSync({ module: fs.readFileSync(path.join(path.dirname(entry), 'index_bg.wasm')) });

/** Raw CBOR, or base64 text of it: the bindings take base64. */
function documentBase64(file) {
  const bytes = fs.readFileSync(file);
  const text = bytes.toString('latin1').trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && bytes[0] !== 0x84 && bytes[0] !== 0xd2) return text.replace(/\s+/g, '');
  return bytes.toString('base64');
}

function expectedPcrs(doc) {
  const p = ev.PCRs.empty();
  p.pcr0 = doc.pcrs['0'];
  p.pcr1 = doc.pcrs['1'];
  p.pcr2 = doc.pcrs['2'];
  if (doc.pcrs['8']) p.pcr8 = doc.pcrs['8'];
  p.hashAlgorithm = 'SHA384';
  return p;
}

/** One verification at the document's own time; returns {ok, us}. */
function verifyAt(b64, doc, timestampMs) {
  const pcrs = expectedPcrs(doc); // the bindings take ownership of a PCRs object: one per call
  const realNow = Date.now;
  Date.now = () => timestampMs;
  try {
    const t0 = process.hrtime.bigint();
    let ok;
    try {
      ok = ev.validateAttestationDocPcrs(b64, [pcrs]);
    } catch {
      ok = false;
    }
    const t1 = process.hrtime.bigint();
    return { ok, us: Number(t1 - t0) / 1000 };
  } finally {
    Date.now = realNow;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
const valid = manifest.documents.filter((d) => d.cose_signature_valid && d.chain_signatures_valid
  && d.all_certs_valid_at_doc_timestamp);
let failures = 0;
for (const doc of valid) {
  const b64 = documentBase64(path.join(attestationDir, doc.file));
  verifyAt(b64, doc, doc.timestamp_ms); // warm-up (first call pays for lazy set-up)
  const times = [];
  let ok = true;
  for (let i = 0; i < runs; i++) {
    const r = verifyAt(b64, doc, doc.timestamp_ms);
    ok &&= r.ok;
    times.push(r.us);
  }
  if (!ok) failures++;
  process.stdout.write(`${JSON.stringify({ tool: TOOL, file: doc.file, ok, us_per_verify_median: Math.round(median(times) * 10) / 10 })}\n`);
}
process.exit(failures ? 1 : 0);
