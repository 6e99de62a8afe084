// Register, heartbeat and deregister without a chain (--no-chain-check): seal tokens made with
// @mysten/sui are accepted, each tampered field is refused with its own reason, envelopes verify
// over BCS rebuilt here, heartbeat seq and body rules hold, admin commands reach the node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import {
  admin, envelopeVerifies, heartbeatBody, makePki, makeSealToken, newKeypair, registerBody, removeDir,
  request, startServer, tlsAgent,
} from '../support/helpers.mjs';

let pki;
let srv;
let agent;
let keypair;
let stakeId;
before(async () => {
  pki = makePki();
  srv = await startServer(pki, ['--no-chain-check', '--k3s-server-url', 'https://10.0.0.1:6443']);
  agent = tlsAgent(pki);
  keypair = newKeypair();
  stakeId = `0x${crypto.randomBytes(32).toString('hex')}`;
});
after(async () => {
  agent?.destroy();
  await srv?.stop();
  removeDir(pki);
});

const post = (p, body, headers = {}) => request(`${srv.info.url}${p}`, { agent, method: 'POST', body, headers });

async function register({ nodeId = 'worker-1', token, headerToken } = {}) {
  const tok = token ?? await makeSealToken({ keypair, nodeId, stakeId });
  const body = registerBody({ nodeId, token: tok });
  const r = await post('/api/v1/register-worker', body, headerToken === null ? {} : { 'X-Seal-Token': headerToken ?? tok });
  return { r, body, token: tok };
}

test('a seal token made with @mysten/sui registers; the RegisterAck envelope verifies', async () => {
  const { r, body } = await register();
  assert.equal(r.status, 200, r.text);
  const env = r.json;
  assert.deepEqual(Object.keys(env), ['response', 'signature']);
  assert.deepEqual(Object.keys(env.response), ['intent', 'timestamp_ms', 'data']);
  assert.equal(env.response.intent, 1);
  assert.ok(Math.abs(env.response.timestamp_ms - Date.now()) < 10_000);
  const d = env.response.data;
  assert.deepEqual(Object.keys(d), ['node_id', 'nonce', 'k3s_server_url', 'join_token', 'heartbeat_interval_ms', 'token_expires_at_ms']);
  assert.equal(d.node_id, 'worker-1');
  assert.equal(d.nonce, body.nonce);
  assert.equal(d.k3s_server_url, 'https://10.0.0.1:6443');
  assert.match(d.join_token, /^K10[0-9a-f]{64}::node:[0-9a-f]{32}$/);
  assert.equal(d.heartbeat_interval_ms, 30000);
  assert.ok(d.token_expires_at_ms > Date.now() + 3500_000);
  assert.match(env.signature, /^[0-9a-f]{128}$/);
  assert.ok(envelopeVerifies(env, srv.info.enclave_public_key));
  const tampered = structuredClone(env);
  tampered.response.data.heartbeat_interval_ms += 1;
  assert.equal(envelopeVerifies(tampered, srv.info.enclave_public_key), false);

  const state = await admin(srv.info, 'GET', '/admin/state');
  const node = state.nodes.find((n) => n.node_id === 'worker-1');
  assert.equal(node.staker, keypair.toSuiAddress());
  assert.equal(node.stake_id, stakeId);
  assert.equal(node.client_cert_cn, 'worker-1');
  assert.equal(node.join_token, d.join_token);
  assert.ok(state.counters.seal_token.accepted >= 1);
});

test('audience: empty or the enclave key is accepted, another key is refused', async () => {
  const enclave = Buffer.from(srv.info.enclave_public_key, 'hex');
  const good = await makeSealToken({ keypair, stakeId, fields: { audience: enclave } });
  assert.equal((await register({ token: good })).r.status, 200);
  const bad = await makeSealToken({ keypair, stakeId, fields: { audience: crypto.randomBytes(32) } });
  const { r } = await register({ token: bad });
  assert.equal(r.status, 401);
  assert.equal(r.json.reason, 'wrong_audience');
});

