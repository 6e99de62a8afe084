#!/usr/bin/env node
// Local stand-in for the Nautilus master gateway (protocol.md sections 3 and 4), for tests only.
// It is NOT an enclave: its attestation documents are signed by a test CA (make-pki.sh) that
// mimics the AWS Nitro chain. It speaks mutual TLS, answers with Nautilus signed envelopes, checks
// seal tokens (optionally against Sui GraphQL) and lets tests inject faults over a plain-HTTP
// admin port. See README.md.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { buildAttestationDocument, loadNitroChain } from './lib/attestation.mjs';
import { ChainUnavailable, checkStakeOnChain } from './lib/chain.mjs';
import { FaultQueue } from './lib/faults.mjs';
import { REASONS, isRejection, verifySealTokenOffChain } from './lib/seal-token.mjs';
import { FieldError, validateDeregister, validateHeartbeat, validateRegister } from './lib/validate.mjs';
import { DATA_TYPE_BY_INTENT, INTENT, newEnclaveKey, signedEnvelope } from './lib/wire.mjs';

const USAGE = `usage: node server.mjs --pki DIR [--port 0] [--admin-port 0] [--sui-graphql URL] [--sui-ca FILE]
  [--package-id 0x…] [--module staking] [--min-stake MIST] [--no-chain-check]
  [--require-client-cert true|false] [--pcr0 HEX --pcr1 HEX --pcr2 HEX] [--debug-mode]
  [--k3s-server-url URL] [--heartbeat-interval-ms MS] [--verbose]
  [--sui-admin URL [--enclave-config-id 0x… | --enclave-app-type 0x…::m::T] [--register-on-start]]`;

const LIMITS = Object.freeze({
  keepAliveTimeoutMs: 120_000,
  headersTimeoutMs: 125_000,
  maxBodyBytes: 1 << 20,
  maxNonceBytes: 512, // NSM accepts at most 512 bytes of nonce
  skewFaultMs: 10 * 60 * 1000,
});

// ---------------------------------------------------------------- command line

function fail(message, code = 2) {
  process.stderr.write(`nautilus-master: ${message}\n`);
  process.exit(code);
}

