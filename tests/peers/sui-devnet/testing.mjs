// Shared helpers for the sui-devnet peer tests: spawn the server, talk to its admin API, GraphQL
// and JSON-RPC, and build/sign transactions with explicit object references.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Transaction } from '@mysten/sui/transactions';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SERVER = path.join(here, 'server.mjs');

/** Starts the server; resolves with { info, proc, stop(), stderr() }. */
export async function startServer(args = []) {
	const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
	let err = '';
	proc.stderr.on('data', (d) => {
		err += d;
		if (process.env.SUI_DEVNET_DEBUG) process.stderr.write(d);
	});
	const info = await new Promise((resolve, reject) => {
		let buf = '';
		const t = setTimeout(() => reject(new Error(`server did not start in time:\n${err}`)), 20000);
		proc.stdout.on('data', (d) => {
			buf += d;
			const nl = buf.indexOf('\n');
			if (nl >= 0) {
				clearTimeout(t);
				try {
					resolve(JSON.parse(buf.slice(0, nl)));
				} catch (e) {
					reject(new Error(`bad ready line ${buf.slice(0, nl)}: ${e.message}`));
				}
			}
		});
		proc.once('exit', (code) => {
			clearTimeout(t);
			reject(new Error(`server exited early with ${code}:\n${err}`));
		});
	});
	const stop = async () => {
		if (proc.exitCode != null) return proc.exitCode;
		const done = new Promise((r) => proc.once('exit', (code) => r(code)));
		proc.kill('SIGTERM');
		return done;
	};
	return { info, proc, stop, stderr: () => err };
}

export async function post(url, body, opts = {}) {
	const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...opts });
	const text = await res.text();
	let json = null;
	try {
		json = JSON.parse(text);
	} catch {}
	return { status: res.status, text, json };
}

export async function admin(info, route, body) {
	const r = body === undefined ? await fetch(`${info.admin}${route}`) : await fetch(`${info.admin}${route}`, { method: 'POST', body: JSON.stringify(body) });
	const json = await r.json();
	if (r.status !== 200) throw new Error(`admin ${route} -> ${r.status} ${JSON.stringify(json)}`);
	return json;
}

export async function gql(url, query, variables = {}) {
	const r = await post(url, { query, variables });
	if (r.status !== 200 || !r.json) throw new Error(`graphql HTTP ${r.status}: ${r.text}`);
	return r.json;
}

export async function rpc(url, method, params = []) {
	const r = await post(url, { jsonrpc: '2.0', id: 1, method, params });
	if (!r.json) throw new Error(`jsonrpc HTTP ${r.status}: ${r.text}`);
	return r.json;
}

/** Current ref of an object (via GraphQL). */
export async function objectRef(info, id) {
	const r = await gql(info.graphql, 'query($id: SuiAddress!) { object(address: $id) { address version digest owner { __typename ... on Shared { initialSharedVersion } } } }', { id });
	const o = r.data.object;
	return { objectId: o.address, version: String(o.version), digest: o.digest, initialSharedVersion: o.owner.initialSharedVersion };
}

/**
 * Builds signed bytes fully offline (explicit gas payment, price, budget, shared refs), the way the
 * agent does: build(tx) adds the commands. Returns { bytes, b64, signature, digest }.
 */
export async function buildSigned(kp, { gas, price = 750, budget = 50_000_000, sender }, build, signer = kp) {
	const tx = new Transaction();
	tx.setSender(sender ?? kp.toSuiAddress());
	tx.setGasPrice(price);
	tx.setGasBudget(budget);
	tx.setGasPayment(Array.isArray(gas) ? gas : [gas]);
	build(tx);
	const bytes = await tx.build();
	const { signature } = await signer.signTransaction(bytes);
	const digest = await tx.getDigest();
	return { bytes, b64: Buffer.from(bytes).toString('base64'), signature, digest };
}

export const EXECUTE = `mutation($tx: Base64!, $sigs: [Base64!]!) {
  executeTransaction(transactionDataBcs: $tx, signatures: $sigs) {
    effects {
      digest status lamportVersion
      executionError { message abortCode instructionOffset module { name package { address } } function { name } }
      objectChanges { nodes { address idCreated idDeleted outputState { address version digest owner { __typename ... on Shared { initialSharedVersion } ... on AddressOwner { address { address } } } asMoveObject { contents { type { repr } json } } } } }
      events { nodes { contents { type { repr } json } } }
      gasEffects { gasObject { address version digest } gasSummary { computationCost storageCost storageRebate nonRefundableStorageFee } }
    }
  }
}`;

export async function executeGql(info, signed, url = info.graphql) {
	return gql(url, EXECUTE, { tx: signed.b64, sigs: [signed.signature] });
}

export function stakeCommands(info, pool, nodeId, amount) {
	return (tx) => {
		const [coin] = tx.splitCoins(tx.gas, [tx.pure.u64(amount)]);
		tx.moveCall({
			target: `${info.package_id}::staking::stake_for_node`,
			arguments: [tx.sharedObjectRef({ objectId: pool, initialSharedVersion: info.pool_initial_shared_version, mutable: true }), coin, tx.pure.string(nodeId)],
		});
	};
}

export function unstakeCommands(info, pool, record, isv, recipient, { transfer = true } = {}) {
	return (tx) => {
		const [coin] = tx.moveCall({
			target: `${info.package_id}::staking::withdraw_stake`,
			arguments: [
				tx.sharedObjectRef({ objectId: pool, initialSharedVersion: info.pool_initial_shared_version, mutable: true }),
				tx.sharedObjectRef({ objectId: record, initialSharedVersion: isv, mutable: true }),
			],
		});
		if (transfer) tx.transferObjects([coin], tx.pure.address(recipient));
	};
}

export function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}