test('each tampered seal-token field is refused with its own reason', async () => {
  const now = Date.now();
  const other = newKeypair();
  const valid = await makeSealToken({ keypair, stakeId });
  const [, p, s] = valid.split('.');
  const cases = [
    ['bad_prefix', `sealv2.${p}.${s}`],
    ['bad_encoding', `sealv1.${p}.${s}.x`],
    ['bad_encoding', `sealv1.${p}=.${s}`],
    ['bad_encoding', `sealv1.${p}.${s}+/`],
    ['bad_payload', `sealv1.AAEC.${s}`],
    ['bad_payload', await makeSealToken({ keypair, stakeId, extraPayloadBytes: Buffer.from([0]) })],
    ['bad_version', await makeSealToken({ keypair, stakeId, fields: { version: 2 } })],
    ['bad_signature_encoding', await makeSealToken({ keypair, stakeId, mutateSignature: (b) => b.subarray(0, 96) })],
    ['bad_signature_encoding', await makeSealToken({ keypair, stakeId, mutateSignature: (b) => { b[0] = 1; return b; } })],
    ['bad_signature', await makeSealToken({ keypair, stakeId, mutateSignature: (b) => { b[10] ^= 1; return b; } })],
    // payload changed after signing (the expiry pushed 1 ms later)
    ['bad_signature', await makeSealToken({ keypair, stakeId, mutatePayload: (b) => { b[b.length - 25] ^= 1; return b; } })],
    ['staker_mismatch', await makeSealToken({ keypair, stakeId, signer: other })],
    ['issued_in_future', await makeSealToken({ keypair, stakeId, fields: { issued_at_ms: BigInt(now + 120_000), expires_at_ms: BigInt(now + 3600_000) } })],
    ['expired', await makeSealToken({ keypair, stakeId, fields: { issued_at_ms: BigInt(now - 7200_000), expires_at_ms: BigInt(now - 1000) } })],
    ['lifetime_too_long', await makeSealToken({ keypair, stakeId, fields: { issued_at_ms: BigInt(now), expires_at_ms: BigInt(now + 25 * 3600_000) } })],
    ['expires_before_issued', await makeSealToken({ keypair, stakeId, fields: { issued_at_ms: BigInt(now + 50_000), expires_at_ms: BigInt(now + 30_000) } })],
    ['wrong_audience', await makeSealToken({ keypair, stakeId, fields: { audience: Buffer.alloc(32, 7) } })],
    ['node_id_mismatch', await makeSealToken({ keypair, stakeId, nodeId: 'worker-2' })],
    ['bad_nonce_length', await makeSealToken({ keypair, stakeId, fields: { nonce: crypto.randomBytes(8) } })],
  ];
  await admin(srv.info, 'POST', '/admin/reset-counters');
  const expected = {};
  for (const [reason, token] of cases) {
    const { r } = await register({ token });
    assert.equal(r.status, 401, `${reason}: ${r.text}`);
    assert.equal(r.json.reason, reason, `expected ${reason}, got ${r.text}`);
    assert.ok(r.json.error.startsWith(reason));
    expected[reason] = (expected[reason] ?? 0) + 1;
  }
  // header rules
  let { r } = await register({ headerToken: null });
  assert.equal(r.json.reason, 'missing_token');
  ({ r } = await register({ headerToken: valid.replace(/.$/, 'A') }));
  assert.equal(r.json.reason, 'header_body_mismatch');
  expected.missing_token = 1;
  expected.header_body_mismatch = 1;

  const state = await admin(srv.info, 'GET', '/admin/state');
  assert.deepEqual(state.counters.seal_token.rejected, expected);
  assert.equal(state.counters.seal_token.accepted, 0);
});

test('register body fields are checked, naming the field', async () => {
  const token = await makeSealToken({ keypair, stakeId });
  const bad = [
    ['nonce', (b) => { b.nonce = 'abcd'; }],
    ['node.cpus', (b) => { b.node.cpus = '2'; }],
    ['node', (b) => { delete b.node; }],
    ['agent_version', (b) => { b.agent_version = 1; }],
  ];
  for (const [field, mutate] of bad) {
    const body = registerBody({ token });
    mutate(body);
    const r = await post('/api/v1/register-worker', body, { 'X-Seal-Token': token });
    assert.equal(r.status, 400, field);
    assert.equal(r.json.field, field);
    assert.match(r.json.error, new RegExp(`^field ${field.replace('.', '\\.')}:`));
  }
  const r = await request(`${srv.info.url}/api/v1/register-worker`, { agent, method: 'POST', body: '{nope', headers: { 'X-Seal-Token': token } });
  assert.equal(r.status, 400);
});

