#!/usr/bin/env node
// Checks a seal token's signature with the official Sui TypeScript SDK (tests only):
//   node verify_with_sdk.mjs <payload base64> <serialized signature base64>
// Prints {"ok": true, "address": "0x..."} and exits 0 when verifyPersonalMessageSignature accepts
// the signature over the payload, else {"ok": false, "error": "..."} and exits 1.
// @mysten/sui is resolved from tests/peers/node_modules (scripts/npm-peers.sh installs it).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peers = createRequire(path.join(here, '..', 'peers', 'package.json'));

const [payloadB64, signatureB64] = process.argv.slice(2);
if (!payloadB64 || !signatureB64) {
  process.stderr.write('usage: node verify_with_sdk.mjs <payload base64> <signature base64>\n');
  process.exit(2);
}
const { verifyPersonalMessageSignature } = await import(pathToFileURL(peers.resolve('@mysten/sui/verify')).href);
try {
  const publicKey = await verifyPersonalMessageSignature(Buffer.from(payloadB64, 'base64'), signatureB64);
  process.stdout.write(`${JSON.stringify({ ok: true, address: publicKey.toSuiAddress() })}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(e?.message ?? e) })}\n`);
  process.exit(1);
}
