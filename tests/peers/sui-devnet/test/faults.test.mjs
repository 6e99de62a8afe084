// Every fault kind behaves as documented; several ports share one chain; schema validation errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { startServer, admin, post, gql, rpc, buildSigned, executeGql, stakeCommands } from '../testing.mjs';

let srv;
let info;
before(async () => {
	srv = await startServer(['--extra-ports', '1']);
	info = srv.info;
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

const CHAIN_ID = { query: '{ chainIdentifier }' };
const fault = (spec) => admin(info, '/fault', spec);

async function gasRef(owner, url = info.graphql) {
	const r = await gql(url, `query($o: SuiAddress!) { address(address: $o) { objects(filter: { type: "0x2::coin::Coin<0x2::sui::SUI>" }) { nodes { address version digest } } } }`, { o: owner });
	const n = r.data.address.objects.nodes[0];
	return { objectId: n.address, version: String(n.version), digest: n.digest };
}

test('ready line and shared state across ports', async () => {
	assert.equal(info.ready, true);
	assert.equal(info.graphql_urls.length, 2);
	assert.equal(info.jsonrpc_urls.length, 2);
	assert.equal(info.graphql, info.graphql_urls[0]);
	assert.match(info.package_id, /^0x[0-9a-f]{64}$/);
	assert.match(info.staking_pool_id, /^0x[0-9a-f]{64}$/);
	assert.match(info.admin_address, /^0x[0-9a-f]{64}$/);
	assert.equal(info.module, 'staking');
	assert.equal(info.min_stake_mist, '1000000000');
	assert.ok(Number.isInteger(info.pool_initial_shared_version));
	const k = Ed25519Keypair.generate();
	await admin(info, '/fund', { address: k.toSuiAddress(), amount_mist: '1234', coins: 1 });
	const other = await gql(info.graphql_urls[1], `query($o: SuiAddress!) { address(address: $o) { balance(coinType: "0x2::sui::SUI") { totalBalance } } }`, { o: k.toSuiAddress() });
	assert.equal(other.data.address.balance.totalBalance, '1234');
});

test('invalid GraphQL is answered with schema validation errors (HTTP 200)', async () => {
	let r = await post(info.graphql, { query: '{ chainIdentifier noSuchField }' });
	assert.equal(r.status, 200);
	assert.match(r.json.errors[0].message, /Cannot query field "noSuchField" on type "Query"/);
	assert.equal(r.json.data, undefined);
	r = await post(info.graphql, { query: '{ epoch { epochId referenceGasPrice { x } } }' });
	assert.equal(r.status, 200);
	assert.ok(r.json.errors.length >= 1);
	r = await post(info.graphql, { query: 'query($a: UInt53!) { epoch(epochId: $a) { epochId } }', variables: {} });
	assert.match(r.json.errors[0].message, /\$a/);
	r = await post(info.graphql, { query: '{ object(address: "0x5") { address } ' });
	assert.match(r.json.errors[0].message, /Syntax Error/);
});

test('latency, http500, http429, malformed, graphql_error', async () => {
	await fault({ kind: 'latency', ms: 300, target: 'graphql' });
	let t0 = Date.now();
	let r = await post(info.graphql, CHAIN_ID);
	assert.ok(Date.now() - t0 >= 290);
	assert.equal(r.json.data.chainIdentifier, info.chain_identifier);

	await fault({ kind: 'http500', count: 2 });
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 500);
	assert.equal((await post(info.jsonrpc, { jsonrpc: '2.0', id: 1, method: 'suix_getReferenceGasPrice', params: [] })).status, 500);
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200);

	await fault({ kind: 'http429' });
	const res = await fetch(info.graphql, { method: 'POST', body: JSON.stringify(CHAIN_ID) });
	assert.equal(res.status, 429);
	assert.equal(res.headers.get('retry-after'), '1');
	await res.text();

	await fault({ kind: 'malformed' });
	r = await post(info.graphql, CHAIN_ID);
	assert.equal(r.status, 200);
	assert.equal(r.json, null);

	await fault({ kind: 'graphql_error', target: 'graphql' });
	r = await post(info.graphql, CHAIN_ID);
	assert.equal(r.status, 200);
	assert.equal(r.json.data, null);
	assert.ok(r.json.errors.length === 1);
	await fault({ kind: 'graphql_error', target: 'jsonrpc' });
	const j = await rpc(info.jsonrpc, 'suix_getReferenceGasPrice');
	assert.equal(j.error.code, -32603);
	assert.equal((await rpc(info.jsonrpc, 'suix_getReferenceGasPrice')).result, '750');
});

