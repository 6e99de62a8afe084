// POST /admin/fault: every fault kind does what it says, counts and endpoint filters hold.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import {
  admin, coseSignatureValid, envelopeVerifies, heartbeatBody, makePki, makeSealToken, newKeypair, parseDoc,
  registerBody, removeDir, request, startServer, tlsAgent,
} from '../support/helpers.mjs';

let pki;
let srv;
let agent;
let keypair;
let token;
let seq = 0;
const NODE = 'worker-1';

before(async () => {
  pki = makePki();
  srv = await startServer(pki);
  agent = tlsAgent(pki);
  keypair = newKeypair();
  token = await makeSealToken({ keypair, nodeId: NODE });
  const r = await register();
  assert.equal(r.status, 200, r.text);
});
after(async () => {
  agent?.destroy();
  await srv?.stop();
  removeDir(pki);
});
beforeEach(() => admin(srv.info, 'POST', '/admin/clear-faults'));

const pk = () => srv.info.enclave_public_key;
const fault = (spec) => admin(srv.info, 'POST', '/admin/fault', spec);
const post = (p, body, a = agent) => request(`${srv.info.url}${p}`, { agent: a, method: 'POST', body, headers: { 'X-Seal-Token': token } });
const register = (nonce) => post('/api/v1/register-worker', registerBody({ nodeId: NODE, token, nonce }));
const heartbeat = (s = ++seq) => post('/api/v1/nodes/heartbeat', heartbeatBody({ nodeId: NODE, seq: s }));
const deregister = () => post('/api/v1/deregister', { node_id: NODE, seal_token: token, reason: 'test' });
const attestation = (nonceHex = crypto.randomBytes(32).toString('hex')) => request(`${srv.info.url}/get_attestation?nonce=${nonceHex}`, { agent });

test('http500 and http503 answer the status without touching state', async () => {
  const before_ = (await admin(srv.info, 'GET', '/admin/state')).nodes[0].heartbeat_count;
  await fault({ kind: 'http500', endpoint: 'heartbeat' });
  let r = await heartbeat();
  assert.equal(r.status, 500);
  await fault({ kind: 'http503' });
  r = await attestation();
  assert.equal(r.status, 503);
  assert.equal((await heartbeat()).status, 200, 'each fault fires once by default');
  assert.equal((await admin(srv.info, 'GET', '/admin/state')).nodes[0].heartbeat_count, before_ + 1);
});

test('slow delays the answer by ms', async () => {
  await fault({ kind: 'slow', ms: 400, endpoint: 'register' });
  const t0 = Date.now();
  const r = await register();
  assert.ok(Date.now() - t0 >= 390);
  assert.equal(r.status, 200);
  assert.ok(envelopeVerifies(r.json, pk()));
});

test('bad_signature flips a signature bit; wrong_key signs with another key', async () => {
  for (const kind of ['bad_signature', 'wrong_key']) {
    await fault({ kind, endpoint: 'heartbeat' });
    const r = await heartbeat();
    assert.equal(r.status, 200);
    assert.match(r.json.signature, /^[0-9a-f]{128}$/);
    assert.equal(envelopeVerifies(r.json, pk()), false, kind);
    assert.equal(r.json.response.data.seq, seq, `${kind}: data intact`);
  }
  assert.ok(envelopeVerifies((await heartbeat()).json, pk()));
});

test('replay answers with the previous envelope of the endpoint, byte for byte', async () => {
  const first = await register();
  await fault({ kind: 'replay', endpoint: 'register' });
  const second = await register();
  assert.equal(second.text, first.text);
  assert.ok(envelopeVerifies(second.json, pk()), 'a replay carries a valid signature');
  const third = await register();
  assert.notEqual(third.text, first.text);
  // attestation replay: the old document with the old nonce
  const a1 = await attestation('01');
  await fault({ kind: 'replay', endpoint: 'attestation' });
  const a2 = await attestation('02');
  assert.equal(a2.text, a1.text);
});

test('wrong_seq and wrong_nonce alter the data, correctly signed', async () => {
  await fault({ kind: 'wrong_seq' });
  const s = ++seq;
  let r = await heartbeat(s);
  assert.equal(r.json.response.data.seq, s - 1);
  assert.ok(envelopeVerifies(r.json, pk()));
  const nonce = crypto.randomBytes(32).toString('hex');
  await fault({ kind: 'wrong_nonce' });
  r = await register(nonce);
  assert.notEqual(r.json.response.data.nonce, nonce);
  assert.match(r.json.response.data.nonce, /^[0-9a-f]{64}$/);
  assert.ok(envelopeVerifies(r.json, pk()));
});

