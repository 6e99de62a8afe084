// The official SDK's GraphQL client stakes and unstakes against the stand-in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SuiGraphQLClient } from '@mysten/sui/graphql';
import { Transaction } from '@mysten/sui/transactions';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { startServer, admin, gql } from '../testing.mjs';

let srv;
before(async () => {
	srv = await startServer(['--lock-epochs', '1']);
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

test('SuiGraphQLClient: stake, read back, events, advance epoch, unstake', async () => {
	const { info } = srv;
	const kp = Ed25519Keypair.generate();
	const me = kp.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '5000000000', coins: 2 });

	const client = new SuiGraphQLClient({ url: info.graphql, network: 'localnet' });
	assert.equal((await client.getReferenceGasPrice()).referenceGasPrice, '750');
	const coins = await client.listCoins({ owner: me });
	assert.equal(coins.objects.length, 2);
	assert.equal(coins.objects[0].balance, '5000000000');
	const bal = await client.getBalance({ owner: me });
	assert.equal(bal.balance.balance, '10000000000');

	// Stake: SplitCoins(GasCoin) + stake_for_node(pool, coin, node_id); the SDK resolves the rest.
	const tx = new Transaction();
	const [coin] = tx.splitCoins(tx.gas, [1_000_000_000]);
	tx.moveCall({
		target: `${info.package_id}::staking::stake_for_node`,
		arguments: [tx.object(info.staking_pool_id), coin, tx.pure.string('node-gql-1')],
	});
	const res = await client.signAndExecuteTransaction({ transaction: tx, signer: kp, include: { effects: true, events: true, objectTypes: true } });
	assert.equal(res.$kind, 'Transaction', JSON.stringify(res.FailedTransaction?.status));
	const done = await client.waitForTransaction({ result: res, include: { effects: true, events: true, objectTypes: true } });
	assert.equal(done.Transaction.digest, res.Transaction.digest);
	assert.equal(done.Transaction.events.length, 1);
	assert.equal(done.Transaction.events[0].eventType, `${info.package_id}::staking::StakeEvent`);

	const created = done.Transaction.effects.changedObjects.filter((c) => c.idOperation === 'Created');
	assert.equal(created.length, 1);
	const recordId = created[0].objectId;
	assert.equal(done.Transaction.objectTypes[recordId], `${info.package_id}::staking::StakeRecord`);
	assert.equal(created[0].outputOwner.$kind, 'Shared');

	// Read the StakeRecord back.
	const { object: rec } = await client.getObject({ objectId: recordId, include: { json: true } });
	assert.equal(rec.type, `${info.package_id}::staking::StakeRecord`);
	assert.equal(rec.owner.$kind, 'Shared');
	assert.equal(rec.owner.Shared.initialSharedVersion, rec.version);
	assert.equal(rec.json.staker, me);
	assert.equal(rec.json.amount, '1000000000');
	assert.equal(rec.json.status, 1);
	assert.equal(rec.json.node_id, 'node-gql-1');
	assert.equal(rec.json.stake_type, 'node');
	assert.equal(rec.json.staked_at, '10');
	assert.equal(rec.json.locked_until, '11');

	// The StakeEvent through the SDK's event API and through a raw type+sender query.
	const evs = await client.listEvents({ filter: { eventType: `${info.package_id}::staking::StakeEvent` } });
	assert.equal(evs.events.length, 1);
	assert.equal(evs.events[0].sender, me);
	assert.equal(evs.events[0].json.node_id, 'node-gql-1');
	assert.equal(evs.events[0].transactionDigest, res.Transaction.digest);
	const raw = await gql(
		info.graphql,
		`query($type: String!, $sender: SuiAddress!) {
		  events(first: 10, filter: { type: $type, sender: $sender }) {
		    pageInfo { hasNextPage endCursor }
		    nodes { sender { address } timestamp sequenceNumber transaction { digest } contents { type { repr } json bcs } }
		  }
		}`,
		{ type: `${info.package_id}::staking::StakeEvent`, sender: me },
	);
	assert.equal(raw.errors, undefined);
	assert.equal(raw.data.events.nodes.length, 1);
	assert.equal(raw.data.events.nodes[0].contents.json.amount, '1000000000');
	assert.ok(raw.data.events.nodes[0].timestamp);

	// Still locked in this epoch: withdraw aborts with E_STAKE_LOCKED (4) at simulation time.
	const early = new Transaction();
	const [c0] = early.moveCall({ target: `${info.package_id}::staking::withdraw_stake`, arguments: [early.object(info.staking_pool_id), early.object(recordId)] });
	early.transferObjects([c0], me);
	await assert.rejects(client.signAndExecuteTransaction({ transaction: early, signer: kp }), /abort code: 4/);

	// Advance the epoch, then unstake: withdraw_stake + TransferObjects back to the sender.
	assert.equal((await admin(info, '/advance-epoch', { epochs: 1 })).epoch, 11);
	const before = await client.listCoins({ owner: me });
	const un = new Transaction();
	const [back] = un.moveCall({ target: `${info.package_id}::staking::withdraw_stake`, arguments: [un.object(info.staking_pool_id), un.object(recordId)] });
	un.transferObjects([back], me);
	const res2 = await client.signAndExecuteTransaction({ transaction: un, signer: kp, include: { effects: true, events: true } });
	assert.equal(res2.$kind, 'Transaction', JSON.stringify(res2.FailedTransaction?.status));
	await client.waitForTransaction({ result: res2 });
	assert.equal(res2.Transaction.events[0].eventType, `${info.package_id}::staking::UnstakeEvent`);

	const { object: rec2 } = await client.getObject({ objectId: recordId, include: { json: true } });
	assert.equal(rec2.json.status, 3);
	assert.equal(rec2.json.amount, '0');
	const afterCoins = await client.listCoins({ owner: me });
	const returned = afterCoins.objects.find((c) => !before.objects.some((b) => b.objectId === c.objectId));
	assert.ok(returned, 'a new coin came back');
	assert.equal(returned.balance, '1000000000');

	// The admin API saw exactly one stake and one unstake from this sender.
	const ex = await admin(info, `/executions?sender=${me}`);
	assert.deepEqual(
		ex.executions.map((e) => [e.kind, e.status]),
		[
			['stake_for_node', 'success'],
			['withdraw_stake', 'success'],
		],
	);
});

