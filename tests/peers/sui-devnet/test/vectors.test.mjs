// The shared SDK-made transaction vectors decode and verify through the peer's own decode/verify path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Chain, UserInputError } from '../chain.mjs';
import { startServer, gql, rpc, EXECUTE } from '../testing.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// tests/peers/sui-devnet/test -> repo root is four levels up; /work/shared is ../shared from it.
const repoRoot = path.resolve(here, '..', '..', '..', '..');
const vectorsFile = path.resolve(repoRoot, '..', 'shared', 'testdata', 'sui', 'vectors.json');
const haveVectors = fs.existsSync(vectorsFile);
const skip = haveVectors ? false : `shared test vectors not found at ${vectorsFile} (../shared relative to the repo root)`;

let srv;
before(async () => {
	if (haveVectors) srv = await startServer();
});
after(async () => {
	if (srv) assert.equal(await srv.stop(), 0);
});

test('vectors decode with the SDK and their signatures verify', { skip }, async () => {
	const v = JSON.parse(fs.readFileSync(vectorsFile, 'utf8'));
	const chain = new Chain({});
	assert.ok(v.transactions.length > 0);
	for (const t of v.transactions) {
		const bytes = Buffer.from(t.tx_bytes_b64, 'base64');
		const p = chain.decode(new Uint8Array(bytes));
		const d = t.description;
		assert.equal(p.digest, t.digest_b58, `${t.kind}: digest`);
		assert.equal(p.sender, d.sender);
		assert.equal(p.gas.owner, d.gasData.owner);
		assert.equal(String(p.gas.price), d.gasData.price);
		assert.equal(String(p.gas.budget), d.gasData.budget);
		assert.deepEqual(
			p.gas.payment.map((r) => [r.objectId, String(r.version), r.digest]),
			d.gasData.payment.map((r) => [r.objectId, r.version, r.digest]),
		);
		assert.equal(p.commands.length, d.commands.length);
		const call = p.commands.find((c) => c.MoveCall).MoveCall;
		assert.equal(call.function, t.kind);
		assert.equal(call.module, 'staking');
		const shared = p.inputs.filter((i) => i.Object?.SharedObject).map((i) => i.Object.SharedObject);
		assert.ok(shared.length >= 1 && shared.every((s) => s.mutable === true));
		// Signature: flag || sig || pubkey, Ed25519, from the sender.
		await chain.verifySignatures(p, [t.signature_b64]);
		assert.equal(Buffer.from(t.signature_b64, 'base64')[0], 0);
		// A signature from another key is refused.
		const other = v.transactions.find((x) => x.key_index !== t.key_index);
		await assert.rejects(chain.verifySignatures(p, [other.signature_b64]), (e) => e instanceof UserInputError);
	}
});

test('the server accepts vector signatures and then fails on the (absent) objects', { skip }, async () => {
	const v = JSON.parse(fs.readFileSync(vectorsFile, 'utf8'));
	const t = v.transactions[0];
	const r = await gql(srv.info.graphql, EXECUTE, { tx: t.tx_bytes_b64, sigs: [t.signature_b64] });
	assert.equal(r.data, null);
	assert.match(r.errors[0].message, /Could not find the referenced object/);
	// Tampered bytes: the signature no longer verifies.
	const bytes = Buffer.from(t.tx_bytes_b64, 'base64');
	bytes[bytes.length - 2] ^= 1; // the budget's top byte (the last byte is the expiration tag)
	const bad = await gql(srv.info.graphql, EXECUTE, { tx: bytes.toString('base64'), sigs: [t.signature_b64] });
	assert.match(bad.errors[0].message, /Signature is not valid/);
	// Same through JSON-RPC.
	const j = await rpc(srv.info.jsonrpc, 'sui_executeTransactionBlock', [t.tx_bytes_b64, [t.signature_b64], { showEffects: true }, 'WaitForLocalExecution']);
	assert.equal(j.error.code, -32002);
	assert.match(j.error.message, /Could not find the referenced object/);
});
