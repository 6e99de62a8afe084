// Rejections and aborts, like Sui: pre-execution errors (no state change) and Move aborts (gas
// charged, versions bumped), plus idempotent re-execution of the same digest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { startServer, admin, gql, rpc, buildSigned, executeGql, objectRef, stakeCommands, unstakeCommands } from '../testing.mjs';

let srv;
let info;
const A = Ed25519Keypair.generate();
const B = Ed25519Keypair.generate();
const a = A.toSuiAddress();
const b = B.toSuiAddress();

before(async () => {
	srv = await startServer(['--lock-epochs', '2']);
	info = srv.info;
	await admin(info, '/fund', { address: a, amount_mist: '5000000000', coins: 2 });
	await admin(info, '/fund', { address: b, amount_mist: '5000000000', coins: 2 });
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

const COINS = `query($o: SuiAddress!) { address(address: $o) { objects(filter: { type: "0x2::coin::Coin<0x2::sui::SUI>" }) {
  nodes { address version digest contents { json } } } } }`;

async function coins(owner) {
	const r = await gql(info.graphql, COINS, { o: owner });
	return r.data.address.objects.nodes.map((n) => ({ objectId: n.address, version: String(n.version), digest: n.digest, balance: BigInt(n.contents.json.balance) }));
}

async function gasRef(owner, i = 0) {
	const c = (await coins(owner)).sort((x, y) => (x.objectId < y.objectId ? -1 : 1))[i];
	return { objectId: c.objectId, version: c.version, digest: c.digest };
}

const stakeOf = (node, amount = 1_000_000_000n) => stakeCommands(info, info.staking_pool_id, node, amount);

async function recordOf(digest) {
	const r = await gql(
		info.graphql,
		`query($d: String!) { transaction(digest: $d) { effects { objectChanges { nodes { address idCreated outputState { version owner { ... on Shared { initialSharedVersion } } asMoveObject { contents { type { repr } json } } } } } } } }`,
		{ d: digest },
	);
	const n = r.data.transaction.effects.objectChanges.nodes.find((x) => x.idCreated && x.outputState.asMoveObject.contents.type.repr.endsWith('::staking::StakeRecord'));
	return { id: n.address, isv: n.outputState.owner.initialSharedVersion, json: n.outputState.asMoveObject.contents.json };
}

test('pre-execution rejections leave the chain untouched', async () => {
	const gas = await gasRef(a);
	const ok = await buildSigned(A, { gas }, stakeOf('node-pre'));

	// Bad signature bytes.
	const sig = Buffer.from(ok.signature, 'base64');
	sig[10] ^= 0xff;
	let r = await gql(info.graphql, `mutation($t: Base64!, $s: [Base64!]!) { executeTransaction(transactionDataBcs: $t, signatures: $s) { effects { status } } }`, {
		t: ok.b64,
		s: [sig.toString('base64')],
	});
	assert.equal(r.data, null);
	assert.match(r.errors[0].message, /Signature is not valid/);

	// Signed by someone else than the sender.
	const wrongSigner = await buildSigned(A, { gas }, stakeOf('node-pre'), B);
	r = await executeGql(info, wrongSigner);
	assert.match(r.errors[0].message, new RegExp(`Required Signature from ${a} is absent`));

	// Missing signature.
	r = await gql(info.graphql, `mutation($t: Base64!) { executeTransaction(transactionDataBcs: $t, signatures: []) { effects { status } } }`, { t: ok.b64 });
	assert.match(r.errors[0].message, /Expect 1 signer signatures but got 0/);

	// Gas coin at an old version, and with a wrong digest.
	r = await executeGql(info, await buildSigned(A, { gas: { ...gas, version: String(BigInt(gas.version) - 1n) } }, stakeOf('node-pre')));
	assert.match(r.errors[0].message, /is not available for consumption, current version: /);
	const otherDigest = (await gasRef(a, 1)).digest;
	r = await executeGql(info, await buildSigned(A, { gas: { ...gas, digest: otherDigest } }, stakeOf('node-pre')));
	assert.match(r.errors[0].message, /Invalid Object digest/);

	// Gas coin owned by somebody else.
	r = await executeGql(info, await buildSigned(A, { gas: await gasRef(b) }, stakeOf('node-pre')));
	assert.match(r.errors[0].message, /is owned by account address/);

	// Wrong initial shared version of the pool.
	const wrongIsv = (tx) => {
		const [coin] = tx.splitCoins(tx.gas, [1_000_000_000n]);
		tx.moveCall({
			target: `${info.package_id}::staking::stake_for_node`,
			arguments: [tx.sharedObjectRef({ objectId: info.staking_pool_id, initialSharedVersion: info.pool_initial_shared_version + 1, mutable: true }), coin, tx.pure.string('x')],
		});
	};
	r = await executeGql(info, await buildSigned(A, { gas }, wrongIsv));
	assert.match(r.errors[0].message, /wrong initial shared version/);

	// Gas price below the reference gas price; budget above the balance; unknown package.
	r = await executeGql(info, await buildSigned(A, { gas, price: 749 }, stakeOf('node-pre')));
	assert.match(r.errors[0].message, /under reference gas price/);
	r = await executeGql(info, await buildSigned(A, { gas, budget: 6_000_000_000 }, stakeOf('node-pre')));
	assert.match(r.errors[0].message, /Balance of gas object 5000000000 is lower than the needed amount: 6000000000/);
	r = await executeGql(
		info,
		await buildSigned(A, { gas }, (tx) => tx.moveCall({ target: `0x${'42'.repeat(32)}::staking::stake_for_node`, arguments: [] })),
	);
	assert.match(r.errors[0].message, /Dependent package not found/);

	// JSON-RPC answers the same rejection as an error object.
	const j = await rpc(info.jsonrpc, 'sui_executeTransactionBlock', [wrongSigner.b64, [wrongSigner.signature], { showEffects: true }]);
	assert.equal(j.error.code, -32002);
	assert.match(j.error.message, /Required Signature/);

	// Nothing changed: same gas coin version, nothing executed for A.
	assert.deepEqual(await gasRef(a), gas);
	assert.equal((await admin(info, `/executions?sender=${a}`)).executions.length, 0);
});

test('Move aborts: codes, Sui-shaped errors, gas charged', async () => {
	// A stakes.
	let r = await executeGql(info, await buildSigned(A, { gas: await gasRef(a) }, stakeOf('node-a')));
	assert.equal(r.data.executeTransaction.effects.status, 'SUCCESS', JSON.stringify(r));
	const stakeDigest = r.data.executeTransaction.effects.digest;
	const rec = await recordOf(stakeDigest);
	assert.equal(rec.json.locked_until, String(10 + 2));

	// Double stake by A (other node id) -> E_ALREADY_STAKED (3).
	const gasBefore = await gasRef(a);
	const balBefore = (await coins(a)).find((c) => c.objectId === gasBefore.objectId).balance;
	const poolBefore = await objectRef(info, info.staking_pool_id);
	r = await executeGql(info, await buildSigned(A, { gas: gasBefore }, stakeOf('node-a2')));
	let eff = r.data.executeTransaction.effects;
	assert.equal(eff.status, 'FAILURE');
	assert.equal(eff.executionError.abortCode, '3');
	assert.equal(eff.executionError.module.name, 'staking');
	assert.equal(eff.executionError.module.package.address, info.package_id);
	assert.equal(eff.executionError.function.name, 'stake_for_node');
	assert.match(eff.executionError.message, /^Error in 2nd command, from '0x[0-9a-f]{64}::staking::stake_for_node' \(instruction \d+\), abort code: 3$/);
	assert.equal(eff.events.nodes.length, 0);
	// Gas charged and versions bumped even though it aborted.
	const gasAfter = await gasRef(a);
	assert.equal(gasAfter.objectId, gasBefore.objectId);
	assert.ok(BigInt(gasAfter.version) > BigInt(gasBefore.version));
	const balAfter = (await coins(a)).find((c) => c.objectId === gasAfter.objectId).balance;
	const s = eff.gasEffects.gasSummary;
	assert.equal(balBefore - balAfter, BigInt(s.computationCost + s.storageCost - s.storageRebate));
	assert.ok(BigInt((await objectRef(info, info.staking_pool_id)).version) > BigInt(poolBefore.version));
	// JSON-RPC shows the Rust Debug rendering of the abort.
	const tb = await rpc(info.jsonrpc, 'sui_getTransactionBlock', [eff.digest, { showEffects: true }]);
	assert.equal(tb.result.effects.status.status, 'failure');
	assert.match(
		tb.result.effects.status.error,
		/^MoveAbort\(MoveLocation \{ module: ModuleId \{ address: [0-9a-f]{64}, name: Identifier\("staking"\) \}, function: 0, instruction: \d+, function_name: Some\("stake_for_node"\) \}, 3\) in command 1$/,
	);
	assert.equal(tb.result.effects.abortError.error_code, '3');

	// B uses A's node id -> 3 as well; B below the minimum -> E_INSUFFICIENT_STAKE (1).
	r = await executeGql(info, await buildSigned(B, { gas: await gasRef(b) }, stakeOf('node-a')));
	assert.equal(r.data.executeTransaction.effects.executionError.abortCode, '3');
	r = await executeGql(info, await buildSigned(B, { gas: await gasRef(b) }, stakeOf('node-b', 999_999_999n)));
	assert.equal(r.data.executeTransaction.effects.executionError.abortCode, '1');

	// Withdraw while locked -> E_STAKE_LOCKED (4); by a non-staker -> E_NOT_STAKER (2).
	r = await executeGql(info, await buildSigned(A, { gas: await gasRef(a) }, unstakeCommands(info, info.staking_pool_id, rec.id, rec.isv, a)));
	assert.equal(r.data.executeTransaction.effects.executionError.abortCode, '4');
	r = await executeGql(info, await buildSigned(B, { gas: await gasRef(b) }, unstakeCommands(info, info.staking_pool_id, rec.id, rec.isv, b)));
	assert.equal(r.data.executeTransaction.effects.executionError.abortCode, '2');

	// Unlock; a withdrawn coin that is not transferred is an unused value without drop.
	await admin(info, '/advance-epoch', { epochs: 2 });
	r = await executeGql(info, await buildSigned(A, { gas: await gasRef(a) }, unstakeCommands(info, info.staking_pool_id, rec.id, rec.isv, a, { transfer: false })));
	eff = r.data.executeTransaction.effects;
	assert.equal(eff.status, 'FAILURE');
	assert.equal(eff.executionError.abortCode, null);
	assert.match(eff.executionError.message, /Unused result without the drop ability\. Command result 0, return value 0/);
	const tb2 = await rpc(info.jsonrpc, 'sui_getTransactionBlock', [eff.digest, { showEffects: true }]);
	assert.equal(tb2.result.effects.status.error, 'UnusedValueWithoutDrop { result_idx: 0, secondary_idx: 0 }');
	assert.equal((await recordOf(stakeDigest)).json.status, 1);

	// A proper withdraw works once; the second one is E_NOT_ACTIVE (6).
	r = await executeGql(info, await buildSigned(A, { gas: await gasRef(a) }, unstakeCommands(info, info.staking_pool_id, rec.id, rec.isv, a)));
	assert.equal(r.data.executeTransaction.effects.status, 'SUCCESS');
	r = await executeGql(info, await buildSigned(A, { gas: await gasRef(a) }, unstakeCommands(info, info.staking_pool_id, rec.id, rec.isv, a)));
	assert.equal(r.data.executeTransaction.effects.executionError.abortCode, '6');
});

test('execution failures that are not aborts', async () => {
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '2000000000' });
	const gas = async () => gasRef(me);
	const call = (fn, args) => (tx) => tx.moveCall({ target: `${info.package_id}::staking::${fn}`, arguments: args(tx) });
	const pool = (tx) => tx.sharedObjectRef({ objectId: info.staking_pool_id, initialSharedVersion: info.pool_initial_shared_version, mutable: true });
	const cases = [
		[(tx) => tx.splitCoins(tx.gas, [tx.pure.u64(1_999_000_000n)]), /Insufficient coin balance/],
		[call('no_such_function', () => []), /Function Not Found/],
		[call('stake_for_node', (tx) => [pool(tx)]), /Arity mismatch/],
		[call('stake_for_node', (tx) => [pool(tx), pool(tx), tx.pure.string('n')]), /Invalid command argument at 1/],
		[call('stake_for_node', (tx) => [pool(tx), tx.gas, tx.pure.string('n')]), /Invalid command argument at 1/],
		[
			(tx) => {
				const [c] = tx.splitCoins(tx.gas, [1_000_000_000n]);
				tx.moveCall({ target: `${info.package_id}::staking::stake_for_node`, arguments: [pool(tx), c, tx.pure.u64(5)] });
			},
			/Invalid command argument at 2/,
		],
		[
			(tx) => {
				const [c] = tx.splitCoins(tx.gas, [1_000_000_000n]);
				tx.moveCall({
					target: `${info.package_id}::staking::stake_for_node`,
					arguments: [tx.sharedObjectRef({ objectId: info.staking_pool_id, initialSharedVersion: info.pool_initial_shared_version, mutable: false }), c, tx.pure.string('n')],
				});
			},
			/Invalid command argument at 0/,
		],
	];
	for (const [build, re] of cases) {
		const r = await executeGql(info, await buildSigned(k, { gas: await gas() }, build));
		const eff = r.data?.executeTransaction?.effects;
		assert.equal(eff?.status, 'FAILURE', JSON.stringify(r));
		assert.match(eff.executionError.message, re);
	}
});

