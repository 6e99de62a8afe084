// The on-chain part of the seal-token check, against a minimal GraphQL responder made here (not
// the sui-devnet peer): each StakeRecord mismatch has its own reason, a chain outage is a 503 on
// register, a slashed record turns heartbeat answers into command 3.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import {
  admin, envelopeVerifies, heartbeatBody, makePki, makeSealToken, newKeypair, randomAddress, registerBody,
  removeDir, request, startServer, tlsAgent,
} from '../support/helpers.mjs';

const PACKAGE = `0x${'ab'.repeat(32)}`;
const MIN_STAKE = 1000;

let pki;
let srv;
let agent;
let graphql;
const objects = new Map(); // address -> object answer (null: not found)
const queries = [];
let graphqlDown = false;

function stakeRecord(fields, type = `${PACKAGE}::staking::StakeRecord`) {
  return {
    address: fields.id,
    version: 7,
    asMoveObject: { contents: { type: { repr: type }, json: { staked_at: '1', locked_until: '2', stake_type: 'node', ...fields } } },
  };
}

before(async () => {
  graphql = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      queries.push(body);
      if (graphqlDown) { res.writeHead(502); res.end('bad gateway'); return; }
      const address = body.variables?.address;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { object: objects.get(address) ?? null } }));
    });
  });
  await new Promise((r) => graphql.listen(0, '127.0.0.1', r));
  pki = makePki();
  srv = await startServer(pki, ['--sui-graphql', `http://127.0.0.1:${graphql.address().port}/graphql`,
    '--package-id', `0x${'AB'.repeat(32)}`, // normalized before comparison
    '--min-stake', String(MIN_STAKE)]);
  agent = tlsAgent(pki);
});
after(async () => {
  agent?.destroy();
  await srv?.stop();
  graphql?.close();
  removeDir(pki);
});

const post = (p, body, token) => request(`${srv.info.url}${p}`, { agent, method: 'POST', body, headers: token ? { 'X-Seal-Token': token } : {} });

async function setup({ nodeId = 'worker-1', record = {}, type } = {}) {
  const keypair = newKeypair();
  const stakeId = randomAddress();
  const fields = { id: stakeId, staker: keypair.toSuiAddress(), amount: '5000', status: 1, node_id: nodeId, ...record };
  objects.set(stakeId, stakeRecord(fields, type));
  const token = await makeSealToken({ keypair, nodeId, stakeId });
  return { keypair, stakeId, token, nodeId, fields };
}

const register = ({ token, nodeId }) => post('/api/v1/register-worker', registerBody({ nodeId, token }), token);

test('an ACTIVE StakeRecord of the staker and node registers', async () => {
  const s = await setup();
  const r = await register(s);
  assert.equal(r.status, 200, r.text);
  assert.ok(envelopeVerifies(r.json, srv.info.enclave_public_key));
  const q = queries.at(-1);
  assert.equal(q.variables.address, s.stakeId);
  assert.match(q.query, /object\(address: \$address\)/);
  const state = await admin(srv.info, 'GET', '/admin/state');
  assert.deepEqual(state.nodes.find((n) => n.node_id === 'worker-1').stake_on_chain, { version: 7, amount: '5000', status: 1 });
  // status as a string and amount as a number are fine too
  const t = await setup({ nodeId: 'worker-2', record: { status: '1', amount: 1000 } });
  assert.equal((await register(t)).status, 200);
});

test('each StakeRecord mismatch is refused with its own reason', async () => {
  const cases = [
    ['stake_wrong_type', { type: `0x${'cd'.repeat(32)}::staking::StakeRecord` }],
    ['stake_wrong_type', { type: `${PACKAGE}::staking::Other` }],
    ['stake_staker_mismatch', { record: { staker: randomAddress() } }],
    ['stake_node_id_mismatch', { record: { node_id: 'worker-x' } }],
    ['stake_not_active', { record: { status: 2 } }],
    ['stake_not_active', { record: { status: 3 } }],
    ['stake_below_minimum', { record: { amount: String(MIN_STAKE - 1) } }],
  ];
  for (const [reason, opts] of cases) {
    const s = await setup(opts);
    const r = await register(s);
    assert.equal(r.status, 401, `${reason}: ${r.text}`);
    assert.equal(r.json.reason, reason);
  }
  const s = await setup();
  objects.delete(s.stakeId);
  const r = await register(s);
  assert.equal(r.json.reason, 'stake_not_found');
});

test('a chain outage is a 503 on register, not a rejection', async () => {
  const s = await setup({ nodeId: 'worker-outage' });
  graphqlDown = true;
  try {
    const r = await register(s);
    assert.equal(r.status, 503);
    assert.equal(r.json.reason, 'chain_unavailable');
  } finally {
    graphqlDown = false;
  }
  assert.equal((await register(s)).status, 200);
});

test('heartbeats: command 3 once the record is slashed; a chain outage does not fail them', async () => {
  const s = await setup({ nodeId: 'worker-slash' });
  assert.equal((await register(s)).status, 200);
  const hb = (seq) => post('/api/v1/nodes/heartbeat', heartbeatBody({ nodeId: s.nodeId, seq, stakeId: s.stakeId }), s.token);
  assert.equal((await hb(1)).json.response.data.command, 0);
  graphqlDown = true;
  try {
    const r = await hb(2);
    assert.equal(r.status, 200);
    assert.equal(r.json.response.data.command, 0);
  } finally {
    graphqlDown = false;
  }
  objects.set(s.stakeId, stakeRecord({ ...s.fields, amount: '0', status: 2 }));
  const r = await hb(3);
  assert.equal(r.status, 200);
  assert.equal(r.json.response.data.command, 3);
  assert.ok(envelopeVerifies(r.json, srv.info.enclave_public_key));
});

test('deregister after an unstake (WITHDRAWN record) is accepted', async () => {
  const s = await setup({ nodeId: 'worker-unstake' });
  assert.equal((await register(s)).status, 200);
  objects.set(s.stakeId, stakeRecord({ ...s.fields, status: 3 }));
  const r = await post('/api/v1/deregister', { node_id: s.nodeId, seal_token: s.token, reason: 'unstake' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.response.intent, 3);
});
