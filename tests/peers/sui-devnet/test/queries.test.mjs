// The raw GraphQL documents the worker agent uses (also listed in README.md), proven end to end:
// gas coins → shared object refs → simulate → execute → transaction by digest → events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { bcs } from '@mysten/sui/bcs';
import { startServer, admin, gql, buildSigned, stakeCommands } from '../testing.mjs';

export const Q_EPOCH = `query { epoch { epochId referenceGasPrice startTimestamp } chainIdentifier }`;

export const Q_GAS_COINS = `query($owner: SuiAddress!, $after: String) {
  address(address: $owner) {
    address
    balance(coinType: "0x2::sui::SUI") { coinType { repr } totalBalance }
    objects(first: 50, after: $after, filter: { type: "0x2::coin::Coin<0x2::sui::SUI>" }) {
      pageInfo { hasNextPage endCursor }
      nodes { address version digest contents { type { repr } json bcs } }
    }
  }
}`;

export const Q_OBJECT = `query($id: SuiAddress!) {
  object(address: $id) {
    address version digest
    owner {
      __typename
      ... on AddressOwner { address { address } }
      ... on Shared { initialSharedVersion }
    }
    asMoveObject { contents { type { repr } json bcs } }
  }
}`;

export const Q_SIMULATE = `query($tx: JSON!) {
  simulateTransaction(transaction: $tx) {
    effects {
      status lamportVersion
      executionError { message abortCode module { name } function { name } }
      gasEffects { gasSummary { computationCost storageCost storageRebate nonRefundableStorageFee } }
      events { nodes { contents { type { repr } json } } }
    }
  }
}`;

export const Q_EXECUTE = `mutation($tx: Base64!, $sigs: [Base64!]!) {
  executeTransaction(transactionDataBcs: $tx, signatures: $sigs) {
    effects { digest status executionError { message abortCode } }
  }
}`;

export const Q_TRANSACTION = `query($digest: String!) {
  transaction(digest: $digest) {
    digest
    sender { address }
    effects {
      status lamportVersion timestamp
      checkpoint { sequenceNumber }
      executionError { message abortCode instructionOffset module { name package { address } } function { name } }
      objectChanges(first: 50) {
        nodes {
          address idCreated idDeleted
          inputState { version digest }
          outputState {
            address version digest
            owner { __typename ... on Shared { initialSharedVersion } ... on AddressOwner { address { address } } }
            asMoveObject { contents { type { repr } json } }
          }
        }
      }
      events(first: 50) { nodes { sequenceNumber sender { address } contents { type { repr } json bcs } } }
      gasEffects { gasObject { address version digest } gasSummary { computationCost storageCost storageRebate nonRefundableStorageFee } }
      balanceChanges { nodes { owner { address } coinType { repr } amount } }
    }
  }
}`;

export const Q_EVENTS = `query($type: String!, $sender: SuiAddress, $after: String) {
  events(first: 50, after: $after, filter: { type: $type, sender: $sender }) {
    pageInfo { hasNextPage endCursor }
    nodes {
      sender { address } timestamp sequenceNumber
      transaction { digest }
      contents { type { repr } json bcs }
    }
  }
}`;

export const Q_MULTI_OBJECTS = `query($keys: [ObjectKey!]!) {
  multiGetObjects(keys: $keys) { address version digest owner { __typename ... on Shared { initialSharedVersion } } asMoveObject { contents { json } } }
}`;

