#!/usr/bin/env node
// Baseline for the agent's staking latency: the official @mysten/sui SDK (GraphQL client) stakes
// N times against a Sui GraphQL endpoint (normally tests/peers/sui-devnet), one fresh key per run,
// each funded through the stand-in's admin API.
//
//   node bench/sui/sdk_stake.mjs --graphql URL --admin URL --package 0x… --pool 0x… --runs N
//        [--amount MIST] [--key-file FILE [--node-id ID]]
//
// With --key-file (a `suiprivkey1…` line, as `k3s-daas keys generate` writes), the key's address
// must already be funded: one stake with that key, no funding (bench/sui/stake_compare.py times
// the whole process this way, beside `k3s-daas stake`).
//
// Prints one JSON line: {"tool":"@mysten/sui","runs":N,"wall_ms_median":…,"wall_ms_p90":…}
// Only the stake itself is timed (build with resolution, sign, execute, wait for the transaction),
// not the funding.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
// The SDK is installed for the test peers; resolve it from there.
const peers = createRequire(path.resolve(here, '..', '..', 'tests', 'peers', 'package.json'));
const load = (spec) => import(pathToFileURL(peers.resolve(spec)).href);

function usage(msg) {
	if (msg) process.stderr.write(`sdk_stake: ${msg}\n`);
	process.stderr.write('usage: node bench/sui/sdk_stake.mjs --graphql URL --admin URL --package 0x… --pool 0x… [--runs N] [--amount MIST]\n');
	process.exit(2);
}

function parseArgs(argv) {
	const o = { runs: 10 };
	for (let i = 0; i < argv.length; i++) {
		const k = argv[i];
		const v = argv[i + 1];
		if (v === undefined) usage(`missing value for ${k}`);
		switch (k) {
			case '--graphql':
				o.graphql = v;
				break;
			case '--admin':
				o.admin = v.replace(/\/+$/, '');
				break;
			case '--package':
				o.pkg = v;
				break;
			case '--pool':
				o.pool = v;
				break;
			case '--runs':
				o.runs = Number(v);
				break;
			case '--amount':
				o.amount = BigInt(v);
				break;
			case '--key-file':
				o.keyFile = v;
				break;
			case '--node-id':
				o.nodeId = v;
				break;
			default:
				usage(`unknown argument ${k}`);
		}
		i++;
	}
	if (o.keyFile) o.runs = 1;
	if (!o.graphql || !o.admin || !o.pkg || !o.pool) usage('--graphql, --admin, --package and --pool are required');
	if (!Number.isInteger(o.runs) || o.runs < 1) usage('--runs must be a positive integer');
	return o;
}

function percentile(sorted, p) {
	if (!sorted.length) return null;
	const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return sorted[idx];
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	const [{ SuiGraphQLClient }, { Transaction }, { Ed25519Keypair }] = await Promise.all([
		load('@mysten/sui/graphql'),
		load('@mysten/sui/transactions'),
		load('@mysten/sui/keypairs/ed25519'),
	]);
	const client = new SuiGraphQLClient({ url: o.graphql, network: 'localnet' });

	let amount = o.amount;
	if (amount == null) {
		const { object } = await client.getObject({ objectId: o.pool, include: { json: true } });
		amount = BigInt(object.json?.min_stake ?? '1000000000');
	}
	const runTag = randomBytes(4).toString('hex');
	const times = [];
	for (let i = 0; i < o.runs; i++) {
		const kp = o.keyFile ? Ed25519Keypair.fromSecretKey((await import('node:fs')).readFileSync(o.keyFile, 'utf8').trim()) : Ed25519Keypair.generate();
		const me = kp.toSuiAddress();
		const fund = o.keyFile ? null : await fetch(`${o.admin}/fund`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ address: me, amount_mist: String(amount + 1_000_000_000n), coins: 1 }),
		});
		if (fund && !fund.ok) throw new Error(`funding failed: ${fund.status} ${await fund.text()}`);
		await fund?.text();

		const t0 = process.hrtime.bigint();
		const tx = new Transaction();
		const [coin] = tx.splitCoins(tx.gas, [amount]);
		tx.moveCall({
			target: `${o.pkg}::staking::stake_for_node`,
			arguments: [tx.object(o.pool), coin, tx.pure.string(o.nodeId ?? `bench-${runTag}-${i}`)],
		});
		const res = await client.signAndExecuteTransaction({ transaction: tx, signer: kp });
		if (res.$kind !== 'Transaction') throw new Error(`stake failed: ${JSON.stringify(res.FailedTransaction?.status)}`);
		await client.waitForTransaction({ result: res, pollSchedule: [0, 50, 100, 200, 400] });
		times.push(Number(process.hrtime.bigint() - t0) / 1e6);
	}
	const sorted = [...times].sort((a, b) => a - b);
	const round = (x) => Math.round(x * 100) / 100;
	process.stdout.write(
		JSON.stringify({
			tool: '@mysten/sui',
			runs: o.runs,
			wall_ms_median: round(percentile(sorted, 50)),
			wall_ms_p90: round(percentile(sorted, 90)),
			wall_ms_min: round(sorted[0]),
			wall_ms_max: round(sorted[sorted.length - 1]),
		}) + '\n',
	);
}

main().catch((e) => {
	process.stderr.write(`sdk_stake: ${e?.stack ?? e}\n`);
	process.exit(1);
});
