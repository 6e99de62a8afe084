// bench/sui/sdk_stake.mjs runs against the stand-in and prints its one-line JSON summary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServer, admin } from '../testing.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bench = path.resolve(here, '..', '..', '..', '..', 'bench', 'sui', 'sdk_stake.mjs');

let srv;
before(async () => {
	srv = await startServer();
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

test('sdk_stake.mjs stakes N times and prints a summary line', async () => {
	const { info } = srv;
	const { stdout } = await promisify(execFile)(process.execPath, [
		bench,
		'--graphql', info.graphql,
		'--admin', info.admin,
		'--package', info.package_id,
		'--pool', info.staking_pool_id,
		'--runs', '2',
	]);
	const lines = stdout.trim().split('\n');
	assert.equal(lines.length, 1);
	const out = JSON.parse(lines[0]);
	assert.equal(out.tool, '@mysten/sui');
	assert.equal(out.runs, 2);
	assert.ok(out.wall_ms_median > 0 && out.wall_ms_p90 >= out.wall_ms_median);
	const stakes = (await admin(info, '/executions')).executions.filter((e) => e.kind === 'stake_for_node' && e.status === 'success');
	assert.equal(stakes.length, 2);
});
