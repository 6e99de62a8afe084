// Sui GraphQL service limits: the stand-in answers exactly like the real service (messages,
// locations, paths, code GRAPHQL_VALIDATION_FAILED, data null) and can be relaxed by the admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, admin, post } from '../testing.mjs';

let srv;
let info;
before(async () => {
	srv = await startServer();
	info = srv.info;
});
after(async () => {
	await srv?.stop();
});

const q = (query, variables, headers = {}) =>
	post(info.graphql, variables ? { query, variables } : { query }, { headers: { 'content-type': 'application/json', ...headers } });

function oneError(r) {
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.data, null, r.text);
	assert.equal(r.json.errors.length, 1, r.text);
	assert.equal(r.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
	return r.json.errors[0];
}

function nest(depth) {
	// depth levels of fields: checkpoint { transactions { nodes { effects { ... } } } } is too wide;
	// use the self-similar address { asObject { addressAt { asObject ... } } } chain.
	let body = 'address';
	for (let i = 2; i < depth; i++) body = i % 2 ? `addressAt { ${body} }` : `asObject { ${body} }`;
	return `{ address(address: "0x1") { ${body} } }`;
}

test('defaults are the real service defaults and serviceConfig reports them', async () => {
	assert.equal(info.graphql_limits, true);
	const limits = await admin(info, '/graphql-limits');
	assert.equal(limits.max_query_depth, 20);
	assert.equal(limits.max_query_nodes, 300);
	assert.equal(limits.max_output_nodes, 1_000_000);
	assert.equal(limits.max_query_payload_size, 5000);
	assert.equal(limits.max_tx_payload_size, 174_763);
	assert.equal(limits.default_page_size, 20);
	assert.equal(limits.max_page_size, 50);
	const r = await q(`{ serviceConfig { maxQueryDepth maxQueryNodes maxOutputNodes maxQueryPayloadSize maxTransactionPayloadSize maxMultiGetSize
		a: maxPageSize(type: "Query", field: "events") b: defaultPageSize(type: "Query", field: "events")
		c: maxPageSize(type: "TransactionEffects", field: "objectChanges") d: maxPageSize(type: "Query", field: "chainIdentifier") } }`);
	assert.deepEqual(r.json.data.serviceConfig, {
		maxQueryDepth: 20,
		maxQueryNodes: 300,
		maxOutputNodes: 1_000_000,
		maxQueryPayloadSize: 5000,
		maxTransactionPayloadSize: 174_763,
		maxMultiGetSize: 200,
		a: 50,
		b: 20,
		c: 1024,
		d: null,
	});
});

test('depth: 20 levels pass, 21 fail with the path of the parent and the position of the field', async () => {
	const ok = await q(nest(20));
	assert.equal(ok.json.errors, undefined, ok.text);
	const e = oneError(await q(nest(21)));
	assert.equal(e.message, 'Query nesting is over 20');
	assert.equal(e.path.length, 20);
	assert.deepEqual(e.path.slice(0, 3), ['address', 'asObject', 'addressAt']);
	const text = nest(21);
	assert.equal(e.locations[0].line, 1);
	assert.equal(text.slice(e.locations[0].column - 1, e.locations[0].column - 1 + 'address'.length), 'address');
	// An inline fragment is a level of its own (as in the real input check).
	const wrapped = nest(20).replace('{ address(address: "0x1") { ', '{ address(address: "0x1") { ... on Address { ') + ' }';
	assert.equal(oneError(await q(wrapped)).message, 'Query nesting is over 20');
});

test('nodes: over 300 fields fail with the position of the 301st', async () => {
	const fields = (n) => Array.from({ length: n }, () => '__typename').join(' ');
	const ok = await q(`{ ${fields(300)} }`);
	assert.equal(ok.json.errors, undefined, ok.text?.slice(0, 300));
	const e = oneError(await q(`{ ${fields(301)} }`));
	assert.equal(e.message, 'Query has over 300 nodes');
	assert.equal(e.path, undefined);
	assert.deepEqual(e.locations, [{ line: 1, column: 3 + `${fields(300)} `.length }]);
});

