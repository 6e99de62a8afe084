// Key rotation, registration on the Sui stand-in, command 5, run-time PCRs, hang faults.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import path from 'node:path';
import { bcs } from '@mysten/sui/bcs';
import { fromBase64 } from '@mysten/sui/utils';
import { makePki, removeDir, startServer, tlsAgent, request, admin, envelopeVerifies, parseDoc, makeSealToken, newKeypair, registerBody, heartbeatBody } from '../support/helpers.mjs';
import { startServer as startSui } from '../../sui-devnet/testing.mjs';

let pki;
let sui;
before(async () => {
  pki = makePki();
  sui = await startSui();
});
after(async () => {
  await sui?.stop();
  if (pki) removeDir(pki);
});

const Enclave = bcs.struct('Enclave', { id: bcs.Address, pk: bcs.byteVector(), config_version: bcs.u64(), owner: bcs.Address });
const EnclaveConfig = bcs.struct('EnclaveConfig', {
  id: bcs.Address, name: bcs.string(),
  pcrs: bcs.struct('Pcrs', { pos0: bcs.byteVector(), pos1: bcs.byteVector(), pos2: bcs.byteVector() }),
  capability_id: bcs.Address, version: bcs.u64(),
});

async function suiObject(id) {
  const r = await fetch(sui.info.graphql, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query($id: SuiAddress!) { object(address: $id) { asMoveObject { contents { type { repr } bcs } } } }', variables: { id } }),
  });
  return (await r.json()).data.object?.asMoveObject.contents ?? null;
}

async function attestedKey(info, agent) {
  const r = await request(`${info.url}/get_attestation?nonce=00`, { agent });
  const doc = parseDoc(Buffer.from(r.json.attestation, 'hex'));
  return { pk: Buffer.from(doc.payload.get('public_key')).toString('hex'), pcr0: Buffer.from(doc.payload.get('pcrs').get(0)).toString('hex') };
}

test('rotate-key: new key in documents and signatures; registered on Sui; old Enclave falls behind', async () => {
  const m = await startServer(pki, ['--no-chain-check', '--sui-admin', sui.info.admin, '--register-on-start']);
  const agent = tlsAgent(pki);
  try {
    const reg = m.info.sui;
    assert.match(reg.enclave_id, /^0x[0-9a-f]{64}$/);
    assert.equal(reg.config_version, 0);
    let e = await suiObject(reg.enclave_id);
    assert.equal(e.type.repr, `${reg.package_id}::enclave::Enclave<${reg.app_type}>`);
    assert.equal(Buffer.from(Enclave.parse(fromBase64(e.bcs)).pk).toString('hex'), m.info.enclave_public_key);
    const cfg0 = EnclaveConfig.parse(fromBase64((await suiObject(reg.enclave_config_id)).bcs));
    assert.equal(Buffer.from(cfg0.pcrs.pos0).toString('hex'), m.info.pcr0);

    // Rotation with new PCRs: update_pcrs first, then register the new key.
    const newPcrs = { pcr0: 'a1'.repeat(48), pcr1: 'b2'.repeat(48), pcr2: 'c3'.repeat(48) };
    const rot = await admin(m.info, 'POST', '/admin/rotate-key', { new_pcrs: newPcrs });
    assert.notEqual(rot.enclave_public_key, m.info.enclave_public_key);
    assert.equal(rot.previous_public_key, m.info.enclave_public_key);
    assert.equal(rot.pcr0, newPcrs.pcr0);
    assert.equal(rot.sui.config_version_after_update, 1);
    assert.equal(rot.sui.config_version, 1);
    assert.notEqual(rot.enclave_id, reg.enclave_id);
    e = Enclave.parse(fromBase64((await suiObject(rot.enclave_id)).bcs));
    assert.equal(Buffer.from(e.pk).toString('hex'), rot.enclave_public_key);
    assert.equal(e.config_version, '1');
    assert.equal(Enclave.parse(fromBase64((await suiObject(reg.enclave_id)).bcs)).config_version, '0');

    const att = await attestedKey(m.info, agent);
    assert.equal(att.pk, rot.enclave_public_key);
    assert.equal(att.pcr0, newPcrs.pcr0);
    const health = await request(`${m.info.url}/health_check`, { agent });
    assert.equal(health.json.pk, rot.enclave_public_key);

    // Rotation without new PCRs and without Sui: only the key changes.
    const rot2 = await admin(m.info, 'POST', '/admin/rotate-key', { register: false });
    assert.equal(rot2.sui, undefined);
    assert.equal(rot2.pcr0, newPcrs.pcr0);
    assert.equal((await attestedKey(m.info, agent)).pk, rot2.enclave_public_key);
    const state = await admin(m.info, 'GET', '/admin/state');
    assert.equal(state.rotations, 2);
    assert.equal(state.enclave_public_key, rot2.enclave_public_key);

    // register-on-sui registers the current key again (same config, current version).
    const again = await admin(m.info, 'POST', '/admin/register-on-sui', {});
    assert.equal(again.enclave_config_id, reg.enclave_config_id);
    assert.equal(again.enclave_public_key, rot2.enclave_public_key);
    assert.equal(again.config_version, 1);
  } finally {
    agent.destroy();
    await m.stop();
  }
});