test('SuiGraphQLClient: other core APIs the SDK offers', async () => {
	const { info } = srv;
	const kp = Ed25519Keypair.generate();
	const me = kp.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '2000000000', coins: 1 });
	const client = new SuiGraphQLClient({ url: info.graphql, network: 'localnet' });

	const { chainIdentifier } = await client.core.getChainIdentifier();
	assert.equal(chainIdentifier, info.chain_identifier);
	const sys = await client.core.getCurrentSystemState();
	assert.equal(sys.systemState.epoch, String(info.epoch + 1)); // the first test advanced one epoch
	assert.equal(sys.systemState.referenceGasPrice, '750');
	const pc = await client.core.getProtocolConfig();
	assert.ok(Number(pc.protocolConfig.protocolVersion) > 0);
	const fn = await client.core.getMoveFunction({ packageId: info.package_id, moduleName: 'staking', name: 'withdraw_stake' });
	assert.deepEqual(fn.function.parameters.map((p) => p.reference), ['mutable', 'mutable', 'mutable']);
	assert.equal(fn.function.returns[0].body.datatype.typeName, '0x0000000000000000000000000000000000000000000000000000000000000002::coin::Coin');
	const owned = await client.listOwnedObjects({ owner: me });
	assert.equal(owned.objects.length, 1);
	const pkg = await client.getObject({ objectId: info.package_id });
	assert.equal(pkg.object.type, 'package');

	// Dry run through the SDK (gRPC-JSON transaction, server-side resolution) changes nothing.
	const tx = new Transaction();
	tx.setSender(me);
	const [c] = tx.splitCoins(tx.gas, [1_000_000_000]);
	tx.moveCall({ target: `${info.package_id}::staking::stake_for_node`, arguments: [tx.object(info.staking_pool_id), c, tx.pure.string('node-sim')] });
	const sim = await client.simulateTransaction({ transaction: tx, include: { effects: true, events: true, balanceChanges: true } });
	assert.equal(sim.$kind, 'Transaction');
	assert.equal(sim.Transaction.events[0].json.node_id, 'node-sim');
	assert.ok(BigInt(sim.Transaction.balanceChanges[0].amount) < -1_000_000_000n);
	assert.equal((await client.getBalance({ owner: me })).balance.balance, '2000000000');

	// Build, sign, execute; read back with the transaction itself and its BCS.
	const res = await client.signAndExecuteTransaction({ transaction: tx, signer: kp });
	const got = await client.waitForTransaction({ result: res, include: { transaction: true, bcs: true, balanceChanges: true } });
	assert.equal(got.Transaction.transaction.sender, me);
	assert.equal(got.Transaction.transaction.commands.length, 2);
	assert.equal(got.Transaction.transaction.commands[1].MoveCall.function, 'stake_for_node');
	assert.ok(got.Transaction.bcs instanceof Uint8Array);
	assert.ok(got.Transaction.checkpoint);
	assert.equal(got.Transaction.signatures.length, 1);
	const list = await client.core.listTransactions({ filter: { sender: me } });
	assert.equal(list.transactions.length, 1);
});