function parseCommandLine(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        pki: { type: 'string' },
        port: { type: 'string', default: '0' },
        'admin-port': { type: 'string', default: '0' },
        'sui-graphql': { type: 'string' },
        'sui-ca': { type: 'string' },
        'package-id': { type: 'string' },
        module: { type: 'string', default: 'staking' },
        'min-stake': { type: 'string', default: '1000000000' },
        'no-chain-check': { type: 'boolean', default: false },
        'require-client-cert': { type: 'string', default: 'true' },
        pcr0: { type: 'string' }, pcr1: { type: 'string' }, pcr2: { type: 'string' },
        'debug-mode': { type: 'boolean', default: false },
        'k3s-server-url': { type: 'string', default: 'https://127.0.0.1:6443' },
        'heartbeat-interval-ms': { type: 'string', default: '30000' },
        verbose: { type: 'boolean', default: false },
        'sui-admin': { type: 'string' },
        'enclave-config-id': { type: 'string' },
        'enclave-app-type': { type: 'string' },
        'register-on-start': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    fail(`${e.message}\n${USAGE}`);
  }
  if (values.help) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
  if (!values.pki) fail(`--pki DIR is required\n${USAGE}`);
  const port = (name) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--${name}: expected a port number, found ${values[name]}`);
    return n;
  };
  const pcr = (name) => {
    const v = values[name];
    if (v === undefined) return null;
    if (!/^[0-9a-fA-F]{96}$/.test(v)) fail(`--${name}: expected 96 hex digits (48 bytes), found ${JSON.stringify(v)}`);
    return Buffer.from(v, 'hex');
  };
  if (!['true', 'false'].includes(values['require-client-cert'])) fail('--require-client-cert: expected true or false');
  if (!/^[0-9]+$/.test(values['min-stake'])) fail('--min-stake: expected an amount in MIST');
  const interval = Number(values['heartbeat-interval-ms']);
  if (!Number.isSafeInteger(interval) || interval <= 0) fail('--heartbeat-interval-ms: expected a positive integer');
  const chainCheck = !values['no-chain-check'];
  if (values['register-on-start'] && !values['sui-admin']) fail('--register-on-start needs --sui-admin URL (the sui-devnet admin API)');
  if (chainCheck && (!values['sui-graphql'] || !values['package-id'])) {
    fail('--sui-graphql URL and --package-id 0x… are required unless --no-chain-check is given');
  }
  return {
    pkiDir: path.resolve(values.pki),
    port: port('port'),
    adminPort: port('admin-port'),
    suiGraphql: values['sui-graphql'] ?? null,
    suiCa: values['sui-ca'] ? fs.readFileSync(values['sui-ca']) : undefined,
    packageId: values['package-id'] ?? null,
    module: values.module,
    minStake: BigInt(values['min-stake']),
    chainCheck,
    requireClientCert: values['require-client-cert'] === 'true',
    pcrs: [pcr('pcr0'), pcr('pcr1'), pcr('pcr2')],
    debugMode: values['debug-mode'],
    k3sServerUrl: values['k3s-server-url'],
    heartbeatIntervalMs: interval,
    verbose: values.verbose,
    suiAdmin: values['sui-admin'] ?? null,
    enclaveConfigId: values['enclave-config-id'] ?? null,
    enclaveAppType: values['enclave-app-type'] ?? null,
    registerOnStart: values['register-on-start'],
  };
}

// ---------------------------------------------------------------- context

function newCounters() {
  return {
    tls_handshakes: 0,
    tls_errors: 0,
    connections: 0,
    requests: { health_check: 0, get_attestation: 0, register: 0, heartbeat: 0, deregister: 0, other: 0 },
    responses: {},
    client_certs: { authorized: 0, unauthorized: 0, none: 0 },
    seal_token: { accepted: 0, rejected: {} },
    chain: { queries: 0, errors: 0 },
    envelopes_sent: 0,
    attestations_sent: 0,
  };
}

function createContext(opts) {
  const randomPcr = () => crypto.randomBytes(48);
  const configuredPcrs = opts.pcrs.map((p) => p ?? randomPcr());
  const extraPcrs = { 3: randomPcr(), 4: randomPcr() };
  const id = () => crypto.randomBytes(8).toString('hex');
  return {
    opts,
    enclave: newEnclaveKey(),
    otherKey: newEnclaveKey(), // for the wrong_key fault
    chain: loadNitroChain(opts.pkiDir),
    moduleId: `i-${crypto.randomBytes(9).toString('hex').slice(0, 17)}-enc${id()}`,
    configuredPcrs,
    extraPcrs,
    // a fake k3s cluster CA: only its hash appears, inside join tokens
    clusterCaHash: crypto.createHash('sha256').update(crypto.randomBytes(512)).digest('hex'),
    settings: {
      heartbeat_interval_ms: opts.heartbeatIntervalMs,
      debug_mode: opts.debugMode,
      tag18: false,
      k3s_server_url: opts.k3sServerUrl,
      // shifts the timestamp of attestation documents (e.g. -3600000 for a stale document)
      attestation_timestamp_offset_ms: 0,
    },
    nodes: new Map(),
    // what this master knows of its registration on the Sui stand-in
    sui: { admin_url: opts.suiAdmin, enclave_config_id: opts.enclaveConfigId, app_type: opts.enclaveAppType },
    rotations: 0,
    commands: new Map(), // node_id -> [{command, count}]
    faults: new FaultQueue(),
    lastAnswer: {}, // endpoint -> Buffer of the last signed answer sent (for the replay fault)
    counters: newCounters(),
    // Bytes on the wire (TCP, so TLS handshakes and records included) of the master port, and
    // requests per wall-clock second per endpoint (the last 900 s). Read-only: not reset by
    // /admin/reset-counters; take differences.
    wire: { connections: 0, closed_in: 0, closed_out: 0, live: new Set() },
    timeline: new Map(), // unix second -> {endpoint counter: n}
    startedAt: Date.now(),
  };
}

/** A fresh attestation document of the current enclave key and PCRs (no fault applied). */
function currentDocument(ctx, nonce = null) {
  return buildAttestationDocument({
    chain: ctx.chain,
    moduleId: ctx.moduleId,
    pcrs: currentPcrs(ctx),
    publicKey: ctx.enclave.publicKeyRaw,
    nonce,
    timestampMs: Date.now() + ctx.settings.attestation_timestamp_offset_ms,
  });
}

async function suiAdmin(url, route, body) {
  let r;
  try {
    r = await fetch(`${url.replace(/\/+$/, '')}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (e) {
    throw new HttpError(502, `sui admin ${route}: ${e.message}`);
  }
  const json = await r.json().catch(() => null);
  if (r.status !== 200) throw new HttpError(502, `sui admin ${route} answered ${r.status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * Registers the current enclave key on the Sui stand-in (item 3's admin routes): creates the
 * package and EnclaveConfig first when no config id is known, runs update_pcrs first when asked.
 */
async function registerOnSui(ctx, { suiAdminUrl, configId, appType, updatePcrs = false } = {}) {
  const sui = ctx.sui;
  const url = suiAdminUrl ?? sui.admin_url;
  if (!url) throw adminBadRequest('sui_admin_url: not given now nor at start (--sui-admin)');
  const pcrs = currentPcrs(ctx);
  const pcrBody = { pcr0: pcrs.get(0).toString('hex'), pcr1: pcrs.get(1).toString('hex'), pcr2: pcrs.get(2).toString('hex') };
  const out = {};
  let cfgId = configId ?? sui.enclave_config_id;
  if (!cfgId) {
    const pub = await suiAdmin(url, '/enclave/publish', {});
    const t = appType ?? sui.app_type ?? `${pub.package_id}::k3s_master::K3S_MASTER`;
    const cfg = await suiAdmin(url, '/enclave/config', { package_id: pub.package_id, app_type: t, name: 'k3s-daas master', ...pcrBody });
    cfgId = cfg.config_id;
    Object.assign(out, { package_id: pub.package_id, app_type: t, config_initial_shared_version: cfg.initial_shared_version });
    sui.package_id = pub.package_id;
    sui.app_type = t;
    sui.config_initial_shared_version = cfg.initial_shared_version;
  } else if (updatePcrs) {
    const up = await suiAdmin(url, '/enclave/update-pcrs', { config_id: cfgId, ...pcrBody });
    out.config_version_after_update = up.version;
  }
  const reg = await suiAdmin(url, '/enclave/register', { config_id: cfgId, attestation_hex: currentDocument(ctx).toString('hex') });
  Object.assign(sui, { admin_url: url, enclave_config_id: cfgId, enclave_id: reg.enclave_id });
  return {
    ...out,
    package_id: sui.package_id ?? null,
    app_type: sui.app_type ?? null,
    enclave_config_id: cfgId,
    enclave_id: reg.enclave_id,
    enclave_initial_shared_version: reg.initial_shared_version,
    config_version: reg.config_version,
    enclave_public_key: ctx.enclave.publicKeyHex,
    digest: reg.digest,
  };
}

const hexPcr = (name, v) => {
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{96}$/.test(v)) throw adminBadRequest(`${name}: expected 96 hex digits (48 bytes)`);
  return Buffer.from(v, 'hex');
};

function currentPcrs(ctx) {
  const pcrs = new Map();
  for (let i = 0; i < 16; i++) {
    let v = Buffer.alloc(48);
    if (i < 3 && !ctx.settings.debug_mode) v = ctx.configuredPcrs[i];
    else if (ctx.extraPcrs[i]) v = ctx.extraPcrs[i];
    pcrs.set(i, v);
  }
  return pcrs;
}

const log = (ctx, msg) => { if (ctx.opts.verbose) process.stderr.write(`nautilus-master: ${msg}\n`); };

// ---------------------------------------------------------------- HTTP helpers

class HttpError extends Error {
  constructor(status, message, extra = {}) { super(message); this.status = status; this.extra = extra; }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > LIMITS.maxBodyBytes) { reject(new HttpError(413, 'body too large')); req.resume(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req) {
  const raw = await readBody(req);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function send(ctx, res, status, body, contentType = 'application/json') {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  ctx.counters.responses[status] = (ctx.counters.responses[status] ?? 0) + 1;
  res.writeHead(status, { 'content-type': contentType, 'content-length': bytes.length });
  res.end(bytes);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- seal tokens

function countRejection(ctx, reason) {
  const r = ctx.counters.seal_token.rejected;
  r[reason] = (r[reason] ?? 0) + 1;
}

/**
 * Full seal-token check. Returns {token, stake} or throws HttpError (401 with the reason,
 * 503 when the chain cannot be asked). `chainRule` 'active' | 'any' | 'none'.
 */
async function checkSealToken(ctx, rawToken, nodeId, chainRule) {
  try {
    const token = await verifySealTokenOffChain(rawToken, { expectNodeId: nodeId, audienceKey: ctx.enclave.publicKeyRaw });
    let stake = null;
    if (ctx.opts.chainCheck && chainRule !== 'none') {
      ctx.counters.chain.queries++;
      stake = await checkStakeOnChain(token, {
        graphqlUrl: ctx.opts.suiGraphql, packageId: ctx.opts.packageId, module: ctx.opts.module,
        minStake: ctx.opts.minStake, ca: ctx.opts.suiCa, statusRule: chainRule,
      });
    }
    ctx.counters.seal_token.accepted++;
    return { token, stake };
  } catch (e) {
    if (isRejection(e)) {
      countRejection(ctx, e.reason);
      throw new HttpError(401, e.message, { reason: e.reason });
    }
    if (e instanceof ChainUnavailable) {
      ctx.counters.chain.errors++;
      throw new HttpError(503, `chain_unavailable: ${e.message}`, { reason: 'chain_unavailable' });
    }
    throw e;
  }
}

function tokenFromRequest(ctx, req, bodyToken, { headerRequired }) {
  const header = req.headers['x-seal-token'];
  if (headerRequired && !header) {
    countRejection(ctx, REASONS.missing);
    throw new HttpError(401, `${REASONS.missing}: X-Seal-Token header is required`, { reason: REASONS.missing });
  }
  if (header && bodyToken !== undefined && header !== bodyToken) {
    countRejection(ctx, REASONS.headerBodyMismatch);
    throw new HttpError(401, `${REASONS.headerBodyMismatch}: X-Seal-Token differs from body seal_token`,
      { reason: REASONS.headerBodyMismatch });
  }
  return header ?? bodyToken;
}

function validated(fn, body) {
  try {
    fn(body);
  } catch (e) {
    if (e instanceof FieldError) throw new HttpError(400, e.message, { field: e.field });
    throw e;
  }
}

// ---------------------------------------------------------------- signed answers

const OTHER_INTENT = { [INTENT.register]: INTENT.heartbeat, [INTENT.heartbeat]: INTENT.deregister, [INTENT.deregister]: INTENT.register };

function sendSigned(ctx, res, endpoint, intent, data) {
  const fault = ctx.faults.take(endpoint, 'answer', (kind) => kind !== 'replay' || ctx.lastAnswer[endpoint]);
  if (fault?.kind === 'replay') {
    log(ctx, `fault replay on ${endpoint}`);
    ctx.counters.envelopes_sent++;
    return send(ctx, res, 200, ctx.lastAnswer[endpoint]);
  }
  let timestampMs = Date.now();
  let key = ctx.enclave.privateKey;
  let sentIntent = intent;
  let sentData = data;
  switch (fault?.kind) {
    case 'wrong_seq': sentData = { ...data, seq: data.seq > 0 ? data.seq - 1 : data.seq + 1 }; break;
    case 'wrong_nonce': {
      const n = Buffer.from(data.nonce, 'hex');
      n[0] ^= 0xff;
      sentData = { ...data, nonce: n.toString('hex') };
      break;
    }
    case 'stale_timestamp': timestampMs -= LIMITS.skewFaultMs; break;
    case 'future_timestamp': timestampMs += LIMITS.skewFaultMs; break;
    case 'wrong_intent': sentIntent = OTHER_INTENT[intent]; break;
    case 'wrong_key': key = ctx.otherKey.privateKey; break;
    default: break;
  }
  const envelope = signedEnvelope({ intent: sentIntent, timestampMs, data: sentData, dataType: DATA_TYPE_BY_INTENT[intent], key });
  if (fault?.kind === 'bad_signature') {
    const sig = Buffer.from(envelope.signature, 'hex');
    sig[0] ^= 0x01;
    envelope.signature = sig.toString('hex');
  }
  if (fault) log(ctx, `fault ${fault.kind} on ${endpoint}`);
  const bytes = Buffer.from(JSON.stringify(envelope));
  ctx.lastAnswer[endpoint] = bytes;
  ctx.counters.envelopes_sent++;
  return send(ctx, res, 200, bytes);
}

// ---------------------------------------------------------------- endpoints

function handleHealth(ctx, req, res) {
  send(ctx, res, 200, { pk: ctx.enclave.publicKeyHex, endpoints_status: {} });
}

function handleAttestation(ctx, req, res, url) {
  let nonce = null;
  const nonceHex = url.searchParams.get('nonce');
  if (nonceHex !== null && nonceHex !== '') {
    if (!/^([0-9a-fA-F]{2})+$/.test(nonceHex)) throw new HttpError(400, 'nonce: expected hex bytes');
    nonce = Buffer.from(nonceHex, 'hex');
    if (nonce.length > LIMITS.maxNonceBytes) throw new HttpError(400, `nonce: at most ${LIMITS.maxNonceBytes} bytes`);
  }
  const fault = ctx.faults.take('attestation', 'answer', (kind) => kind !== 'replay' || ctx.lastAnswer.attestation);
  if (fault?.kind === 'replay') {
    ctx.counters.attestations_sent++;
    return send(ctx, res, 200, ctx.lastAnswer.attestation);
  }
  if (fault?.kind === 'attestation_no_nonce') nonce = null; // as Nautilus's own server answers
  if (fault?.kind === 'attestation_wrong_nonce') {
    nonce = Buffer.from(nonce ?? crypto.randomBytes(32));
    nonce[0] ^= 0xff;
  }
  const doc = buildAttestationDocument({
    chain: ctx.chain,
    moduleId: ctx.moduleId,
    pcrs: currentPcrs(ctx),
    publicKey: fault?.kind === 'attestation_no_pubkey' ? null : ctx.enclave.publicKeyRaw,
    nonce,
    timestampMs: Date.now() + ctx.settings.attestation_timestamp_offset_ms,
    tag18: ctx.settings.tag18,
    flipSignatureBit: fault?.kind === 'bad_attestation_sig',
  });
  if (fault) log(ctx, `fault ${fault.kind} on attestation`);
  const bytes = Buffer.from(JSON.stringify({ attestation: doc.toString('hex') }));
  ctx.lastAnswer.attestation = bytes;
  ctx.counters.attestations_sent++;
  send(ctx, res, 200, bytes);
}

function clientCertCn(req) {
  const cert = req.socket.getPeerCertificate?.();
  return cert && cert.subject ? cert.subject.CN ?? null : null;
}

async function handleRegister(ctx, req, res) {
  const body = await readJson(req);
  validated(validateRegister, body);
  const raw = tokenFromRequest(ctx, req, body.seal_token, { headerRequired: true });
  const { token, stake } = await checkSealToken(ctx, raw, body.node_id, 'active');

  const now = Date.now();
  const prev = ctx.nodes.get(body.node_id);
  const joinToken = `K10${ctx.clusterCaHash}::node:${crypto.randomBytes(16).toString('hex')}`;
  ctx.nodes.set(body.node_id, {
    node_id: body.node_id,
    staker: token.staker,
    stake_id: token.stake_id,
    registered_at: now,
    register_count: (prev?.register_count ?? 0) + 1,
    agent_version: body.agent_version,
    node: body.node,
    client_cert_cn: clientCertCn(req),
    token_expires_at_ms: Number(token.expires_at_ms),
    join_token: joinToken,
    stake_on_chain: stake,
    // seq is strictly increasing across agent restarts, so it survives a re-registration
    last_seq: prev?.last_seq ?? null,
    heartbeat_count: prev?.heartbeat_count ?? 0,
    last_heartbeat: prev?.last_heartbeat ?? null,
    last_heartbeat_at: prev?.last_heartbeat_at ?? null,
    deregistered: false,
    deregistered_at: null,
    deregister_reason: null,
  });
  log(ctx, `registered ${body.node_id} (stake ${token.stake_id})`);
  sendSigned(ctx, res, 'register', INTENT.register, {
    node_id: body.node_id,
    nonce: body.nonce.toLowerCase(),
    k3s_server_url: ctx.settings.k3s_server_url,
    join_token: joinToken,
    heartbeat_interval_ms: ctx.settings.heartbeat_interval_ms,
    token_expires_at_ms: Number(token.expires_at_ms),
  });
}

function takeCommand(ctx, nodeId) {
  const queue = ctx.commands.get(nodeId);
  if (!queue?.length) return null;
  const entry = queue[0];
  if (entry.count > 0 && --entry.count === 0) queue.shift();
  if (!queue.length) ctx.commands.delete(nodeId);
  return entry.command;
}

async function handleHeartbeat(ctx, req, res) {
  const body = await readJson(req);
  validated(validateHeartbeat, body);
  const raw = tokenFromRequest(ctx, req, undefined, { headerRequired: true });
  let slashed = false;
  try {
    await checkSealToken(ctx, raw, body.node_id, 'active');
  } catch (e) {
    // A master that sees the stake slashed tells the node so (command 3) instead of refusing it;
    // a chain outage does not fail heartbeats of an already registered node.
    const reason = e.extra?.reason;
    if (reason === REASONS.stakeNotActive || reason === REASONS.stakeBelowMin) slashed = true;
    else if (reason !== 'chain_unavailable') throw e;
  }
  const node = ctx.nodes.get(body.node_id);
  if (!node) throw new HttpError(404, `not_registered: node ${body.node_id} has not registered`, { reason: 'not_registered' });
  if (node.last_seq !== null && body.seq <= node.last_seq) {
    throw new HttpError(409, `seq ${body.seq} is not greater than the last seen ${node.last_seq}`,
      { reason: 'seq_not_increasing', last_seq: node.last_seq });
  }
  node.last_seq = body.seq;
  node.heartbeat_count++;
  node.last_heartbeat = body;
  node.last_heartbeat_at = Date.now();

  let command = takeCommand(ctx, body.node_id);
  if (command === null) command = slashed ? 3 : node.deregistered ? 4 : 0;
  sendSigned(ctx, res, 'heartbeat', INTENT.heartbeat, {
    node_id: body.node_id,
    seq: body.seq,
    command,
    heartbeat_interval_ms: ctx.settings.heartbeat_interval_ms,
  });
}

async function handleDeregister(ctx, req, res) {
  const body = await readJson(req);
  validated(validateDeregister, body);
  const raw = tokenFromRequest(ctx, req, body.seal_token, { headerRequired: false });
  // Sent after an unstake too, when the record is WITHDRAWN: the chain check only asks that the
  // record exists and belongs to this staker and node.
  const { token } = await checkSealToken(ctx, raw, body.node_id, 'any');
  const node = ctx.nodes.get(body.node_id);
  if (!node) throw new HttpError(404, `not_registered: node ${body.node_id} has not registered`, { reason: 'not_registered' });
  if (node.staker !== token.staker) {
    countRejection(ctx, REASONS.stakerMismatch);
    throw new HttpError(401, `${REASONS.stakerMismatch}: node was registered by another staker`, { reason: REASONS.stakerMismatch });
  }
  if (!node.deregistered) {
    node.deregistered = true;
    node.deregistered_at = Date.now();
    node.deregister_reason = body.reason;
  }
  log(ctx, `deregistered ${body.node_id} (${body.reason})`);
  sendSigned(ctx, res, 'deregister', INTENT.deregister, { node_id: body.node_id });
}

const ROUTES = {
  '/health_check': { method: 'GET', endpoint: 'health', counter: 'health_check', handler: handleHealth },
  '/get_attestation': { method: 'GET', endpoint: 'attestation', counter: 'get_attestation', handler: handleAttestation },
  '/api/v1/register-worker': { method: 'POST', endpoint: 'register', counter: 'register', handler: handleRegister },
  '/api/v1/nodes/heartbeat': { method: 'POST', endpoint: 'heartbeat', counter: 'heartbeat', handler: handleHeartbeat },
  '/api/v1/deregister': { method: 'POST', endpoint: 'deregister', counter: 'deregister', handler: handleDeregister },
};

async function handleMaster(ctx, req, res) {
  const url = new URL(req.url, 'https://localhost');
  const route = ROUTES[url.pathname];
  if (!route) {
    ctx.counters.requests.other++;
    req.resume();
    return send(ctx, res, 404, { error: `no such endpoint ${url.pathname}` });
  }
  ctx.counters.requests[route.counter]++;
  countSecond(ctx, route.counter);
  if (req.method !== route.method) {
    req.resume();
    return send(ctx, res, 405, { error: `${url.pathname} takes ${route.method}` });
  }
  const fault = ctx.faults.take(route.endpoint, 'transport');
  if (fault) log(ctx, `fault ${fault.kind} on ${route.endpoint}`);
  switch (fault?.kind) {
    case 'reset':
      req.socket.destroy();
      return undefined;
    case 'http500':
    case 'http503':
      req.resume();
      return send(ctx, res, fault.kind === 'http500' ? 500 : 503, { error: `injected fault ${fault.kind}` });
    case 'malformed':
      req.resume();
      return send(ctx, res, 200, '{"response":{"intent":<not json', 'application/json');
    case 'slow':
      await sleep(fault.ms);
      break;
    case 'hang':
      // TCP and TLS accepted, request read, no answer ever (until the client gives up).
      req.resume();
      return undefined;
    default: break;
  }
  try {
    await route.handler(ctx, req, res, url);
  } catch (e) {
    if (!(e instanceof HttpError)) {
      process.stderr.write(`nautilus-master: internal error on ${url.pathname}: ${e.stack}\n`);
      e = new HttpError(500, `internal error: ${e.message}`);
    }
    if (!res.headersSent) {
      req.resume();
      send(ctx, res, e.status, { error: e.message, ...e.extra });
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- wire counters

function countSecond(ctx, counter) {
  const sec = Math.floor(Date.now() / 1000);
  let row = ctx.timeline.get(sec);
  if (!row) {
    row = {};
    ctx.timeline.set(sec, row);
    for (const k of ctx.timeline.keys()) {
      if (k > sec - 900) break;
      ctx.timeline.delete(k);
    }
  }
  row[counter] = (row[counter] ?? 0) + 1;
}

function trackWire(ctx, sock) {
  const w = ctx.wire;
  w.connections++;
  w.live.add(sock);
  sock.once('close', () => {
    w.live.delete(sock);
    w.closed_in += sock.bytesRead;
    w.closed_out += sock.bytesWritten;
  });
}

/** Requests, wire bytes, the per-second timeline and a short view of the nodes (cheap to poll). */
function countersView(ctx) {
  const w = ctx.wire;
  let bytesIn = w.closed_in;
  let bytesOut = w.closed_out;
  for (const s of w.live) {
    bytesIn += s.bytesRead;
    bytesOut += s.bytesWritten;
  }
  return {
    now_ms: Date.now(),
    started_at_ms: ctx.startedAt,
    enclave_public_key: ctx.enclave.publicKeyHex,
    counters: ctx.counters,
    wire: { connections: w.connections, open_connections: w.live.size, bytes_in: bytesIn, bytes_out: bytesOut },
    timeline: Object.fromEntries(ctx.timeline),
    nodes: [...ctx.nodes.values()].map((n) => ({
      node_id: n.node_id,
      register_count: n.register_count,
      registered_at: n.registered_at,
      heartbeat_count: n.heartbeat_count,
      last_heartbeat_at: n.last_heartbeat_at,
      last_seq: n.last_seq,
    })),
  };
}

// ---------------------------------------------------------------- admin API (plain HTTP)

function nodeView(node) {
  return { ...node };
}

function stateView(ctx) {
  const commands = {};
  for (const [k, v] of ctx.commands) commands[k] = v;
  return {
    enclave_public_key: ctx.enclave.publicKeyHex,
    module_id: ctx.moduleId,
    pcrs: Object.fromEntries([...currentPcrs(ctx)].filter(([i]) => i <= 4).map(([i, v]) => [i, v.toString('hex')])),
    settings: ctx.settings,
    chain_check: ctx.opts.chainCheck,
    require_client_cert: ctx.opts.requireClientCert,
    nodes: [...ctx.nodes.values()].map(nodeView),
    counters: ctx.counters,
    faults_pending: ctx.faults.pending,
    faults_fired: ctx.faults.fired,
    commands_pending: commands,
    sui: ctx.sui,
    rotations: ctx.rotations,
    started_at: ctx.startedAt,
  };
}

function adminBadRequest(message) { return new HttpError(400, message); }

const ADMIN = {
  'GET /admin/state': (ctx) => stateView(ctx),
  'GET /admin/counters': (ctx) => countersView(ctx),
  'POST /admin/fault': (ctx, body) => {
    try {
      return { queued: ctx.faults.add(body) };
    } catch (e) {
      throw adminBadRequest(e.message);
    }
  },
  'POST /admin/clear-faults': (ctx) => { ctx.faults.clear(); return { ok: true }; },
  'POST /admin/command': (ctx, body) => {
    const { node_id: nodeId, command, count = 1 } = body ?? {};
    if (typeof nodeId !== 'string' || !nodeId) throw adminBadRequest('node_id: expected a string');
    if (![0, 1, 2, 3, 4, 5].includes(command)) throw adminBadRequest('command: expected 1 (renew), 2 (drain), 3 (slashed), 4 (deregistered), 5 (resume), or 0 to clear');
    if (command === 0) { ctx.commands.delete(nodeId); return { ok: true, cleared: nodeId }; }
    if (!Number.isInteger(count) || (count < 1 && count !== -1)) throw adminBadRequest('count: expected a positive integer or -1');
    const queue = ctx.commands.get(nodeId) ?? [];
    queue.push({ command, count });
    ctx.commands.set(nodeId, queue);
    return { ok: true, pending: queue };
  },
  'POST /admin/settings': (ctx, body) => {
    const s = body ?? {};
    const next = { ...ctx.settings };
    const nextPcrs = [...ctx.configuredPcrs];
    for (const [k, v] of Object.entries(s)) {
      if (/^pcr[012]$/.test(k)) {
        nextPcrs[Number(k[3])] = hexPcr(k, v);
        continue;
      }
      if (k === 'heartbeat_interval_ms') {
        if (!Number.isSafeInteger(v) || v <= 0) throw adminBadRequest('heartbeat_interval_ms: expected a positive integer');
      } else if (k === 'debug_mode' || k === 'tag18') {
        if (typeof v !== 'boolean') throw adminBadRequest(`${k}: expected a boolean`);
      } else if (k === 'attestation_timestamp_offset_ms') {
        if (!Number.isSafeInteger(v)) throw adminBadRequest(`${k}: expected an integer (ms, may be negative)`);
      } else if (k === 'k3s_server_url') {
        if (typeof v !== 'string') throw adminBadRequest('k3s_server_url: expected a string');
      } else {
        throw adminBadRequest(`unknown setting ${k}; known: ${Object.keys(ctx.settings).join(', ')}`);
      }
      next[k] = v;
    }
    ctx.settings = next;
    ctx.configuredPcrs = nextPcrs;
    const pcrs = currentPcrs(ctx);
    return { settings: ctx.settings, pcr0: pcrs.get(0).toString('hex'), pcr1: pcrs.get(1).toString('hex'), pcr2: pcrs.get(2).toString('hex') };
  },
  'POST /admin/rotate-key': async (ctx, body) => {
    const b = body ?? {};
    let newPcrs = null;
    if (b.new_pcrs != null) newPcrs = ['pcr0', 'pcr1', 'pcr2'].map((k) => hexPcr(`new_pcrs.${k}`, b.new_pcrs[k]));
    const previous = ctx.enclave.publicKeyHex;
    ctx.enclave = newEnclaveKey();
    if (newPcrs) ctx.configuredPcrs = newPcrs;
    ctx.rotations++;
    const pcrs = currentPcrs(ctx);
    const out = {
      enclave_public_key: ctx.enclave.publicKeyHex,
      previous_public_key: previous,
      pcr0: pcrs.get(0).toString('hex'), pcr1: pcrs.get(1).toString('hex'), pcr2: pcrs.get(2).toString('hex'),
    };
    const url = b.sui_admin_url ?? ctx.sui.admin_url;
    const cfg = b.enclave_config_id ?? ctx.sui.enclave_config_id;
    if (b.sui_admin_url || b.enclave_config_id || (url && cfg && b.register !== false)) {
      out.sui = await registerOnSui(ctx, { suiAdminUrl: url, configId: cfg, updatePcrs: !!newPcrs });
      out.enclave_id = out.sui.enclave_id;
    }
    return out;
  },
  'POST /admin/register-on-sui': async (ctx, body) => {
    const b = body ?? {};
    return registerOnSui(ctx, { suiAdminUrl: b.sui_admin_url, configId: b.enclave_config_id, appType: b.app_type, updatePcrs: !!b.update_pcrs });
  },
  'POST /admin/reset-counters': (ctx) => { ctx.counters = newCounters(); ctx.faults.fired = {}; return { ok: true }; },
  'POST /admin/forget-nodes': (ctx, body) => {
    if (body?.node_id) ctx.nodes.delete(body.node_id); else ctx.nodes.clear();
    return { ok: true };
  },
};

async function handleAdmin(ctx, req, res) {
  const url = new URL(req.url, 'http://localhost');
  const handler = ADMIN[`${req.method} ${url.pathname}`];
  try {
    if (!handler) throw new HttpError(404, `no admin endpoint ${req.method} ${url.pathname}; known: ${Object.keys(ADMIN).join(', ')}`);
    let body = {};
    if (req.method === 'POST') {
      const raw = await readBody(req);
      if (raw.length) {
        try { body = JSON.parse(raw.toString('utf8')); } catch { throw new HttpError(400, 'body is not valid JSON'); }
      }
    }
    const out = await handler(ctx, body);
    const bytes = Buffer.from(JSON.stringify(out, null, 1));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
    res.end(bytes);
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    const bytes = Buffer.from(JSON.stringify({ error: e.message }));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
    res.end(bytes);
  }
}

// ---------------------------------------------------------------- start-up

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(server.address().port); });
  });
}

async function main() {
  const opts = parseCommandLine(process.argv.slice(2));
  const read = (f) => {
    try { return fs.readFileSync(path.join(opts.pkiDir, f)); } catch (e) { return fail(`cannot read ${f} in --pki ${opts.pkiDir}: ${e.message} (run make-pki.sh first)`, 1); }
  };
  const tls = { key: read('server.key'), cert: read('server.pem'), ca: read('client-ca.pem') };
  let ctx;
  try {
    ctx = createContext(opts);
  } catch (e) {
    return fail(`cannot load the test Nitro chain from ${opts.pkiDir}: ${e.message}`, 1);
  }

  const server = https.createServer({
    ...tls,
    // Without the requirement the server does not even ask for a certificate (a plain TLS server).
    requestCert: opts.requireClientCert,
    rejectUnauthorized: opts.requireClientCert,
  }, (req, res) => {
    const c = ctx.counters.client_certs;
    if (req.socket.authorized) c.authorized++;
    else if (req.socket.getPeerCertificate?.()?.subject) c.unauthorized++;
    else c.none++;
    handleMaster(ctx, req, res).catch((e) => {
      process.stderr.write(`nautilus-master: ${e.stack}\n`);
      if (!res.headersSent) send(ctx, res, 500, { error: 'internal error' });
    });
  });
  server.keepAliveTimeout = LIMITS.keepAliveTimeoutMs;
  server.headersTimeout = LIMITS.headersTimeoutMs;
  server.on('connection', () => { ctx.counters.connections++; });
  server.on('secureConnection', () => { ctx.counters.tls_handshakes++; });
  server.on('tlsClientError', (e) => { ctx.counters.tls_errors++; log(ctx, `TLS client error: ${e.message}`); });

  const admin = http.createServer((req, res) => { handleAdmin(ctx, req, res); });
  admin.keepAliveTimeout = LIMITS.keepAliveTimeoutMs;

  // Connections arrive on a plain TCP front and are handed to the HTTPS server, unless a
  // tls_hang fault holds them: TCP accepted, the ClientHello read and never answered.
  const held = new Set();
  const front = net.createServer((sock) => {
    trackWire(ctx, sock);
    if (ctx.faults.take('any', 'connection')) {
      log(ctx, 'fault tls_hang: holding a connection before TLS');
      held.add(sock);
      ctx.counters.tls_hangs = (ctx.counters.tls_hangs ?? 0) + 1;
      sock.on('data', () => {});
      sock.on('error', () => {});
      sock.on('close', () => held.delete(sock));
      return;
    }
    server.emit('connection', sock);
  });

  let port;
  let adminPort;
  try {
    port = await listen(front, opts.port);
    adminPort = await listen(admin, opts.adminPort);
  } catch (e) {
    return fail(`cannot listen: ${e.message}`, 1);
  }

  const stop = () => {
    front.close();
    for (const sock of held) sock.destroy();
    server.close();
    admin.close();
    server.closeAllConnections();
    admin.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  let suiRegistration;
  if (opts.registerOnStart) {
    try {
      suiRegistration = await registerOnSui(ctx, {});
    } catch (e) {
      return fail(`--register-on-start: ${e.message}`, 1);
    }
  }
  const pcrs = currentPcrs(ctx);
  process.stdout.write(`${JSON.stringify({
    ready: true,
    url: `https://127.0.0.1:${port}`,
    admin: `http://127.0.0.1:${adminPort}`,
    enclave_public_key: ctx.enclave.publicKeyHex,
    pcr0: pcrs.get(0).toString('hex'),
    pcr1: pcrs.get(1).toString('hex'),
    pcr2: pcrs.get(2).toString('hex'),
    nitro_root: path.join(opts.pkiDir, 'nitro-root.pem'),
    ...(suiRegistration ? { sui: suiRegistration } : {}),
  })}\n`);
  return undefined;
}

main();
