// The official SDK's JSON-RPC client stakes and unstakes against the stand-in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SuiJsonRpcClient } from '@mysten/sui/jsonRpc';
import { Transaction } from '@mysten/sui/transactions';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { startServer, admin, rpc } from '../testing.mjs';

let srv;
before(async () => {
	srv = await startServer(['--lock-epochs', '1', '--epoch', '20']);
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

test('SuiJsonRpcClient: stake, read back, events, advance epoch, unstake', async () => {
	const { info } = srv;
	const kp = Ed25519Keypair.generate();
	const me = kp.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '3000000000', coins: 1 });
	const client = new SuiJsonRpcClient({ url: info.jsonrpc, network: 'localnet' });

	assert.equal(String(await client.getReferenceGasPrice()), '750');
	const coins = await client.getCoins({ owner: me });
	assert.equal(coins.data.length, 1);
	assert.equal(coins.data[0].balance, '3000000000');
	assert.equal(coins.hasNextPage, false);
	const sys = await client.getLatestSuiSystemState();
	assert.equal(sys.epoch, '20');

	const pool = await client.getObject({ id: info.staking_pool_id, options: { showContent: true, showOwner: true, showType: true } });
	assert.equal(pool.data.owner.Shared.initial_shared_version, info.pool_initial_shared_version);
	assert.equal(pool.data.content.fields.min_stake, '1000000000');
	assert.equal(typeof pool.data.version, 'string');

	const tx = new Transaction();
	const [coin] = tx.splitCoins(tx.gas, [1_500_000_000]);
	tx.moveCall({ target: `${info.package_id}::staking::stake_for_node`, arguments: [tx.object(info.staking_pool_id), coin, tx.pure.string('node-rpc-1')] });
	const res = await client.signAndExecuteTransaction({
		transaction: tx,
		signer: kp,
		options: { showEffects: true, showEvents: true, showObjectChanges: true },
		requestType: 'WaitForLocalExecution',
	});
	assert.equal(res.effects.status.status, 'success', JSON.stringify(res.effects.status));
	await client.waitForTransaction({ digest: res.digest });

	const created = res.objectChanges.find((c) => c.type === 'created');
	assert.equal(created.objectType, `${info.package_id}::staking::StakeRecord`);
	const recordId = created.objectId;
	assert.ok(res.effects.created.some((c) => c.reference.objectId === recordId && c.owner.Shared));

	const rec = await client.getObject({ id: recordId, options: { showContent: true, showOwner: true } });
	const f = rec.data.content.fields;
	assert.equal(f.staker, me);
	assert.equal(f.amount, '1500000000');
	assert.equal(f.status, 1);
	assert.equal(f.node_id, 'node-rpc-1');
	assert.equal(f.id.id, recordId);
	const isv = rec.data.owner.Shared.initial_shared_version;
	assert.equal(String(isv), rec.data.version);

	const evs = await client.queryEvents({
		query: { All: [{ MoveEventType: `${info.package_id}::staking::StakeEvent` }, { Sender: me }] },
		order: 'ascending',
	});
	assert.equal(evs.data.length, 1);
	assert.equal(evs.data[0].parsedJson.amount, '1500000000');
	assert.equal(evs.data[0].id.txDigest, res.digest);
	assert.equal(evs.data[0].id.eventSeq, '0');

	// Locked until epoch 21.
	const early = new Transaction();
	const [c0] = early.moveCall({ target: `${info.package_id}::staking::withdraw_stake`, arguments: [early.object(info.staking_pool_id), early.object(recordId)] });
	early.transferObjects([c0], me);
	await assert.rejects(client.signAndExecuteTransaction({ transaction: early, signer: kp }), /abort code: 4/);

	await admin(info, '/advance-epoch', { epochs: 1 });
	const un = new Transaction();
	const [back] = un.moveCall({ target: `${info.package_id}::staking::withdraw_stake`, arguments: [un.object(info.staking_pool_id), un.object(recordId)] });
	un.transferObjects([back], me);
	const res2 = await client.signAndExecuteTransaction({ transaction: un, signer: kp, options: { showEffects: true, showEvents: true, showBalanceChanges: true } });
	assert.equal(res2.effects.status.status, 'success', JSON.stringify(res2.effects.status));
	assert.equal(res2.events[0].type, `${info.package_id}::staking::UnstakeEvent`);
	assert.equal(res2.effects.executedEpoch, '21');

	const rec2 = await client.getObject({ id: recordId, options: { showContent: true } });
	assert.equal(rec2.data.content.fields.status, 3);
	assert.equal(rec2.data.content.fields.amount, '0');
	const coins2 = await client.getCoins({ owner: me });
	assert.ok(coins2.data.some((c) => c.balance === '1500000000'), 'withdrawn coin returned');

	const tb = await client.getTransactionBlock({ digest: res2.digest, options: { showInput: true, showEffects: true, showEvents: true } });
	assert.equal(tb.transaction.data.sender, me);
	assert.ok(tb.checkpoint);

	// Raw JSON-RPC odds and ends the agent uses.
	assert.match((await rpc(info.jsonrpc, 'sui_getChainIdentifier')).result, /^[0-9a-f]{8}$/);
	assert.match((await rpc(info.jsonrpc, 'sui_getLatestCheckpointSequenceNumber')).result, /^[0-9]+$/);
	const nf = await rpc(info.jsonrpc, 'sui_getTransactionBlock', ['11111111111111111111111111111111', {}]);
	assert.equal(nf.error.code, -32602);
	const bad = await rpc(info.jsonrpc, 'sui_noSuchMethod', []);
	assert.equal(bad.error.code, -32601);
	// JSON-RPC is also answered on POST /.
	const rootRes = await rpc(info.url + '/', 'suix_getReferenceGasPrice', []);
	assert.equal(rootRes.result, '750');
});
