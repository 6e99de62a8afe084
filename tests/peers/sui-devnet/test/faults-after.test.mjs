// `after: K` lets the first K matching requests through, then fires on the next ones; the
// default (no `after`) fires on the first matching request, as before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, admin, post } from '../testing.mjs';

let srv;
let info;
before(async () => {
	srv = await startServer([]);
	info = srv.info;
});
after(async () => {
	assert.equal(await srv.stop(), 0);
});

const CHAIN_ID = { query: '{ chainIdentifier }' };
const EPOCH = { query: '{ epoch { epochId } }' };
const fault = (spec) => admin(info, '/fault', spec);

test('after: K skips the first K matching requests, counting only matches', async () => {
	const { fault: f } = await fault({ kind: 'http500', after: 2, count: 2, method: 'chainIdentifier' });
	assert.equal(f.after, 2);
	assert.equal(f.skipped, 0);
	assert.equal((await post(info.graphql, EPOCH)).status, 200, 'not a match: not counted');
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200, 'skipped 1');
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200, 'skipped 2');
	let { faults, fired } = await admin(info, '/faults');
	assert.equal(faults.length, 1);
	assert.equal(faults[0].skipped, 2);
	assert.equal(fired.filter((x) => x.id === f.id).length, 0);
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 500);
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 500);
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200, 'count used up');
	({ faults, fired } = await admin(info, '/faults'));
	assert.equal(faults.length, 0);
	assert.equal(fired.filter((x) => x.id === f.id).length, 2);
});

test('a skipping fault does not hide the next armed fault; default after is 0', async () => {
	const a = (await fault({ kind: 'http500', after: 1 })).fault;
	const b = (await fault({ kind: 'http429' })).fault;
	assert.equal(b.after, 0);
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 429, 'a skips, b fires at once');
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 500, 'a fires on its second match');
	const { fired } = await admin(info, '/faults');
	assert.deepEqual(fired.slice(-2).map((x) => x.id), [b.id, a.id]);
});

test('latency with after: only the K+1-th request waits', async () => {
	await fault({ kind: 'latency', ms: 250, after: 1 });
	let t0 = Date.now();
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200);
	assert.ok(Date.now() - t0 < 200, 'the first request is let through at once');
	t0 = Date.now();
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 200);
	assert.ok(Date.now() - t0 >= 240, 'the second one waits');
});

test('after must be a non-negative integer', async () => {
	for (const bad of [-1, 1.5, 'x']) {
		const r = await fetch(`${info.admin}/fault`, { method: 'POST', body: JSON.stringify({ kind: 'reset', after: bad }) });
		assert.equal(r.status, 400);
		assert.match((await r.json()).error, /after must be a non-negative integer/);
	}
	assert.equal((await admin(info, '/faults')).faults.length, 0);
});

test('clear-faults by id or port leaves the other faults armed', async () => {
	const a = (await fault({ kind: 'http500', port: 1 })).fault;
	const b = (await fault({ kind: 'http500', port: 2 })).fault;
	const c = (await fault({ kind: 'http429', port: 2 })).fault;
	assert.equal((await admin(info, '/clear-faults', { id: a.id })).cleared, 1);
	assert.deepEqual((await admin(info, '/faults')).faults.map((f) => f.id), [b.id, c.id]);
	assert.equal((await admin(info, '/clear-faults', { port: 2 })).cleared, 2);
	assert.equal((await admin(info, '/faults')).faults.length, 0);
	await fault({ kind: 'reset', port: 3 });
	assert.equal((await admin(info, '/clear-faults', {})).cleared, 1, 'an empty body still clears all');
});

test('GET /admin/faults?id=N lists only that fault', async () => {
	const a = (await fault({ kind: 'http500', port: 9 })).fault;
	const b = (await fault({ kind: 'http500' })).fault;
	assert.equal((await post(info.graphql, CHAIN_ID)).status, 500, 'b fires (a is for another port)');
	let r = await admin(info, `/faults?id=${a.id}`);
	assert.deepEqual(r.faults.map((f) => f.id), [a.id]);
	assert.equal(r.fired.length, 0);
	r = await admin(info, `/faults?id=${b.id}`);
	assert.equal(r.faults.length, 0);
	assert.deepEqual(r.fired.map((f) => f.id), [b.id]);
	await admin(info, '/clear-faults', {});
});