test('payload: the whole request body counts, less transaction payload arguments', async () => {
	// A query with padding in a string argument just over 5000 bytes of body.
	const pad = (n) => `{ a: chainIdentifier b: type(type: "${'u'.repeat(Math.max(0, n))}") { repr } }`;
	const body = (query) => JSON.stringify({ query });
	let n = 5000 - body(pad(0)).length;
	const ok = await q(pad(n));
	assert.equal(Buffer.byteLength(body(pad(n))), 5000);
	assert.notEqual(ok.json.errors?.[0]?.message?.startsWith('Query payload too large'), true, ok.text);
	const e = oneError(await q(pad(n + 1)));
	assert.equal(e.message, 'Query payload too large: 5001B > 5000B');
	assert.equal(e.locations, undefined);
	// Variables count too.
	const e2 = oneError(await q('query($x: String!) { type(type: $x) { repr } }', { x: 'u'.repeat(5000) }));
	assert.match(e2.message, /^Query payload too large: \d+B > 5000B$/);
	// Transaction bytes in executeTransaction / simulateTransaction are excluded: 20 kB of
	// signatures pass the payload checks (and fail later, on the bytes themselves).
	const sig = 'A'.repeat(20_000);
	const r = await q('mutation($tx: Base64!, $sigs: [Base64!]!) { executeTransaction(transactionDataBcs: $tx, signatures: $sigs) { effects { digest } } }', {
		tx: 'AAAA',
		sigs: [sig],
	});
	assert.equal(r.status, 200);
	assert.doesNotMatch(r.json.errors[0].message, /payload/i, r.text);
	const sim = await q('query($tx: JSON!) { simulateTransaction(transaction: $tx) { effects { status } } }', { tx: { bcs: { value: 'A'.repeat(20_000) } } });
	assert.doesNotMatch(sim.json.errors?.[0]?.message ?? '', /payload/i, sim.text.slice(0, 300));
	// ... but the same bytes in an ordinary argument are query payload.
	const e3 = oneError(await q('query($x: String!) { type(type: $x) { repr } }', { x: sig }));
	assert.match(e3.message, /^Query payload too large/);
	// Over both budgets: refused before parsing.
	const e4 = oneError(await q('{ chainIdentifier }', { junk: 'x'.repeat(180_000) }));
	assert.match(e4.message, /^Request too large \d+B > 179763B$/);
});

test('page sizes: default 20, max 50, objectChanges 1024; reported at the connection field', async () => {
	const e = oneError(await q('{ events(first: 51) { nodes { sequenceNumber } } }'));
	assert.equal(e.message, 'Page size is too large: 51 > 50');
	assert.deepEqual(e.path, ['events']);
	assert.deepEqual(e.locations, [{ line: 1, column: 3 }]);
	const e2 = oneError(await q('query($n: Int) { checkpoints(last: $n) { nodes { sequenceNumber } } }', { n: 60 }));
	assert.equal(e2.message, 'Page size is too large: 60 > 50');
	const ok = await q('{ transactions(first: 1) { nodes { effects { objectChanges(first: 1024) { nodes { address } } } } } }');
	assert.equal(ok.json.errors, undefined, ok.text);
	const e3 = oneError(await q('{ transactions(first: 1) { nodes { effects { objectChanges(first: 1025) { nodes { address } } } } } }'));
	assert.equal(e3.message, 'Page size is too large: 1025 > 1024');
	assert.deepEqual(e3.path, ['transactions', 'nodes', 'effects', 'objectChanges']);
	const keys = Array.from({ length: 201 }, (_, i) => `"0x${(i + 1).toString(16)}"`).join(',');
	const e4 = oneError(await q(`{ multiGetObjects(keys: [${keys.split(',').map((k) => `{address: ${k}}`).join(',')}]) { address } }`));
	assert.equal(e4.message, 'Too many keys supplied to multi-get: 201 > 200');
});

