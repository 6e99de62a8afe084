// The admin routes the benchmarks use: /admin/slash-batch (one transaction slashing several
// records) and /admin/counters (requests per method and bytes on the wire, per request kind).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { startServer, admin, gql, buildSigned, executeGql, stakeCommands } from '../testing.mjs';

let srv;
let info;
before(async () => {
	srv = await startServer();
	info = srv.info;
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

async function stakeNode(nodeId) {
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '3000000000' });
	const r0 = await gql(info.graphql, `query($o: SuiAddress!) { address(address: $o) { objects(filter: { type: "0x2::coin::Coin<0x2::sui::SUI>" }) { nodes { address version digest } } } }`, { o: me });
	const n = r0.data.address.objects.nodes[0];
	const signed = await buildSigned(k, { gas: { objectId: n.address, version: String(n.version), digest: n.digest } }, stakeCommands(info, info.staking_pool_id, nodeId, 1_000_000_000n));
	const r = await executeGql(info, signed);
	assert.equal(r.data.executeTransaction.effects.status, 'SUCCESS');
	return r.data.executeTransaction.effects.objectChanges.nodes.find((x) => x.idCreated).address;
}

test('slash-batch: one transaction slashes every named record; others untouched', async () => {
	const a = await stakeNode('batch-a');
	const b = await stakeNode('batch-b');
	const c = await stakeNode('batch-c');
	const before = (await admin(info, '/executions')).executions.length;
	const s = await admin(info, '/slash-batch', { node_ids: ['batch-a'], record_ids: [b], all: true, reason: 'batch' });
	assert.equal(s.status, 'success');
	assert.equal(s.records.length, 2);
	assert.deepEqual(s.records.map((r) => [r.id, r.status, r.amount]), [[a, 2, '0'], [b, 2, '0']]);
	assert.equal(s.events.length, 2);
	const ex = (await admin(info, '/executions')).executions;
	assert.equal(ex.length, before + 1, 'one transaction');
	assert.equal(ex.at(-1).digest, s.digest);
	// Both records were written by that transaction; c was not.
	const q = `query($id: SuiAddress!) { object(address: $id) { previousTransaction { digest } asMoveObject { contents { json } } } }`;
	for (const id of [a, b]) assert.equal((await gql(info.graphql, q, { id })).data.object.previousTransaction.digest, s.digest);
	const cj = (await gql(info.graphql, q, { id: c })).data.object;
	assert.notEqual(cj.previousTransaction.digest, s.digest);
	assert.equal(cj.asMoveObject.contents.json.status, 1);
	// Bad input: unknown node, a record named twice, nothing named.
	await assert.rejects(admin(info, '/slash-batch', { node_ids: ['nope'], all: true }), /400/);
	await assert.rejects(admin(info, '/slash-batch', { node_ids: ['batch-c'], record_ids: [c], all: true }), /400/);
	await assert.rejects(admin(info, '/slash-batch', { node_ids: [], all: true }), /400/);
});

test('counters: requests per kind with bytes both ways; admin requests not counted', async () => {
	const c0 = await admin(info, '/counters');
	const body = JSON.stringify({ query: '{ chainIdentifier }' });
	const r = await fetch(info.graphql, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
	const answer = await r.text();
	await admin(info, '/state');
	const c1 = await admin(info, '/counters');
	const k0 = c0.wire.perKind['graphql:chainIdentifier'] ?? { requests: 0, bytes_in: 0, bytes_out: 0 };
	const k1 = c1.wire.perKind['graphql:chainIdentifier'];
	assert.equal(k1.requests - k0.requests, 1);
	assert.equal(c1.wire.requests - c0.wire.requests, 1);
	// Wire bytes include the HTTP headers: more than the bodies, and not much more.
	const din = k1.bytes_in - k0.bytes_in;
	const dout = k1.bytes_out - k0.bytes_out;
	assert.ok(din > body.length && din < body.length + 600, `bytes in ${din}`);
	assert.ok(dout > answer.length && dout < answer.length + 600, `bytes out ${dout}`);
	assert.equal(c1.requests.perMethod['graphql:chainIdentifier'] - (c0.requests.perMethod['graphql:chainIdentifier'] ?? 0), 1);
	assert.ok(c1.wire.connections >= 1);
	const port = String(new URL(info.graphql).port);
	assert.equal(c1.wire.perPort[port].perKind['graphql:chainIdentifier'].requests - (c0.wire.perPort[port]?.perKind['graphql:chainIdentifier']?.requests ?? 0), 1);
	assert.ok(c1.now_ms >= c0.now_ms);
});