test('signed answers use the rotated key; command 5 is accepted; PCRs change at run time', async () => {
  const m = await startServer(pki);
  const agent = tlsAgent(pki);
  try {
    const rot = await admin(m.info, 'POST', '/admin/rotate-key', {});
    assert.equal(rot.sui, undefined);
    const r = await admin(m.info, 'POST', '/admin/command', { node_id: 'worker-1', command: 5 });
    assert.equal(r.pending[0].command, 5);
    const bad = await request(`${m.info.admin}/admin/command`, { method: 'POST', body: { node_id: 'w', command: 6 } });
    assert.equal(bad.status, 400);
    const set = await admin(m.info, 'POST', '/admin/settings', { pcr1: 'dd'.repeat(48) });
    assert.equal(set.pcr1, 'dd'.repeat(48));
    assert.equal(set.pcr0, m.info.pcr0);
    const doc = parseDoc(Buffer.from((await request(`${m.info.url}/get_attestation`, { agent })).json.attestation, 'hex'));
    assert.equal(Buffer.from(doc.payload.get('pcrs').get(1)).toString('hex'), 'dd'.repeat(48));
    assert.equal(Buffer.from(doc.payload.get('public_key')).toString('hex'), rot.enclave_public_key);
    assert.equal((await request(`${m.info.admin}/admin/settings`, { method: 'POST', body: { pcr2: 'zz' } })).status, 400);
    // Every signed answer now verifies with the new key only.
    const keypair = newKeypair();
    const token = await makeSealToken({ keypair, nodeId: 'worker-1' });
    const reg = await request(`${m.info.url}/api/v1/register-worker`, { agent, method: 'POST', body: registerBody({ nodeId: 'worker-1', token }), headers: { 'X-Seal-Token': token } });
    assert.equal(reg.status, 200, reg.text);
    assert.ok(envelopeVerifies(reg.json, rot.enclave_public_key));
    assert.equal(envelopeVerifies(reg.json, m.info.enclave_public_key), false);
    const hb = await request(`${m.info.url}/api/v1/nodes/heartbeat`, { agent, method: 'POST', body: heartbeatBody({ nodeId: 'worker-1', seq: 1 }), headers: { 'X-Seal-Token': token } });
    assert.equal(hb.status, 200, hb.text);
    assert.equal(hb.json.response.data.command, 5);
    assert.ok(envelopeVerifies(hb.json, rot.enclave_public_key));
  } finally {
    agent.destroy();
    await m.stop();
  }
});

test('hang: TLS done, request read, never answered; tls_hang: TCP accepted, TLS never completes', async () => {
  const m = await startServer(pki);
  try {
    await admin(m.info, 'POST', '/admin/fault', { kind: 'hang', endpoint: 'health' });
    const agent = tlsAgent(pki);
    const t0 = Date.now();
    await assert.rejects(request(`${m.info.url}/health_check`, { agent, timeoutMs: 800 }), /timeout/);
    assert.ok(Date.now() - t0 >= 700);
    const st = await admin(m.info, 'GET', '/admin/state');
    assert.equal(st.faults_fired.hang, 1);
    assert.ok(st.counters.tls_handshakes >= 1);
    agent.destroy();
    // The next request is answered.
    const agent2 = tlsAgent(pki);
    assert.equal((await request(`${m.info.url}/health_check`, { agent: agent2 })).status, 200);
    agent2.destroy();

    assert.equal((await request(`${m.info.admin}/admin/fault`, { method: 'POST', body: { kind: 'tls_hang', endpoint: 'health' } })).status, 400);
    await admin(m.info, 'POST', '/admin/fault', { kind: 'tls_hang' });
    const before = (await admin(m.info, 'GET', '/admin/state')).counters.tls_handshakes;
    const port = Number(new URL(m.info.url).port);
    const read = (f) => fs.readFileSync(path.join(pki, f));
    const outcome = await new Promise((resolve) => {
      let connected = false;
      const raw = net.connect(port, '127.0.0.1', () => { connected = true; });
      const s = tls.connect({ socket: raw, ca: read('tls-ca.pem'), cert: read('client.pem'), key: read('client.key'), servername: 'localhost' });
      s.on('secureConnect', () => resolve('tls-done'));
      s.on('error', (e) => resolve(`error ${e.message}`));
      setTimeout(() => { resolve(connected ? 'tcp-only' : 'no-tcp'); s.destroy(); }, 800);
    });
    assert.equal(outcome, 'tcp-only');
    const after = await admin(m.info, 'GET', '/admin/state');
    assert.equal(after.counters.tls_handshakes, before);
    assert.equal(after.counters.tls_hangs, 1);
    const agent3 = tlsAgent(pki);
    assert.equal((await request(`${m.info.url}/health_check`, { agent: agent3 })).status, 200);
    agent3.destroy();
  } finally {
    assert.equal(await m.stop(), 0);
  }
});
