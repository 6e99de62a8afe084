#!/usr/bin/env node
// Local stand-in for a Sui full node (GraphQL + JSON-RPC), built on @mysten/sui, for the tests of
// the k3s-daas worker agent. See README.md in this directory.
//
//   node tests/peers/sui-devnet/server.mjs [--port 0] [--extra-ports N] [--min-stake 1000000000]
//        [--lock-epochs 0] [--epoch 10] [--ref-gas-price 750]
//
// Prints one JSON line on stdout when ready; logs go to stderr; exits 0 on SIGTERM/SIGINT.
import http from 'node:http';
import { Chain, UserInputError } from './chain.mjs';
import { GraphQLService, SERVICE_VERSION } from './graphql.mjs';
import { JsonRpcService, rpcMethods } from './jsonrpc.mjs';
import { Faults, HTTP_KINDS } from './faults.mjs';
import * as M from './move.mjs';
import { jsonStringify, addr, log, toBigInt } from './util.mjs';
import { updateLimits, limitsJson } from './limits.mjs';
import { parseNitroDocument, AttestationError } from './nitro.mjs';

const MAX_BODY = 8 * 1024 * 1024;

function parseArgs(argv) {
	const opts = { port: 0, extraPorts: 0, minStake: 1_000_000_000n, lockEpochs: 0n, epoch: 10n, refGasPrice: 750n, host: '127.0.0.1' };
	const need = (i) => {
		if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`);
		return argv[i + 1];
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const [k, inline] = a.includes('=') ? a.split(/=(.*)/s) : [a, undefined];
		const val = () => (inline !== undefined ? inline : need(i++));
		switch (k) {
			case '--port':
				opts.port = Number(val());
				break;
			case '--extra-ports':
				opts.extraPorts = Number(val());
				break;
			case '--min-stake':
				opts.minStake = toBigInt(val(), '--min-stake');
				break;
			case '--lock-epochs':
				opts.lockEpochs = toBigInt(val(), '--lock-epochs');
				break;
			case '--epoch':
				opts.epoch = toBigInt(val(), '--epoch');
				break;
			case '--ref-gas-price':
				opts.refGasPrice = toBigInt(val(), '--ref-gas-price');
				break;
			case '--graphql-limits': {
				const v = val();
				if (v !== 'on' && v !== 'off') throw new Error('--graphql-limits must be on or off');
				opts.graphqlLimits = v === 'on';
				break;
			}
			case '--help':
			case '-h':
				process.stderr.write(
					'usage: server.mjs [--port 0] [--extra-ports N] [--min-stake MIST] [--lock-epochs N] [--epoch N] [--ref-gas-price MIST] [--graphql-limits on|off]\n',
				);
				process.exit(0);
				break;
			default:
				throw new Error(`unknown argument ${a}`);
		}
	}
	if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port must be 0..65535');
	if (!Number.isInteger(opts.extraPorts) || opts.extraPorts < 0 || opts.extraPorts > 16) throw new Error('--extra-ports must be 0..16');
	return opts;
}

function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		let size = 0;
		req.on('data', (c) => {
			size += c.length;
			if (size > MAX_BODY) {
				reject(Object.assign(new Error('request body too large'), { status: 413 }));
				req.destroy();
				return;
			}
			chunks.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
		req.on('error', reject);
	});
}

function send(res, status, body, headers = {}) {
	if (res.destroyed || res.writableEnded) return;
	const text = typeof body === 'string' ? body : jsonStringify(body);
	res.writeHead(status, { 'content-type': typeof body === 'string' && headers['content-type'] ? headers['content-type'] : 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
	res.end(text);
}

function objectRef(o) {
	return { objectId: o.id, version: String(o.version), digest: o.digest };
}

function recordState(o) {
	if (!o) return null;
	return {
		id: o.id,
		version: String(o.version),
		digest: o.digest,
		initial_shared_version: o.owner.kind === 'shared' ? String(o.owner.isv) : null,
		...M.gqlJson(o),
	};
}

class Server {
	constructor(opts) {
		this.opts = opts;
		this.chain = new Chain({ minStake: opts.minStake, lockEpochs: opts.lockEpochs, epoch: opts.epoch, refGasPrice: opts.refGasPrice });
		this.faults = new Faults();
		this.gql = new GraphQLService(this.chain, this.faults);
		this.rpc = new JsonRpcService(this.chain, this.faults);
		this.servers = [];
		this.sockets = new Set();
		this.counters = { total: 0, perPort: {}, perMethod: {} };
		// Bytes on the wire (HTTP headers included) of the GraphQL/JSON-RPC requests, read from the
		// sockets when each answer is finished, per request kind (its root fields or methods joined
		// by '+'); admin requests are not counted. `connections`: TCP connections accepted.
		this.wire = { connections: 0, requests: 0, bytes_in: 0, bytes_out: 0, perKind: {}, perPort: {} };
	}

	/** Called when an answer is finished: attributes the socket's bytes since the last answer. */
	countWire(socket, kind, port) {
		if (!socket) return;
		const read = socket.bytesRead - (socket.k3sRead ?? 0);
		const written = socket.bytesWritten - (socket.k3sWritten ?? 0);
		socket.k3sRead = socket.bytesRead;
		socket.k3sWritten = socket.bytesWritten;
		if (kind == null) return;
		const w = this.wire;
		w.requests++;
		w.bytes_in += read;
		w.bytes_out += written;
		const pp = (w.perPort[port] ??= { requests: 0, bytes_in: 0, bytes_out: 0, perKind: {} });
		pp.requests++;
		pp.bytes_in += read;
		pp.bytes_out += written;
		for (const k of [(w.perKind[kind] ??= { requests: 0, bytes_in: 0, bytes_out: 0 }), (pp.perKind[kind] ??= { requests: 0, bytes_in: 0, bytes_out: 0 })]) {
			k.requests++;
			k.bytes_in += read;
			k.bytes_out += written;
		}
	}

	/** The request and wire counters alone (cheap to poll, unlike /admin/state). */
	countersView() {
		return { now_ms: Date.now(), requests: this.counters, wire: this.wire };
	}

	count(port, methods) {
		this.counters.total++;
		const p = (this.counters.perPort[port] ??= { total: 0, methods: {} });
		p.total++;
		for (const m of methods) {
			p.methods[m] = (p.methods[m] ?? 0) + 1;
			this.counters.perMethod[m] = (this.counters.perMethod[m] ?? 0) + 1;
		}
	}

	async listen() {
		const ports = [this.opts.port, ...Array.from({ length: this.opts.extraPorts }, () => 0)];
		for (const p of ports) {
			const srv = http.createServer((req, res) => this.onRequest(srv, req, res));
			srv.keepAliveTimeout = 5000;
			srv.on('connection', (s) => {
				this.wire.connections++;
				this.sockets.add(s);
				s.on('close', () => this.sockets.delete(s));
			});
			await new Promise((resolve, reject) => {
				srv.once('error', reject);
				srv.listen(p, this.opts.host, resolve);
			});
			srv.port = srv.address().port;
			this.servers.push(srv);
		}
	}

	async close() {
		for (const s of this.servers) s.close();
		for (const s of this.sockets) s.destroy();
	}

	readyLine() {
		const base = (s) => `http://${this.opts.host}:${s.port}`;
		const main = this.servers[0];
		const pool = this.chain.getObject(this.chain.poolId);
		return {
			ready: true,
			url: base(main),
			graphql: `${base(main)}/graphql`,
			jsonrpc: `${base(main)}/jsonrpc`,
			graphql_urls: this.servers.map((s) => `${base(s)}/graphql`),
			jsonrpc_urls: this.servers.map((s) => `${base(s)}/jsonrpc`),
			admin: `${base(main)}/admin`,
			ports: this.servers.map((s) => s.port),
			package_id: this.chain.packageId,
			staking_pool_id: this.chain.poolId,
			pool_initial_shared_version: Number(pool.owner.isv),
			module: M.MODULE,
			min_stake_mist: String(this.chain.minStake),
			lock_epochs: Number(this.chain.lockEpochs),
			admin_address: this.chain.adminAddress,
			chain_identifier: this.chain.chainIdentifier,
			epoch: Number(this.chain.epoch),
			reference_gas_price: String(this.chain.rgp),
			graphql_limits: limitsJson().enabled,
			pid: process.pid,
		};
	}

	async onRequest(srv, req, res) {
		const port = srv.port;
		const url = new URL(req.url, `http://${req.headers.host ?? '127.0.0.1'}`);
		const path = url.pathname.replace(/\/+$/, '') || '/';
		let kind = null;
		res.once('finish', () => this.countWire(req.socket, kind, port));
		try {
			if (path === '/admin' || path.startsWith('/admin/')) return await this.onAdmin(req, res, path, url);
			if (path === '/health' || path === '/healthz') return send(res, 200, { ok: true });
			if (req.method === 'GET' && (path === '/graphql' || path === '/')) {
				return send(res, 200, 'Sui GraphQL / JSON-RPC stand-in (k3s-daas tests). POST GraphQL to /graphql, JSON-RPC to /jsonrpc.\n', {
					'content-type': 'text/plain',
				});
			}
			let transport;
			if (path === '/graphql') transport = 'graphql';
			else if (path === '/jsonrpc' || path === '/') transport = 'jsonrpc';
			else return send(res, 404, { error: `no route for ${req.method} ${path}` });
			if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
			// Sui's GraphQL handler takes the Content-Length header as a typed header (axum): a
			// request without one (chunked) is rejected before GraphQL sees it.
			if (transport === 'graphql') res.setHeader('x-sui-rpc-version', SERVICE_VERSION);
			if (transport === 'graphql' && req.headers['content-length'] == null) {
				await readBody(req).catch(() => {});
				return send(res, 400, 'Header of type `content-length` was missing', { 'content-type': 'text/plain; charset=utf-8' });
			}
			const raw = await readBody(req);
			let body;
			try {
				body = JSON.parse(raw);
			} catch {
				if (transport === 'graphql') return send(res, 400, { errors: [{ message: 'Invalid JSON in request body' }] });
				return send(res, 200, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
			}
			const methods =
				transport === 'graphql'
					? this.gql.rootFields(body?.query ?? '', body?.operationName).map((f) => `graphql:${f}`)
					: rpcMethods(body).map((m) => `jsonrpc:${m}`);
			const text = transport === 'graphql' ? `${body?.operationName ?? ''} ${body?.query ?? ''}` : rpcMethods(body).join(' ');
			const rq = {
				transport,
				port,
				text,
				ctx: { executed: false },
				contentLength: Number(req.headers['content-length'] ?? Buffer.byteLength(raw)),
				showUsage: req.headers['x-sui-rpc-show-usage'] != null,
			};
			this.count(port, methods.length ? methods : [`${transport}:?`]);
			kind = (methods.length ? methods : [`${transport}:?`]).join('+');
			await this.dispatch(rq, body, res);
		} catch (e) {
			log(`request error: ${e?.stack ?? e}`);
			send(res, e?.status ?? 500, { error: String(e?.message ?? e) });
		}
	}

	async dispatch(rq, body, res) {
		const lat = this.faults.take('latency', rq);
		if (lat) await new Promise((r) => setTimeout(r, lat.ms));
		const f = this.faults.take(HTTP_KINDS, rq);
		if (f) {
			log(`fault ${f.kind} on ${rq.transport} port ${rq.port}`);
			switch (f.kind) {
				case 'http500':
					return send(res, 500, rq.transport === 'graphql' ? 'Internal Server Error' : 'Internal Server Error', { 'content-type': 'text/plain' });
				case 'http429':
					return send(res, 429, 'Too Many Requests', { 'content-type': 'text/plain', 'retry-after': '1' });
				case 'malformed':
					return send(res, 200, '<html><body>502 Bad Gateway</body></html>', { 'content-type': 'application/json' });
				case 'reset':
					return res.socket?.destroy();
				case 'hang':
					return; // never answer; the socket stays open until the client gives up (or shutdown)
				case 'graphql_error':
					if (rq.transport === 'graphql')
						return send(res, 200, { data: null, errors: [{ message: 'Internal error occurred while processing request (injected fault)', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
					return send(res, 200, { jsonrpc: '2.0', id: body?.id ?? null, error: { code: -32603, message: 'Internal error (injected fault)' } });
				case 'truncated': {
					const out = rq.transport === 'graphql' ? await this.gql.handle(body, rq) : await this.rpc.handle(body, rq);
					const text = jsonStringify(out);
					const cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
					return send(res, 200, cut, { 'content-type': 'application/json' });
				}
			}
		}
		const out = rq.transport === 'graphql' ? await this.gql.handle(body, rq) : await this.rpc.handle(body, rq);
		if (rq.ctx?.executed && this.faults.take('execute_then_reset', rq)) {
			log(`fault execute_then_reset on ${rq.transport} port ${rq.port}`);
			return res.socket?.destroy();
		}
		if (rq.transport === 'jsonrpc' && out == null) return send(res, 204, '');
		return send(res, 200, out);
	}

	// ---- admin -----------------------------------------------------------------------------

	async onAdmin(req, res, path, url) {
		const sub = path.slice('/admin'.length) || '/';
		let body = {};
		if (req.method === 'POST') {
			const raw = await readBody(req);
			if (raw.trim()) {
				try {
					body = JSON.parse(raw);
				} catch {
					return send(res, 400, { error: 'invalid JSON body' });
				}
			}
		}
		const c = this.chain;
		try {
			if (req.method === 'GET' && (sub === '/' || sub === '/info')) return send(res, 200, this.readyLine());
			if (req.method === 'GET' && sub === '/state') return send(res, 200, this.state());
			if (req.method === 'GET' && sub === '/counters') return send(res, 200, this.countersView());
			if (req.method === 'GET' && sub === '/executions') {
				const s = url.searchParams.get('sender');
				const sender = s ? addr(s) : null;
				return send(res, 200, { executions: this.executions(sender) });
			}
			if (req.method === 'GET' && sub === '/graphql-limits') return send(res, 200, limitsJson());
			if (req.method === 'GET' && sub === '/graphql-hide') return send(res, 200, { hidden: this.gql.hidden });
			if (req.method === 'GET' && sub === '/faults') {
				// `?id=N`: only that fault (cheap to poll: the fired list holds up to 1,000 entries).
				const id = url.searchParams.get('id');
				const mine = (f) => id == null || f.id === Number(id);
				return send(res, 200, { faults: this.faults.pending().filter(mine), fired: this.faults.fired.filter(mine) });
			}
			if (req.method !== 'POST') return send(res, 404, { error: `no admin route ${req.method} ${sub}` });
			switch (sub) {
				case '/fund': {
					const amount = body.amount_mist ?? '5000000000';
					const r = await c.fund(body.address, amount, body.coins ?? 1);
					return send(res, 200, { digest: r.digest, address: addr(body.address), coins: r.coins.map((o) => ({ ...objectRef(o), balance: String(o.fields.balance) })) });
				}
				case '/slash': {
					if (!body.record_id && !body.node_id) return send(res, 400, { error: 'record_id or node_id required' });
					if (!body.all && body.amount_mist == null) return send(res, 400, { error: 'amount_mist or all:true required' });
					const { record, stakeRecord } = await c.slash({ recordId: body.record_id, nodeId: body.node_id, amount: body.amount_mist, all: !!body.all, reason: body.reason });
					return send(res, 200, {
						digest: record.digest,
						status: record.status,
						error: record.errorDebug,
						events: record.events.map((e) => ({ type: e.type, json: e.json })),
						record: recordState(stakeRecord),
					});
				}
				case '/slash-batch': {
					// One transaction slashing several records (benchmarks: a batch at one instant).
					const ids = body.node_ids ?? [];
					const recs = body.record_ids ?? [];
					if (!Array.isArray(ids) || !Array.isArray(recs) || ids.length + recs.length === 0) return send(res, 400, { error: 'node_ids or record_ids (lists) required' });
					if (!body.all && body.amount_mist == null) return send(res, 400, { error: 'amount_mist or all:true required' });
					const targets = [...ids.map((nodeId) => ({ nodeId })), ...recs.map((recordId) => ({ recordId }))];
					const { record, stakeRecords } = await c.slashMany({ targets, amount: body.amount_mist, all: !!body.all, reason: body.reason });
					return send(res, 200, {
						digest: record.digest,
						status: record.status,
						error: record.errorDebug,
						events: record.events.map((e) => ({ type: e.type, json: e.json })),
						records: stakeRecords.map(recordState),
					});
				}
				case '/graphql-hide': {
					try {
						return send(res, 200, this.gql.hide(body));
					} catch (e) {
						return send(res, 400, { error: String(e?.message ?? e) });
					}
				}
				case '/advance-epoch': {
					const n = Number(body.epochs ?? 1);
					if (!Number.isInteger(n) || n < 1 || n > 1000) return send(res, 400, { error: 'epochs must be 1..1000' });
					return send(res, 200, { epoch: Number(c.advanceEpoch(n)) });
				}
				case '/fault': {
					const f = this.faults.add(body);
					log(`fault armed: ${JSON.stringify(f)}`);
					return send(res, 200, { fault: f });
				}
				case '/graphql-limits':
					return send(res, 200, updateLimits(body));
				case '/enclave/publish':
				case '/enclave/config':
				case '/enclave/update-pcrs':
				case '/enclave/register':
				case '/enclave/destroy':
					return await this.onEnclave(res, sub, body);
				case '/clear-faults':
					return send(res, 200, { cleared: this.faults.clear(body) });
				default:
					return send(res, 404, { error: `no admin route ${req.method} ${sub}` });
			}
		} catch (e) {
			const status = e instanceof UserInputError || /invalid|required|must|not found|unknown/i.test(e?.message ?? '') ? 400 : 500;
			if (status === 500) log(`admin error: ${e?.stack ?? e}`);
			return send(res, status, { error: String(e?.message ?? e), code: e?.code });
		}
	}

	async onEnclave(res, sub, body) {
		const c = this.chain;
		const hexBytes = (v, what, len) => {
			if (typeof v !== 'string' || !/^(0x)?([0-9a-fA-F]{2})*$/.test(v)) throw new UserInputError(`${what} must be hex`);
			const b = Uint8Array.from(Buffer.from(v.replace(/^0x/, ''), 'hex'));
			if (len != null && b.length !== len) throw new UserInputError(`${what} must be ${len} bytes`);
			return b;
		};
		const pcrsOf = (b) => [0, 1, 2].map((i) => hexBytes(b[`pcr${i}`] ?? b.pcrs?.[`pcr${i}`], `pcr${i}`, 48));
		const created = (rec, kind) => rec.changes.find((x) => x.idOp === 'Created' && x.output?.kind === kind)?.output ?? null;
		const answer = (rec, ok) => {
			if (rec.status !== 'success') {
				const f = rec.failure?.error;
				return send(res, 409, { status: 'failure', digest: rec.digest, error: rec.errorDebug, abort_code: f?.kind === 'MoveAbort' ? Number(f.code) : null });
			}
			return send(res, 200, { status: 'success', digest: rec.digest, ...ok(rec) });
		};
		const hex = (b) => Buffer.from(b).toString('hex');
		switch (sub) {
			case '/enclave/publish':
				return send(res, 200, { package_id: c.publishEnclavePackage(), module: 'enclave' });
			case '/enclave/config': {
				if (!body.package_id || !body.app_type) throw new UserInputError('package_id and app_type required');
				const rec = await c.createEnclaveConfig({ packageId: body.package_id, name: String(body.name ?? 'enclave'), pcrs: pcrsOf(body), appType: body.app_type });
				return answer(rec, (r) => {
					const cfg = created(r, 'enclave_config');
					return { config_id: cfg.id, initial_shared_version: Number(cfg.owner.isv), version: Number(cfg.fields.version), cap_id: created(r, 'enclave_cap').id, type: cfg.type, object_version: String(cfg.version) };
				});
			}
			case '/enclave/update-pcrs': {
				if (!body.config_id) throw new UserInputError('config_id required');
				const rec = await c.updateEnclavePcrs({ configId: body.config_id, pcrs: pcrsOf(body) });
				return answer(rec, () => {
					const cfg = c.getObject(body.config_id);
					return { config_id: cfg.id, version: Number(cfg.fields.version), object_version: String(cfg.version) };
				});
			}
			case '/enclave/register': {
				if (!body.config_id) throw new UserInputError('config_id required');
				let pk;
				let pcrs = null;
				if (body.attestation_hex != null) {
					try {
						const doc = parseNitroDocument(body.attestation_hex);
						pk = doc.publicKey;
						pcrs = doc.pcrs;
					} catch (e) {
						if (e instanceof AttestationError) throw new UserInputError(e.message);
						throw e;
					}
				} else if (body.pk_hex != null) pk = hexBytes(body.pk_hex, 'pk_hex', 32);
				else throw new UserInputError('attestation_hex or pk_hex required');
				const rec = await c.registerEnclave({ configId: body.config_id, pcrs, pk });
				return answer(rec, (r) => {
					const e = created(r, 'enclave');
					return { enclave_id: e.id, initial_shared_version: Number(e.owner.isv), config_version: Number(e.fields.config_version), pk: hex(e.fields.pk), owner: e.fields.owner, type: e.type };
				});
			}
			case '/enclave/destroy': {
				if (!body.enclave_id) throw new UserInputError('enclave_id required');
				const rec = await c.destroyOldEnclave({ enclaveId: body.enclave_id, configId: body.config_id });
				return answer(rec, () => ({ enclave_id: addr(body.enclave_id), deleted: true }));
			}
		}
	}

	executions(sender) {
		const c = this.chain;
		return c.txOrder
			.map((d) => c.txs.get(d))
			.filter((r) => !sender || r.sender === sender)
			.map((r) => this.txSummary(r));
	}

	txSummary(r) {
		const c = this.chain;
		const kind = r.sender === c.faucetAddress ? 'faucet' : r.moveCalls.map((m) => m.split('::')[2]).join('+') || 'other';
		return {
			digest: r.digest,
			sender: r.sender,
			kind,
			move_calls: r.moveCalls,
			status: r.status,
			error: r.errorDebug,
			checkpoint: r.checkpoint,
			timestamp_ms: r.timestampMs,
			lamport_version: String(r.lamportVersion),
			gas_used: {
				computation_cost: String(r.gasUsed.computationCost),
				storage_cost: String(r.gasUsed.storageCost),
				storage_rebate: String(r.gasUsed.storageRebate),
			},
			created: r.changes.filter((x) => x.idOp === 'Created').map((x) => ({ id: x.id, type: x.output?.type })),
			deleted_count: r.changes.filter((x) => x.idOp === 'Deleted').length,
			events: r.events.map((e) => e.type),
			execution_requests: c.executeRequests.get(r.digest) ?? 0,
		};
	}

	state() {
		const c = this.chain;
		const objects = [...c.objects.values()].map((o) => ({
			id: o.id,
			kind: o.kind,
			type: o.type,
			version: String(o.version),
			digest: o.digest,
			owner: o.owner.kind === 'address' ? { address: o.owner.address } : o.owner.kind === 'shared' ? { shared: { initial_shared_version: String(o.owner.isv) } } : o.owner.kind,
			fields: o.kind === 'package' ? null : M.gqlJson(o),
		}));
		return {
			epoch: Number(c.epoch),
			epoch_start_ms: c.epochStartMs(),
			reference_gas_price: String(c.rgp),
			chain_identifier: c.chainIdentifier,
			latest_checkpoint: c.latestCheckpoint.seq,
			package_id: c.packageId,
			staking_pool_id: c.poolId,
			admin_address: c.adminAddress,
			faucet_address: c.faucetAddress,
			min_stake_mist: String(c.minStake),
			lock_epochs: Number(c.lockEpochs),
			pool: recordState(c.getObject(c.poolId)),
			records: objects.filter((o) => o.kind === 'record'),
			coins: objects.filter((o) => o.kind === 'coin'),
			objects,
			transactions: c.txOrder.map((d) => this.txSummary(c.txs.get(d))),
			execution_requests: Object.fromEntries(c.executeRequests),
			events: c.events.map((e) => ({
				tx_digest: e.txDigest,
				event_seq: e.eventSeq,
				sender: e.sender,
				type: e.type,
				json: e.json,
				timestamp_ms: e.timestampMs,
				checkpoint: e.checkpoint,
			})),
			requests: this.counters,
			faults_pending: this.faults.pending(),
			faults_fired: this.faults.fired,
		};
	}
}

async function main() {
	let opts;
	try {
		opts = parseArgs(process.argv.slice(2));
	} catch (e) {
		process.stderr.write(`sui-devnet: ${e.message}\n`);
		process.exit(2);
	}
	if (opts.graphqlLimits === false) updateLimits({ enabled: false });
	const server = new Server(opts);
	await server.listen();
	let stopping = false;
	const stop = async (sig) => {
		if (stopping) return;
		stopping = true;
		log(`${sig}: shutting down`);
		await server.close();
		process.exit(0);
	};
	// A test peer should stay up and say what went wrong rather than vanish mid-test.
	process.on('unhandledRejection', (e) => log(`unhandled rejection: ${e?.stack ?? e}`));
	process.on('uncaughtException', (e) => log(`uncaught exception: ${e?.stack ?? e}`));
	process.on('SIGTERM', () => stop('SIGTERM'));
	process.on('SIGINT', () => stop('SIGINT'));
	process.stdout.write(JSON.stringify(server.readyLine()) + '\n');
	log(`listening on ports ${server.servers.map((s) => s.port).join(', ')}; package ${server.chain.packageId}`);
}

main().catch((e) => {
	process.stderr.write(`sui-devnet: fatal: ${e?.stack ?? e}\n`);
	process.exit(1);
});