test('output nodes: estimated from page sizes like the real service (usage header)', async () => {
	// The worked example of ServiceConfig.maxOutputNodes in the schema says 514, but the real
	// implementation (output.rs, and its own test: multiGetQ(keys: [3 keys]) { z } = 7) also charges
	// one node per multi-get element, so the same query costs 517 there, and here.
	const example = `query($a: SuiAddress!, $b: SuiAddress!, $c: SuiAddress!) {
		checkpoint { sequenceNumber }
		multiGetObjects(keys: [{address: $a}, {address: $b}, {address: $c}]) { address digest }
		transactions { pageInfo { hasNextPage endCursor } nodes { digest effects { objectChanges(first: 10) { nodes { address } } } } }
	}`;
	const r = await q(example, { a: '0x1', b: '0x2', c: '0x3' }, { 'x-sui-rpc-show-usage': 'true' });
	assert.equal(r.json.errors, undefined, r.text);
	assert.equal(r.json.extensions.usage.output.nodes, 517);
	assert.equal(r.json.extensions.usage.input.depth, 6);
	assert.equal(r.json.extensions.usage.payload.tx_payload_size, 0);
	// Nesting pages multiplies: 50 * 50 * 50 * 10 ... over 1,000,000.
	const big = '{ checkpoints(first: 50) { nodes { transactions(first: 50) { nodes { effects { objectChanges(first: 1024) { nodes { address idCreated idDeleted } } } } } } } }';
	const e = oneError(await q(big));
	assert.equal(
		e.message,
		'Query is estimated to produce over 1000000 output nodes. Try fetching fewer fields or fetching fewer items per page in paginated or multi-get fields.',
	);
	assert.deepEqual(e.path.slice(0, 4), ['checkpoints', 'nodes', 'transactions', 'nodes']);
});

test('schema validation errors come before limit errors; no Content-Length is refused like axum', async () => {
	const r = await q(`{ nope ${'x: chainIdentifier '.repeat(400)} }`);
	assert.match(r.json.errors[0].message, /Cannot query field "nope"/);
	const res = await new Promise((resolve, reject) => {
		const u = new URL(info.graphql);
		const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
			let t = '';
			res.on('data', (d) => (t += d));
			res.on('end', () => resolve({ status: res.statusCode, text: t }));
		});
		req.on('error', reject);
		req.write('{"query":"{ chainIdentifier }"}');
		req.end();
	});
	assert.equal(res.status, 400);
	assert.equal(res.text, 'Header of type `content-length` was missing');
});

test('admin can relax the limits for one test and reset them', async () => {
	const r1 = oneError(await q('{ events(first: 80) { nodes { sequenceNumber } } }'));
	assert.match(r1.message, /Page size is too large/);
	assert.equal((await admin(info, '/graphql-limits', { max_page_size: 100 })).max_page_size, 100);
	const r2 = await q('{ events(first: 80) { nodes { sequenceNumber } } }');
	assert.equal(r2.json.errors, undefined, r2.text);
	assert.equal((await admin(info, '/graphql-limits', { enabled: false })).enabled, false);
	const r3 = await q(nest(25));
	assert.equal(r3.json.errors, undefined, r3.text);
	const after = await admin(info, '/graphql-limits', { reset: true });
	assert.equal(after.enabled, true);
	assert.equal(after.max_page_size, 50);
	oneError(await q(nest(25)));
	const bad = await fetch(`${info.admin}/graphql-limits`, { method: 'POST', body: JSON.stringify({ max_pages: 1 }) });
	assert.equal(bad.status, 400);
});

test('--graphql-limits off starts relaxed', async () => {
	const s = await startServer(['--graphql-limits', 'off']);
	try {
		assert.equal(s.info.graphql_limits, false);
		const r = await post(s.info.graphql, { query: nest(30) });
		assert.equal(r.json.errors, undefined, r.text);
	} finally {
		await s.stop();
	}
});