test('stale_timestamp and future_timestamp move the timestamp by 10 minutes, correctly signed', async () => {
  for (const [kind, offset] of [['stale_timestamp', -600_000], ['future_timestamp', 600_000]]) {
    await fault({ kind, endpoint: 'deregister' });
    const r = await deregister();
    assert.equal(r.status, 200, r.text);
    assert.ok(Math.abs(r.json.response.timestamp_ms - (Date.now() + offset)) < 10_000, kind);
    assert.ok(envelopeVerifies(r.json, pk()), kind);
  }
  await register(); // undo the deregistration for the tests that follow
});

test('wrong_intent sends another intent, signed over it', async () => {
  await fault({ kind: 'wrong_intent', endpoint: 'heartbeat' });
  const r = await heartbeat();
  assert.notEqual(r.json.response.intent, 2);
  assert.ok([1, 3].includes(r.json.response.intent));
  assert.ok(envelopeVerifies(r.json, pk(), 2), 'valid signature over the intent as sent and the HeartbeatAck data');
});

test('malformed answers 200 with a body that is not JSON', async () => {
  await fault({ kind: 'malformed', endpoint: 'register' });
  const r = await register();
  assert.equal(r.status, 200);
  assert.throws(() => JSON.parse(r.text));
});

test('reset destroys the connection', async () => {
  await fault({ kind: 'reset', endpoint: 'heartbeat' });
  await assert.rejects(heartbeat(), (e) => /ECONNRESET|socket hang up/.test(`${e.code} ${e.message}`));
  assert.equal((await heartbeat()).status, 200, 'the agent reconnects');
});

test('attestation faults: bad_attestation_sig, attestation_wrong_nonce, attestation_no_pubkey, attestation_no_nonce', async () => {
  const nonce = crypto.randomBytes(32).toString('hex');
  await fault({ kind: 'bad_attestation_sig' });
  let doc = parseDoc(Buffer.from((await attestation(nonce)).json.attestation, 'hex'));
  assert.equal(coseSignatureValid(doc, doc.payload.get('certificate')), false);

  await fault({ kind: 'attestation_wrong_nonce' });
  doc = parseDoc(Buffer.from((await attestation(nonce)).json.attestation, 'hex'));
  assert.ok(coseSignatureValid(doc, doc.payload.get('certificate')));
  assert.notEqual(Buffer.from(doc.payload.get('nonce')).toString('hex'), nonce);

  await fault({ kind: 'attestation_no_pubkey' });
  doc = parseDoc(Buffer.from((await attestation(nonce)).json.attestation, 'hex'));
  assert.ok(coseSignatureValid(doc, doc.payload.get('certificate')));
  assert.equal(doc.payload.get('public_key'), null);

  await fault({ kind: 'attestation_no_nonce' });
  doc = parseDoc(Buffer.from((await attestation(nonce)).json.attestation, 'hex'));
  assert.ok(coseSignatureValid(doc, doc.payload.get('certificate')));
  assert.equal(doc.payload.get('nonce'), null);

  doc = parseDoc(Buffer.from((await attestation(nonce)).json.attestation, 'hex'));
  assert.equal(Buffer.from(doc.payload.get('public_key')).toString('hex'), pk());
  assert.equal(Buffer.from(doc.payload.get('nonce')).toString('hex'), nonce);
});

test('count, -1 until cleared, endpoint filter, and bad fault requests', async () => {
  await fault({ kind: 'http503', endpoint: 'heartbeat', count: 2 });
  assert.equal((await register()).status, 200, 'other endpoints unaffected');
  assert.deepEqual([(await heartbeat()).status, (await heartbeat()).status, (await heartbeat()).status], [503, 503, 200]);

  await fault({ kind: 'http500', count: -1 });
  for (let i = 0; i < 3; i++) assert.equal((await heartbeat()).status, 500);
  let state = await admin(srv.info, 'GET', '/admin/state');
  assert.equal(state.faults_pending.length, 1);
  assert.equal(state.faults_pending[0].kind, 'http500');
  await admin(srv.info, 'POST', '/admin/clear-faults');
  assert.equal((await heartbeat()).status, 200);
  state = await admin(srv.info, 'GET', '/admin/state');
  assert.equal(state.faults_pending.length, 0);
  assert.ok(state.faults_fired.http500 >= 3);

  for (const bad of [{ kind: 'nope' }, { kind: 'wrong_seq', endpoint: 'register' }, { kind: 'http500', endpoint: 'mars' }, { kind: 'slow', count: 0 }]) {
    const r = await request(`${srv.info.admin}/admin/fault`, { method: 'POST', body: bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.ok(r.json.error);
  }
});

test('a seal token for another node is refused on heartbeat too', async () => {
  const other = await makeSealToken({ keypair, nodeId: 'worker-9' });
  const r = await request(`${srv.info.url}/api/v1/nodes/heartbeat`, {
    agent, method: 'POST', body: heartbeatBody({ nodeId: NODE, seq: ++seq }), headers: { 'X-Seal-Token': other },
  });
  assert.equal(r.status, 401);
  assert.equal(r.json.reason, 'node_id_mismatch');
});