test('simulation changes nothing; the same digest executes once', async () => {
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '4000000000' });
	const gas = await gasRef(me);
	const signed = await buildSigned(k, { gas }, stakeOf('node-dup'));

	const SIM = `query($tx: JSON!) { simulateTransaction(transaction: $tx) { effects { status digest executionError { abortCode } events { nodes { contents { json } } } } } }`;
	let r = await gql(info.graphql, SIM, { tx: { bcs: { value: signed.b64 } } });
	assert.equal(r.data.simulateTransaction.effects.status, 'SUCCESS');
	assert.equal(r.data.simulateTransaction.effects.digest, signed.digest);
	assert.equal(r.data.simulateTransaction.effects.events.nodes[0].contents.json.node_id, 'node-dup');
	assert.deepEqual(await gasRef(me), gas, 'simulation did not touch the gas coin');
	r = await gql(info.graphql, `query($d: String!) { transaction(digest: $d) { digest } }`, { d: signed.digest });
	assert.equal(r.data.transaction, null);
	// JSON-RPC dry run agrees.
	const dry = await rpc(info.jsonrpc, 'sui_dryRunTransactionBlock', [signed.b64]);
	assert.equal(dry.result.effects.status.status, 'success');
	assert.equal(dry.result.effects.transactionDigest, signed.digest);

	// Execute twice (GraphQL then JSON-RPC): one landing, identical effects.
	const first = await executeGql(info, signed);
	const second = await executeGql(info, signed);
	assert.equal(first.data.executeTransaction.effects.status, 'SUCCESS');
	assert.deepEqual(second.data, first.data);
	const third = await rpc(info.jsonrpc, 'sui_executeTransactionBlock', [signed.b64, [signed.signature], { showEffects: true }]);
	assert.equal(third.result.digest, signed.digest);
	assert.equal(third.result.effects.status.status, 'success');
	const ex = (await admin(info, `/executions?sender=${me}`)).executions;
	assert.equal(ex.length, 1);
	assert.equal(ex[0].digest, signed.digest);
	assert.equal(ex[0].execution_requests, 3);
	const bal = (await coins(me)).reduce((s, c) => s + c.balance, 0n);
	const g = first.data.executeTransaction.effects.gasEffects.gasSummary;
	assert.equal(bal, 4_000_000_000n - 1_000_000_000n - BigInt(g.computationCost + g.storageCost - g.storageRebate));

	// A failing simulation changes nothing either.
	const again = await buildSigned(k, { gas: await gasRef(me) }, stakeOf('node-dup-2'));
	r = await gql(info.graphql, SIM, { tx: { bcs: { value: again.b64 } } });
	assert.equal(r.data.simulateTransaction.effects.status, 'FAILURE');
	assert.equal(r.data.simulateTransaction.effects.executionError.abortCode, '3');
	assert.equal((await admin(info, `/executions?sender=${me}`)).executions.length, 1);
});
