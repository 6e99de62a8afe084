// Slashing through the admin API: a real slash_stake transaction from the pool admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { startServer, admin, gql, rpc, buildSigned, executeGql, stakeCommands, unstakeCommands } from '../testing.mjs';

let srv;
let info;
before(async () => {
	srv = await startServer();
	info = srv.info;
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

async function gasRef(owner) {
	const r = await gql(info.graphql, `query($o: SuiAddress!) { address(address: $o) { objects(filter: { type: "0x2::coin::Coin<0x2::sui::SUI>" }) { nodes { address version digest } } } }`, { o: owner });
	const n = r.data.address.objects.nodes[0];
	return { objectId: n.address, version: String(n.version), digest: n.digest };
}

const EVENTS = `query($type: String!, $sender: SuiAddress, $after: String) {
  events(first: 50, after: $after, filter: { type: $type, sender: $sender }) {
    pageInfo { hasNextPage endCursor }
    nodes { sender { address } sequenceNumber timestamp transaction { digest sender { address } } contents { type { repr } json } }
  }
}`;

test('slash via admin: SlashEvent on both APIs, SLASHED at zero', async () => {
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '5000000000' });
	const stake = await buildSigned(k, { gas: await gasRef(me) }, stakeCommands(info, info.staking_pool_id, 'node-slash', 2_000_000_000n));
	const r = await executeGql(info, stake);
	assert.equal(r.data.executeTransaction.effects.status, 'SUCCESS');
	const recNode = r.data.executeTransaction.effects.objectChanges.nodes.find((n) => n.idCreated);
	const recordId = recNode.address;
	const isv = recNode.outputState.owner.initialSharedVersion;

	// Partial slash by record id: amount lowered, still ACTIVE.
	const s1 = await admin(info, '/slash', { record_id: recordId, amount_mist: '500000000', reason: 'missed heartbeats' });
	assert.equal(s1.status, 'success');
	assert.match(s1.digest, /^[1-9A-HJ-NP-Za-km-z]{43,44}$/);
	assert.equal(s1.record.amount, '1500000000');
	assert.equal(s1.record.status, 1);

	const slashType = `${info.package_id}::staking::SlashEvent`;
	let ev = await gql(info.graphql, EVENTS, { type: slashType });
	assert.equal(ev.data.events.nodes.length, 1);
	const n0 = ev.data.events.nodes[0];
	assert.equal(n0.sender.address, info.admin_address);
	assert.equal(n0.transaction.digest, s1.digest);
	assert.deepEqual(
		{ ...n0.contents.json, timestamp: undefined },
		{ staker: me, amount_slashed: '500000000', reason: 'missed heartbeats', timestamp: undefined },
	);
	// Filtering by the staker as sender finds no slash (the admin sent it).
	assert.equal((await gql(info.graphql, EVENTS, { type: slashType, sender: me })).data.events.nodes.length, 0);

	const tx = await gql(info.graphql, `query($d: String!) { transaction(digest: $d) { sender { address } effects { status events { nodes { contents { type { repr } } } } } } }`, { d: s1.digest });
	assert.equal(tx.data.transaction.sender.address, info.admin_address);
	assert.equal(tx.data.transaction.effects.events.nodes[0].contents.type.repr, slashType);

	// Full slash by node id: amount 0, SLASHED (2).
	const s2 = await admin(info, '/slash', { node_id: 'node-slash', all: true, reason: 'equivocation' });
	assert.equal(s2.status, 'success');
	assert.equal(s2.record.amount, '0');
	assert.equal(s2.record.status, 2);

	// Both slashes via GraphQL (paged) and via JSON-RPC.
	ev = await gql(info.graphql, EVENTS, { type: slashType });
	assert.deepEqual(ev.data.events.nodes.map((n) => n.contents.json.amount_slashed), ['500000000', '1500000000']);
	const page1 = await gql(info.graphql, EVENTS.replace('first: 50', 'first: 1'), { type: slashType });
	assert.equal(page1.data.events.pageInfo.hasNextPage, true);
	const page2 = await gql(info.graphql, EVENTS.replace('first: 50', 'first: 1'), { type: slashType, after: page1.data.events.pageInfo.endCursor });
	assert.equal(page2.data.events.nodes[0].contents.json.reason, 'equivocation');
	assert.equal(page2.data.events.pageInfo.hasNextPage, false);

	const q = await rpc(info.jsonrpc, 'suix_queryEvents', [{ MoveEventType: slashType }, null, 1, false]);
	assert.equal(q.result.data.length, 1);
	assert.equal(q.result.hasNextPage, true);
	assert.equal(q.result.data[0].parsedJson.staker, me);
	assert.equal(q.result.data[0].sender, info.admin_address);
	const q2 = await rpc(info.jsonrpc, 'suix_queryEvents', [{ MoveEventType: slashType }, q.result.nextCursor, 10, false]);
	assert.equal(q2.result.data.length, 1);
	assert.equal(q2.result.data[0].parsedJson.reason, 'equivocation');
	const desc = await rpc(info.jsonrpc, 'suix_queryEvents', [{ All: [{ MoveEventType: slashType }, { Sender: info.admin_address }] }, null, 10, true]);
	assert.equal(desc.result.data[0].parsedJson.reason, 'equivocation');

	const obj = await rpc(info.jsonrpc, 'sui_getObject', [recordId, { showContent: true, showOwner: true }]);
	assert.equal(obj.result.data.content.fields.status, 2);
	assert.equal(obj.result.data.owner.Shared.initial_shared_version, isv);

	// A slashed record cannot be withdrawn (E_NOT_ACTIVE) and cannot be slashed again.
	const w = await executeGql(info, await buildSigned(k, { gas: await gasRef(me) }, unstakeCommands(info, info.staking_pool_id, recordId, isv, me)));
	assert.equal(w.data.executeTransaction.effects.executionError.abortCode, '6');
	const s3 = await admin(info, '/slash', { record_id: recordId, all: true });
	assert.equal(s3.status, 'failure');
	assert.match(s3.error, /MoveAbort.*slash_stake.*, 6\) in command 0/);
	// Only the admin may slash (E_NOT_AUTHORIZED).
	const self = await executeGql(
		info,
		await buildSigned(k, { gas: await gasRef(me) }, (tx) =>
			tx.moveCall({
				target: `${info.package_id}::staking::slash_stake`,
				arguments: [
					tx.sharedObjectRef({ objectId: info.staking_pool_id, initialSharedVersion: info.pool_initial_shared_version, mutable: true }),
					tx.sharedObjectRef({ objectId: recordId, initialSharedVersion: isv, mutable: true }),
					tx.pure.u64(1),
					tx.pure.string('self'),
				],
			}),
		),
	);
	assert.equal(self.data.executeTransaction.effects.executionError.abortCode, '5');
});