test('truncated, reset, hang', async () => {
	const full = (await post(info.graphql, CHAIN_ID)).text;
	await fault({ kind: 'truncated' });
	const r = await post(info.graphql, CHAIN_ID);
	assert.equal(r.status, 200);
	assert.equal(r.json, null);
	assert.ok(r.text.length > 0 && full.startsWith(r.text) && r.text.length < full.length);

	await fault({ kind: 'reset' });
	await assert.rejects(post(info.graphql, CHAIN_ID));
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200);

	await fault({ kind: 'hang', target: 'jsonrpc' });
	const t0 = Date.now();
	await assert.rejects(
		post(info.jsonrpc, { jsonrpc: '2.0', id: 1, method: 'suix_getReferenceGasPrice', params: [] }, { signal: AbortSignal.timeout(400) }),
		(e) => e.name === 'TimeoutError' || e.name === 'AbortError',
	);
	assert.ok(Date.now() - t0 >= 390);
	assert.equal((await rpc(info.jsonrpc, 'suix_getReferenceGasPrice')).result, '750');
});

test('port, method and count filters; clear-faults; state', async () => {
	const [p0, p1] = info.ports;
	await fault({ kind: 'http500', port: p1, count: -1 });
	assert.equal((await post(info.graphql_urls[1], CHAIN_ID)).status, 500);
	assert.equal((await post(info.graphql_urls[1], CHAIN_ID)).status, 500);
	assert.equal((await post(info.graphql_urls[0], CHAIN_ID)).status, 200);
	let st = await admin(info, '/state');
	assert.equal(st.faults_pending.length, 1);
	assert.ok(st.requests.perPort[p1].total >= 2);
	assert.ok(st.requests.perPort[p0].methods['graphql:chainIdentifier'] >= 1);
	assert.equal((await admin(info, '/clear-faults', {})).cleared, 1);
	assert.equal((await post(info.graphql_urls[1], CHAIN_ID)).status, 200);

	await fault({ kind: 'http500', method: 'executeTransaction' });
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200);
	st = await admin(info, '/state');
	assert.equal(st.faults_pending.length, 1, 'not consumed by other queries');
	await admin(info, '/clear-faults', {});
});

test('indexer_lag and execute_then_reset', async () => {
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '3000000000', coins: 2 });
	const TX = `query($d: String!) { transaction(digest: $d) { digest effects { status } } }`;

	// indexer_lag: the transaction is final but look-ups do not see it for N polls.
	const s1 = await buildSigned(k, { gas: await gasRef(me) }, stakeCommands(info, info.staking_pool_id, 'node-lag', 1_000_000_000n));
	await fault({ kind: 'indexer_lag', count: 2 });
	const ex = await executeGql(info, s1);
	assert.equal(ex.data.executeTransaction.effects.status, 'SUCCESS');
	assert.equal((await gql(info.graphql, TX, { d: s1.digest })).data.transaction, null);
	assert.equal((await gql(info.graphql, TX, { d: s1.digest })).data.transaction, null);
	assert.equal((await gql(info.graphql, TX, { d: s1.digest })).data.transaction.digest, s1.digest);
	await fault({ kind: 'indexer_lag', count: 1, target: 'jsonrpc' });
	const nf = await rpc(info.jsonrpc, 'sui_getTransactionBlock', [s1.digest, { showEffects: true }]);
	assert.equal(nf.error.code, -32602);
	assert.match(nf.error.message, /Could not find the referenced transaction/);
	assert.equal((await rpc(info.jsonrpc, 'sui_getTransactionBlock', [s1.digest, { showEffects: true }])).result.effects.status.status, 'success');

	// execute_then_reset: applied for real, connection dropped; found later by digest; resubmission is idempotent.
	const k2 = Ed25519Keypair.generate();
	const me2 = k2.toSuiAddress();
	await admin(info, '/fund', { address: me2, amount_mist: '3000000000' });
	const s2 = await buildSigned(k2, { gas: await gasRef(me2) }, stakeCommands(info, info.staking_pool_id, 'node-reset', 1_000_000_000n));
	await fault({ kind: 'execute_then_reset', target: 'graphql' });
	await assert.rejects(executeGql(info, s2));
	const found = await gql(info.graphql, TX, { d: s2.digest });
	assert.equal(found.data.transaction.effects.status, 'SUCCESS');
	const again = await executeGql(info, s2);
	assert.equal(again.data.executeTransaction.effects.digest, s2.digest);
	const list = (await admin(info, `/executions?sender=${me2}`)).executions;
	assert.equal(list.length, 1);
	assert.equal(list[0].execution_requests, 2);

	// The same over JSON-RPC (on the second port).
	const k3 = Ed25519Keypair.generate();
	const me3 = k3.toSuiAddress();
	await admin(info, '/fund', { address: me3, amount_mist: '3000000000' });
	const s3 = await buildSigned(k3, { gas: await gasRef(me3) }, stakeCommands(info, info.staking_pool_id, 'node-reset-rpc', 1_000_000_000n));
	await fault({ kind: 'execute_then_reset', port: info.ports[1] });
	await assert.rejects(rpc(info.jsonrpc_urls[1], 'sui_executeTransactionBlock', [s3.b64, [s3.signature], { showEffects: true }]));
	const tb = await rpc(info.jsonrpc_urls[0], 'sui_getTransactionBlock', [s3.digest, { showEffects: true }]);
	assert.equal(tb.result.effects.status.status, 'success');
});