let srv;
let info;
before(async () => {
	srv = await startServer();
	info = srv.info;
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

test('the agent-facing GraphQL documents work end to end', async () => {
	const ok = (r) => {
		assert.equal(r.errors, undefined, JSON.stringify(r.errors));
		return r.data;
	};
	const k = Ed25519Keypair.generate();
	const me = k.toSuiAddress();
	await admin(info, '/fund', { address: me, amount_mist: '3000000000', coins: 2 });

	const ep = ok(await gql(info.graphql, Q_EPOCH));
	assert.equal(ep.epoch.epochId, 10);
	assert.equal(ep.epoch.referenceGasPrice, '750');
	assert.equal(ep.chainIdentifier, info.chain_identifier);

	const coins = ok(await gql(info.graphql, Q_GAS_COINS, { owner: me })).address;
	assert.equal(coins.balance.totalBalance, '6000000000');
	assert.equal(coins.objects.nodes.length, 2);
	const c0 = coins.objects.nodes[0];
	assert.equal(c0.contents.json.balance, '3000000000');
	assert.equal(c0.contents.json.id, c0.address);
	assert.equal(c0.contents.type.repr, '0x0000000000000000000000000000000000000000000000000000000000000002::coin::Coin<0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI>');
	assert.deepEqual(bcs.struct('Coin', { id: bcs.Address, balance: bcs.u64() }).parse(Buffer.from(c0.contents.bcs, 'base64')), { id: c0.address, balance: '3000000000' });
	assert.equal(typeof c0.version, 'number');

	const pool = ok(await gql(info.graphql, Q_OBJECT, { id: info.staking_pool_id })).object;
	assert.equal(pool.owner.__typename, 'Shared');
	assert.equal(pool.owner.initialSharedVersion, info.pool_initial_shared_version);
	assert.equal(pool.asMoveObject.contents.type.repr, `${info.package_id}::staking::StakingPool`);
	assert.equal(pool.asMoveObject.contents.json.min_stake, '1000000000');
	assert.equal(pool.asMoveObject.contents.json.admin, info.admin_address);

	const gas = { objectId: c0.address, version: String(c0.version), digest: c0.digest };
	const signed = await buildSigned(k, { gas, budget: 10_000_000 }, stakeCommands(info, info.staking_pool_id, 'node-q', 1_000_000_000n));

	const sim = ok(await gql(info.graphql, Q_SIMULATE, { tx: { bcs: { value: signed.b64 } } })).simulateTransaction.effects;
	assert.equal(sim.status, 'SUCCESS');
	assert.equal(sim.events.nodes[0].contents.json.node_id, 'node-q');
	assert.ok(Number(sim.gasEffects.gasSummary.computationCost) > 0);

	const ex = ok(await gql(info.graphql, Q_EXECUTE, { tx: signed.b64, sigs: [signed.signature] })).executeTransaction.effects;
	assert.equal(ex.digest, signed.digest);
	assert.equal(ex.status, 'SUCCESS');

	const tx = ok(await gql(info.graphql, Q_TRANSACTION, { digest: signed.digest })).transaction;
	assert.equal(tx.sender.address, me);
	assert.equal(tx.effects.status, 'SUCCESS');
	assert.ok(tx.effects.timestamp && tx.effects.checkpoint.sequenceNumber > 0);
	const created = tx.effects.objectChanges.nodes.filter((n) => n.idCreated);
	assert.equal(created.length, 1);
	const rec = created[0].outputState;
	assert.equal(rec.asMoveObject.contents.type.repr, `${info.package_id}::staking::StakeRecord`);
	assert.equal(rec.owner.__typename, 'Shared');
	assert.equal(rec.owner.initialSharedVersion, rec.version);
	assert.equal(rec.version, tx.effects.lamportVersion);
	assert.equal(rec.asMoveObject.contents.json.staker, me);
	assert.equal(tx.effects.events.nodes[0].contents.type.repr, `${info.package_id}::staking::StakeEvent`);
	assert.equal(tx.effects.gasEffects.gasObject.address, gas.objectId);
	assert.equal(tx.effects.gasEffects.gasObject.version, tx.effects.lamportVersion);
	assert.equal(tx.effects.balanceChanges.nodes[0].owner.address, me);
	assert.ok(BigInt(tx.effects.balanceChanges.nodes[0].amount) < -1_000_000_000n);

	const evs = ok(await gql(info.graphql, Q_EVENTS, { type: `${info.package_id}::staking::StakeEvent`, sender: me })).events;
	assert.equal(evs.nodes.length, 1);
	assert.equal(evs.nodes[0].transaction.digest, signed.digest);
	assert.equal(evs.nodes[0].contents.json.amount, '1000000000');
	assert.equal(evs.pageInfo.hasNextPage, false);
	// Polling from the end cursor returns nothing new.
	const more = ok(await gql(info.graphql, Q_EVENTS, { type: `${info.package_id}::staking::StakeEvent`, sender: me, after: evs.pageInfo.endCursor })).events;
	assert.equal(more.nodes.length, 0);
	// Module-level type filter and a package-only filter match too.
	assert.equal(ok(await gql(info.graphql, Q_EVENTS, { type: `${info.package_id}::staking`, sender: me })).events.nodes.length, 1);
	assert.equal(ok(await gql(info.graphql, Q_EVENTS, { type: info.package_id, sender: me })).events.nodes.length, 1);

	// Objects at a version and several at once.
	const multi = ok(await gql(info.graphql, Q_MULTI_OBJECTS, { keys: [{ address: rec.address }, { address: info.staking_pool_id, version: info.pool_initial_shared_version }, { address: '0x' + '77'.repeat(32) }] })).multiGetObjects;
	assert.equal(multi[0].asMoveObject.contents.json.node_id, 'node-q');
	assert.equal(multi[1].version, info.pool_initial_shared_version);
	assert.equal(multi[1].asMoveObject.contents.json.total_staked, '0');
	assert.equal(multi[2], null);

	// Expired transactions are refused.
	const c1 = coins.objects.nodes[1];
	const expired = await buildSigned(k, { gas: { objectId: c1.address, version: String(c1.version), digest: c1.digest } }, (t) => {
		t.setExpiration({ Epoch: 9 });
		const [x] = t.splitCoins(t.gas, [1]);
		t.transferObjects([x], me);
	});
	const er = await gql(info.graphql, Q_EXECUTE, { tx: expired.b64, sigs: [expired.signature] });
	assert.match(er.errors[0].message, /Transaction Expired/);
});
