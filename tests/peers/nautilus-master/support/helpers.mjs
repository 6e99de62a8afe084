// Shared helpers for the peer tests: a temp PKI, the server as a child process, an mTLS client,
// seal tokens made with @mysten/sui (layout: the one SealTokenV1 of lib/wire.mjs), and an envelope
// check whose BCS is rebuilt here by hand (independent of the server's use of the `bcs` library).
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

import assert from 'node:assert/strict';
import { SealTokenV1 } from '../lib/wire.mjs';
import { Decoder, Encoder, Tag } from 'cbor-x';
import { bcs } from '@mysten/sui/bcs';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PEER_DIR = path.resolve(HERE, '..');
// the repository's sibling shared/ folder (override with K3S_DAAS_SHARED_DIR)
export const SHARED_DIR = process.env.K3S_DAAS_SHARED_DIR ?? path.resolve(PEER_DIR, '../../../../shared');

export function makePki(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-pki-'));
  execFileSync(path.join(PEER_DIR, 'make-pki.sh'), [...extraArgs, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return dir;
}

export function removeDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Starts server.mjs; resolves with {info, proc, stop()} once the ready line is read. */
export function startServer(pkiDir, args = ['--no-chain-check']) {
  const proc = spawn(process.execPath, [path.join(PEER_DIR, 'server.mjs'), '--pki', pkiDir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`server did not start: ${stderr}`)); }, 10_000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${stderr}`)); });
    lines.once('line', (line) => {
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      const info = JSON.parse(line);
      const stop = () => new Promise((done) => {
        if (proc.exitCode !== null) return done(proc.exitCode);
        proc.once('exit', (code) => done(code));
        proc.kill('SIGTERM');
        return undefined;
      });
      resolve({ info, proc, stop, stderr: () => stderr });
    });
  });
}

/** An mTLS keep-alive agent. `client` picks the certificate: 'client', 'other-client' or null. */
export function tlsAgent(pkiDir, { client = 'client', ca = 'tls-ca.pem', ...rest } = {}) {
  const read = (f) => fs.readFileSync(path.join(pkiDir, f));
  return new https.Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: read(ca),
    ...(client ? { cert: read(`${client}.pem`), key: read(`${client}.key`) } : {}),
    ...rest,
  });
}

/** One HTTP(S) request; resolves {status, headers, text, json} or rejects on a transport error. */
export function request(url, { agent, method = 'GET', body, headers = {}, timeoutMs = 10_000 } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = mod.request(u, {
      method, agent, timeout: timeoutMs,
      headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data ?? undefined);
  });
}

export function admin(info, method, p, body) {
  return request(`${info.admin}${p}`, { method, body }).then((r) => {
    if (r.status !== 200) throw new Error(`admin ${method} ${p}: ${r.status} ${r.text}`);
    return r.json;
  });
}

// ---------------------------------------------------------------- seal tokens

// The one definition of the seal-token layout (protocol.md section 2) lives in lib/wire.mjs.
export { SealTokenV1 };

export const randomAddress = () => `0x${crypto.randomBytes(32).toString('hex')}`;

/**
 * Builds a seal token. `fields` override the payload; `signer` signs (defaults to `keypair`);
 * `mutatePayload(bytes)` alters the bytes after signing (for "bad signature" cases),
 * `extraPayloadBytes` are appended before signing.
 */
export async function makeSealToken({ keypair, nodeId = 'worker-1', stakeId, fields = {}, signer,
  mutatePayload, extraPayloadBytes, mutateSignature } = {}) {
  const now = Date.now();
  const payloadObj = {
    version: 1,
    node_id: nodeId,
    staker: keypair.toSuiAddress(),
    stake_id: stakeId ?? randomAddress(),
    audience: new Uint8Array(0),
    issued_at_ms: BigInt(now),
    expires_at_ms: BigInt(now + 3600_000),
    nonce: crypto.randomBytes(16),
    ...fields,
  };
  let payload = Buffer.from(SealTokenV1.serialize(payloadObj).toBytes());
  if (extraPayloadBytes) payload = Buffer.concat([payload, extraPayloadBytes]);
  const { signature } = await (signer ?? keypair).signPersonalMessage(payload);
  let sig = Buffer.from(signature, 'base64');
  if (mutateSignature) sig = mutateSignature(sig);
  if (mutatePayload) payload = mutatePayload(Buffer.from(payload));
  return `sealv1.${payload.toString('base64url')}.${sig.toString('base64url')}`;
}

export const newKeypair = () => Ed25519Keypair.generate();

export function registerBody({ nodeId = 'worker-1', token, nonce = crypto.randomBytes(32).toString('hex') } = {}) {
  return {
    node_id: nodeId,
    seal_token: token,
    nonce,
    agent_version: '0.1.0-test',
    node: { hostname: 'host-1', instance_id: 'i-test', arch: 'x86_64', cpus: 2, memory_bytes: 4294967296 },
  };
}

export function heartbeatBody({ nodeId = 'worker-1', seq, stakeId = randomAddress() } = {}) {
  return {
    node_id: nodeId,
    seq,
    timestamp_ms: Date.now(),
    stake: { stake_id: stakeId, amount: 1000000000, status: 1 },
    k3s: { state: 'running', restarts: 0, pid: 1234 },
    runtime: { type: 'containerd', state: 'running', version: '1.7.20' },
    resources: { cpu_percent: 12.5, memory_percent: 40.1, disk_percent: 55, load1: 0.42 },
    running_containers: 3,
  };
}

// ---------------------------------------------------------------- envelopes (BCS by hand)

function uleb128(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}
const u8 = (v) => Buffer.from([v]);
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
const bytesField = (buf) => Buffer.concat([uleb128(buf.length), buf]);
const str = (s) => bytesField(Buffer.from(s, 'utf8'));
const hexBytes = (h) => bytesField(Buffer.from(h, 'hex'));

export const LAYOUTS = {
  1: (d) => [str(d.node_id), hexBytes(d.nonce), str(d.k3s_server_url), str(d.join_token),
    u64(d.heartbeat_interval_ms), u64(d.token_expires_at_ms)],
  2: (d) => [str(d.node_id), u64(d.seq), u8(d.command), u64(d.heartbeat_interval_ms)],
  3: (d) => [str(d.node_id)],
};

export function envelopeBytes(intent, timestampMs, data, layoutIntent = intent) {
  return Buffer.concat([u8(intent), u64(timestampMs), ...LAYOUTS[layoutIntent](data)]);
}

export function ed25519PublicKey(hex) {
  // SPKI DER prefix of an Ed25519 public key
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(hex, 'hex')]);
  return crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** True when the envelope's signature verifies for its own intent under key `pkHex`. */
export function envelopeVerifies(envelope, pkHex, layoutIntent = envelope.response.intent) {
  const { intent, timestamp_ms: ts, data } = envelope.response;
  if (!/^[0-9a-f]{128}$/.test(envelope.signature)) return false;
  return crypto.verify(null, envelopeBytes(intent, ts, data, layoutIntent), ed25519PublicKey(pkHex),
    Buffer.from(envelope.signature, 'hex'));
}

// ---------------------------------------------------------------- attestation documents

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });

/** Decodes a COSE_Sign1 attestation document (tagged or not) and its protected header and payload. */
export function parseDoc(bytes) {
  let outer = decoder.decode(bytes);
  let tagged = false;
  if (outer instanceof Tag) { tagged = outer.tag; outer = outer.value; }
  assert.ok(Array.isArray(outer) && outer.length === 4, 'COSE_Sign1 is a 4-array');
  const [protectedBytes, unprotected, payloadBytes, signature] = outer;
  return { tagged, protectedBytes, unprotected, payloadBytes, signature, header: decoder.decode(protectedBytes), payload: decoder.decode(payloadBytes) };
}

/** ES384 over the COSE Sig_structure, checked with the leaf certificate's key. */
export function coseSignatureValid(doc, leafDer) {
  const sigStructure = encoder.encode(['Signature1', doc.protectedBytes, Buffer.alloc(0), doc.payloadBytes]);
  const leaf = new crypto.X509Certificate(leafDer);
  return crypto.verify('sha384', sigStructure, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, doc.signature);
}