test('heartbeat: registered node, strictly increasing seq, typed body, admin commands', async () => {
  const nodeId = 'worker-hb';
  const token = await makeSealToken({ keypair, nodeId, stakeId });
  const hb = (seq, mutate) => {
    const body = heartbeatBody({ nodeId, seq, stakeId });
    mutate?.(body);
    return post('/api/v1/nodes/heartbeat', body, { 'X-Seal-Token': token });
  };
  let r = await hb(1);
  assert.equal(r.status, 404);
  assert.equal(r.json.reason, 'not_registered');
  assert.equal((await register({ nodeId, token })).r.status, 200);

  r = await hb(5);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.response.data, { node_id: nodeId, seq: 5, command: 0, heartbeat_interval_ms: 30000 });
  assert.equal(r.json.response.intent, 2);
  assert.ok(envelopeVerifies(r.json, srv.info.enclave_public_key));
  for (const seq of [5, 4]) {
    r = await hb(seq);
    assert.equal(r.status, 409);
    assert.equal(r.json.last_seq, 5);
  }
  assert.equal((await hb(6)).status, 200);

  for (const [field, mutate] of [
    ['seq', (b) => { b.seq = -1; }],
    ['stake.amount', (b) => { b.stake.amount = 'lots'; }],
    ['k3s.restarts', (b) => { b.k3s.restarts = 1.5; }],
    ['runtime.type', (b) => { delete b.runtime.type; }],
    ['resources.cpu_percent', (b) => { b.resources.cpu_percent = '12'; }],
    ['running_containers', (b) => { b.running_containers = null; }],
  ]) {
    r = await hb(100, mutate);
    assert.equal(r.status, 400, field);
    assert.equal(r.json.field, field);
  }
  // nullable fields and a u64 amount as a decimal string are fine
  r = await hb(7, (b) => { b.k3s.pid = null; b.runtime.version = null; b.stake.amount = '18446744073709551615'; });
  assert.equal(r.status, 200, r.text);

  r = await post('/api/v1/nodes/heartbeat', heartbeatBody({ nodeId, seq: 8, stakeId }));
  assert.equal(r.json.reason, 'missing_token');

  await admin(srv.info, 'POST', '/admin/command', { node_id: nodeId, command: 2, count: 2 });
  await admin(srv.info, 'POST', '/admin/settings', { heartbeat_interval_ms: 1234 });
  const cmds = [];
  for (const seq of [10, 11, 12]) {
    r = await hb(seq);
    cmds.push(r.json.response.data.command);
    assert.equal(r.json.response.data.heartbeat_interval_ms, 1234);
    assert.ok(envelopeVerifies(r.json, srv.info.enclave_public_key));
  }
  assert.deepEqual(cmds, [2, 2, 0]);
  await admin(srv.info, 'POST', '/admin/settings', { heartbeat_interval_ms: 30000 });

  const state = await admin(srv.info, 'GET', '/admin/state');
  const node = state.nodes.find((n) => n.node_id === nodeId);
  assert.equal(node.last_seq, 12);
  assert.equal(node.heartbeat_count, 6);
  assert.equal(node.last_heartbeat.seq, 12);
  assert.deepEqual(node.last_heartbeat.resources, heartbeatBody({ seq: 0 }).resources);
});

test('deregister answers a DeregisterAck; later heartbeats carry command 4', async () => {
  const nodeId = 'worker-dereg';
  const token = await makeSealToken({ keypair, nodeId, stakeId });
  assert.equal((await register({ nodeId, token })).r.status, 200);
  let r = await post('/api/v1/deregister', { node_id: nodeId, seal_token: token, reason: 'unstake' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.response.intent, 3);
  assert.deepEqual(r.json.response.data, { node_id: nodeId });
  assert.ok(envelopeVerifies(r.json, srv.info.enclave_public_key));
  r = await post('/api/v1/deregister', { node_id: nodeId, seal_token: token, reason: 'unstake' });
  assert.equal(r.status, 200, 'idempotent');
  r = await post('/api/v1/nodes/heartbeat', heartbeatBody({ nodeId, seq: 1, stakeId }), { 'X-Seal-Token': token });
  assert.equal(r.json.response.data.command, 4);
  const other = await makeSealToken({ keypair: newKeypair(), nodeId, stakeId });
  r = await post('/api/v1/deregister', { node_id: nodeId, seal_token: other, reason: 'x' });
  assert.equal(r.json.reason, 'staker_mismatch');
  const ghost = await makeSealToken({ keypair, nodeId: 'ghost', stakeId });
  r = await post('/api/v1/deregister', { node_id: 'ghost', seal_token: ghost, reason: 'x' });
  assert.equal(r.status, 404);
  const state = await admin(srv.info, 'GET', '/admin/state');
  const node = state.nodes.find((n) => n.node_id === nodeId);
  assert.equal(node.deregistered, true);
  assert.equal(node.deregister_reason, 'unstake');
});
