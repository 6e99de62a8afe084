// What a watcher of one object needs, on both transports: version, digest, the digest of the
// transaction that last wrote it, BCS contents; and events newest first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { bcs } from '@mysten/sui/bcs';
import { fromBase64 } from '@mysten/sui/utils';
import { startServer, admin, gql, rpc, post, buildSigned, executeGql, stakeCommands } from '../testing.mjs';

let srv;
let info;
before(async () => {
	srv = await startServer();
	info = srv.info;
});
after(async () => {
	await srv?.stop();
});

const StakeRecord = bcs.struct('StakeRecord', {
	id: bcs.Address,
	staker: bcs.Address,
	amount: bcs.u64(),
	staked_at: bcs.u64(),
	locked_until: bcs.u64(),
	status: bcs.u8(),
	node_id: bcs.string(),
	stake_type: bcs.string(),
});

const Q_WATCH = `query($id: SuiAddress!) {
  object(address: $id) {
    address version digest
    previousTransaction { digest }
    owner { __typename ... on Shared { initialSharedVersion } }
    asMoveObject { contents { type { repr } bcs json } }
  }
}`;

async function gasRef(owner) {
	const r = await gql(info.graphql, `query($o: SuiAddress!) { address(address: $o) { objects { nodes { address version digest } } } }`, { o: owner });
	const n = r.data.address.objects.nodes[0];
	return { objectId: n.address, version: String(n.version), digest: n.digest };
}

async function both(id) {
	const g = (await gql(info.graphql, Q_WATCH, { id })).data.object;
	const opts = { showType: true, showOwner: true, showPreviousTransaction: true, showBcs: true, showContent: true };
	const r = (await rpc(info.jsonrpc, 'sui_getObject', [id, opts])).result.data;
	// The same request with named parameters, as jsonrpsee also accepts.
	const named = (await post(info.jsonrpc, { jsonrpc: '2.0', id: 2, method: 'sui_getObject', params: { object_id: id, options: opts } })).json.result.data;
	assert.deepEqual(named, r);
	return { g, r };
}

test('StakeRecord: version, digest, previousTransaction and BCS agree on both transports and follow every write', async () => {
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '5000000000' });
	const r = await executeGql(info, await buildSigned(k, { gas: await gasRef(me) }, stakeCommands(info, info.staking_pool_id, 'node-watch', 2_000_000_000n)));
	const stakeDigest = r.data.executeTransaction.effects.digest;
	const recordId = r.data.executeTransaction.effects.objectChanges.nodes.find((n) => n.idCreated).address;

	let { g, r: j } = await both(recordId);
	assert.equal(g.previousTransaction.digest, stakeDigest);
	assert.equal(j.previousTransaction, stakeDigest);
	assert.equal(j.version, String(g.version));
	assert.equal(j.digest, g.digest);
	assert.equal(j.bcs.dataType, 'moveObject');
	assert.equal(j.bcs.bcsBytes, g.asMoveObject.contents.bcs);
	assert.equal(j.bcs.version, String(g.version));
	assert.equal(j.bcs.type, `${info.package_id}::staking::StakeRecord`);
	assert.equal(g.asMoveObject.contents.type.repr, j.bcs.type);
	let rec = StakeRecord.parse(fromBase64(g.asMoveObject.contents.bcs));
	assert.equal(rec.id, recordId);
	assert.equal(rec.staker, me);
	assert.equal(rec.amount, '2000000000');
	assert.equal(rec.status, 1);
	assert.equal(rec.node_id, 'node-watch');
	const v1 = g.version;
	const d1 = g.digest;

	const s = await admin(info, '/slash', { record_id: recordId, amount_mist: '1', reason: 'watch' });
	({ g, r: j } = await both(recordId));
	assert.ok(g.version > v1);
	assert.notEqual(g.digest, d1);
	assert.equal(g.previousTransaction.digest, s.digest);
	assert.equal(j.previousTransaction, s.digest);
	assert.equal(j.digest, g.digest);
	rec = StakeRecord.parse(fromBase64(j.bcs.bcsBytes));
	assert.equal(rec.amount, '1999999999');
	// The old version stays readable with its own previous transaction.
	const old = (await gql(info.graphql, `query($id: SuiAddress!, $v: UInt53!) { object(address: $id, version: $v) { version digest previousTransaction { digest } } }`, { id: recordId, v: v1 })).data.object;
	assert.deepEqual(old, { version: v1, digest: d1, previousTransaction: { digest: stakeDigest } });
});

test('events newest first: GraphQL last/before and JSON-RPC descending_order', async () => {
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '5000000000' });
	const r = await executeGql(info, await buildSigned(k, { gas: await gasRef(me) }, stakeCommands(info, info.staking_pool_id, 'node-events', 2_000_000_000n)));
	const recordId = r.data.executeTransaction.effects.objectChanges.nodes.find((n) => n.idCreated).address;
	for (const reason of ['r1', 'r2', 'r3']) await admin(info, '/slash', { record_id: recordId, amount_mist: '1', reason });
	const type = `${info.package_id}::staking::SlashEvent`;
	const Q = `query($type: String!, $before: String) { events(last: 2, before: $before, filter: { type: $type }) {
		pageInfo { hasPreviousPage startCursor } nodes { transaction { digest } contents { json } } } }`;
	const reasons = (p) => p.nodes.map((n) => n.contents.json.reason).filter((x) => /^r\d$/.test(x));
	const p1 = (await gql(info.graphql, Q, { type })).data.events;
	assert.deepEqual(reasons(p1), ['r2', 'r3']); // the newest page, in chain order
	assert.equal(p1.pageInfo.hasPreviousPage, true);
	const p2 = (await gql(info.graphql, Q, { type, before: p1.pageInfo.startCursor })).data.events;
	assert.deepEqual(reasons(p2).slice(-1), ['r1']);

	const filter = { MoveEventType: type };
	const d1 = await post(info.jsonrpc, { jsonrpc: '2.0', id: 1, method: 'suix_queryEvents', params: { query: filter, cursor: null, limit: 2, descending_order: true } });
	assert.deepEqual(d1.json.result.data.map((e) => e.parsedJson.reason), ['r3', 'r2']);
	assert.equal(d1.json.result.hasNextPage, true);
	const d2 = await rpc(info.jsonrpc, 'suix_queryEvents', [filter, d1.json.result.nextCursor, 2, true]);
	assert.equal(d2.result.data[0].parsedJson.reason, 'r1');
	const bad = await post(info.jsonrpc, { jsonrpc: '2.0', id: 1, method: 'suix_queryEvents', params: { query: filter, descending: true } });
	assert.equal(bad.json.error.code, -32602);
});
