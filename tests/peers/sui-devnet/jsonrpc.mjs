// JSON-RPC 2.0 transport with the shapes of Sui's JSON-RPC API (as typed in @mysten/sui/jsonRpc).
import { bcs } from '@mysten/sui/bcs';
import { UserInputError, MAX_GAS_BUDGET } from './chain.mjs';
import * as M from './move.mjs';
import {
	SUI_COIN_TYPE,
	DELETED_DIGEST,
	addr,
	isHexAddress,
	normalizeSuiAddress,
	normalizeStructTag,
	shortType,
	toBase64,
	fromBase64,
	fromBase58,
	encodeCursor,
	decodeCursor,
} from './util.mjs';

export class RpcError extends Error {
	constructor(code, message, data) {
		super(message);
		this.code = code;
		this.data = data;
	}
}

const INVALID_PARAMS = -32602;
const METHOD_NOT_FOUND = -32601;
const TX_EXECUTION_ERROR = -32002;
const MAX_LIMIT = 50;

function invalid(msg) {
	return new RpcError(INVALID_PARAMS, `Invalid params: ${msg}`);
}

function rpcOwner(owner) {
	switch (owner.kind) {
		case 'address':
			return { AddressOwner: owner.address };
		case 'shared':
			return { Shared: { initial_shared_version: Number(owner.isv) } };
		case 'immutable':
			return 'Immutable';
		default:
			return null;
	}
}

function ref(o) {
	return { objectId: o.id, version: Number(o.version), digest: o.digest };
}

function strRef(o) {
	return { objectId: o.id, version: String(o.version), digest: o.digest };
}

function parseAddress(v, what = 'address') {
	if (!isHexAddress(v)) throw invalid(`${what} is not a valid Sui address: ${JSON.stringify(v)}`);
	return normalizeSuiAddress(v);
}

function parseLimit(limit) {
	if (limit == null) return MAX_LIMIT;
	const n = Number(limit);
	if (!Number.isInteger(n) || n < 0) throw invalid('limit must be a non-negative integer');
	return Math.min(n, MAX_LIMIT);
}

function parseType(t, what = 'type') {
	try {
		return normalizeStructTag(String(t));
	} catch {
		throw invalid(`${what} is not a valid Move type: ${JSON.stringify(t)}`);
	}
}

function b64param(s, what) {
	if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw invalid(`${what} must be Base64`);
	return fromBase64(s);
}

function userError(e) {
	if (e instanceof UserInputError) {
		return new RpcError(
			TX_EXECUTION_ERROR,
			`Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- ${e.message}`,
			{ code: e.code },
		);
	}
	return e;
}

// Parameter names of the Sui JSON-RPC spec, for requests that pass params by name (jsonrpsee
// accepts both forms).
const PARAM_NAMES = {
	sui_getObject: ['object_id', 'options'],
	sui_multiGetObjects: ['object_ids', 'options'],
	sui_tryGetPastObject: ['object_id', 'version', 'options'],
	sui_getTransactionBlock: ['digest', 'options'],
	sui_multiGetTransactionBlocks: ['digests', 'options'],
	sui_getEvents: ['transaction_digest'],
	suix_queryEvents: ['query', 'cursor', 'limit', 'descending_order'],
	suix_queryTransactionBlocks: ['query', 'cursor', 'limit', 'descending_order'],
	suix_getOwnedObjects: ['address', 'query', 'cursor', 'limit'],
	suix_getCoins: ['owner', 'coin_type', 'cursor', 'limit'],
	suix_getBalance: ['owner', 'coin_type'],
};

function namedParams(method, params) {
	const names = PARAM_NAMES[method];
	if (!names || typeof params !== 'object') return null;
	for (const k of Object.keys(params)) if (!names.includes(k)) throw invalid(`unknown parameter ${k} for ${method}`);
	return names.map((n) => params[n] ?? null);
}

export class JsonRpcService {
	constructor(chain, faults) {
		this.chain = chain;
		this.faults = faults;
	}

	// ---- object rendering ----------------------------------------------------------------

	objectData(o, opts = {}) {
		const c = this.chain;
		if (o.kind === 'package') {
			const d = { objectId: o.id, version: String(o.version), digest: o.digest };
			if (opts.showType) d.type = 'package';
			if (opts.showOwner) d.owner = 'Immutable';
			if (opts.showPreviousTransaction) d.previousTransaction = o.previousTransaction;
			if (opts.showStorageRebate) d.storageRebate = '0';
			if (opts.showContent) d.content = { dataType: 'package', disassembled: { [M.MODULE]: '// disassembly not available' } };
			return d;
		}
		const d = { objectId: o.id, version: String(o.version), digest: o.digest };
		if (opts.showType) d.type = shortType(o.type);
		if (opts.showOwner) d.owner = rpcOwner(o.owner);
		if (opts.showPreviousTransaction) d.previousTransaction = o.previousTransaction;
		if (opts.showStorageRebate) d.storageRebate = String(o.storageRebate);
		if (opts.showDisplay) d.display = { data: null, error: null };
		if (opts.showContent)
			d.content = { dataType: 'moveObject', type: shortType(o.type), hasPublicTransfer: M.hasPublicTransfer(o), fields: M.rpcFields(o) };
		if (opts.showBcs)
			d.bcs = {
				dataType: 'moveObject',
				type: shortType(o.type),
				hasPublicTransfer: M.hasPublicTransfer(o),
				version: String(o.version),
				bcsBytes: toBase64(M.contentsBcs(o)),
			};
		void c;
		return d;
	}

	objectResponse(id, opts) {
		const o = this.chain.getObject(id);
		if (o) return { data: this.objectData(o, opts ?? {}) };
		const d = this.chain.deleted.get(id);
		if (d) return { error: { code: 'deleted', object_id: id, version: String(d.version), digest: d.digest } };
		return { error: { code: 'notExists', object_id: id } };
	}

	// ---- transaction rendering -----------------------------------------------------------

	pureValue(bytes, type) {
		try {
			if (type === 'u64') return bcs.u64().parse(bytes);
			if (type === 'address') return bcs.Address.parse(bytes);
			if (type === 'string') return bcs.string().parse(bytes);
		} catch {}
		return [...bytes];
	}

	inputTypes(p) {
		const types = new Map();
		const note = (a, t) => {
			if (a.Input != null && !types.has(a.Input)) types.set(a.Input, t);
		};
		for (const c of p.commands) {
			if (c.SplitCoins) c.SplitCoins.amounts.forEach((a) => note(a, 'u64'));
			if (c.TransferObjects) note(c.TransferObjects.address, 'address');
			if (c.MoveCall) {
				const fn =
					normalizeSuiAddress(c.MoveCall.package) === this.chain.packageId && c.MoveCall.module === M.MODULE
						? M.FUNCTIONS[c.MoveCall.function]
						: null;
				c.MoveCall.arguments.forEach((a, i) => {
					const t = fn?.params[i]?.type;
					if (t === 'u64' || t === 'string') note(a, t);
				});
			}
		}
		return types;
	}

	txData(rec) {
		const p = rec.parsed;
		const types = this.inputTypes(p);
		const valueType = { u64: 'u64', address: 'address', string: '0x1::string::String' };
		const arg = (a) =>
			a.GasCoin != null ? 'GasCoin' : a.Input != null ? { Input: a.Input } : a.Result != null ? { Result: a.Result } : { NestedResult: a.NestedResult };
		return {
			messageVersion: 'v1',
			transaction: {
				kind: 'ProgrammableTransaction',
				inputs: p.inputs.map((inp, i) => {
					if (inp.Pure) {
						const t = types.get(i);
						return { type: 'pure', valueType: t ? valueType[t] : null, value: this.pureValue(fromBase64(inp.Pure.bytes), t) };
					}
					const o = inp.Object;
					if (o?.ImmOrOwnedObject)
						return {
							type: 'object',
							objectType: 'immOrOwnedObject',
							objectId: normalizeSuiAddress(o.ImmOrOwnedObject.objectId),
							version: String(o.ImmOrOwnedObject.version),
							digest: o.ImmOrOwnedObject.digest,
						};
					if (o?.SharedObject)
						return {
							type: 'object',
							objectType: 'sharedObject',
							objectId: normalizeSuiAddress(o.SharedObject.objectId),
							initialSharedVersion: String(o.SharedObject.initialSharedVersion),
							mutable: o.SharedObject.mutable,
						};
					if (o?.Receiving)
						return {
							type: 'object',
							objectType: 'receiving',
							objectId: normalizeSuiAddress(o.Receiving.objectId),
							version: String(o.Receiving.version),
							digest: o.Receiving.digest,
						};
					return { type: 'pure', value: null };
				}),
				transactions: p.commands.map((c) => {
					if (c.MoveCall)
						return {
							MoveCall: {
								package: normalizeSuiAddress(c.MoveCall.package),
								module: c.MoveCall.module,
								function: c.MoveCall.function,
								type_arguments: c.MoveCall.typeArguments ?? [],
								arguments: c.MoveCall.arguments.map(arg),
							},
						};
					if (c.SplitCoins) return { SplitCoins: [arg(c.SplitCoins.coin), c.SplitCoins.amounts.map(arg)] };
					if (c.MergeCoins) return { MergeCoins: [arg(c.MergeCoins.destination), c.MergeCoins.sources.map(arg)] };
					if (c.TransferObjects) return { TransferObjects: [c.TransferObjects.objects.map(arg), arg(c.TransferObjects.address)] };
					return c;
				}),
			},
			sender: p.sender,
			gasData: {
				payment: p.gas.payment.map((r) => ({ objectId: r.objectId, version: Number(r.version), digest: r.digest })),
				owner: p.gas.owner,
				price: String(p.gas.price),
				budget: String(p.gas.budget),
			},
		};
	}

	effectsJson(rec) {
		const g = rec.gasUsed;
		const e = {
			messageVersion: 'v1',
			status: rec.status === 'success' ? { status: 'success' } : { status: 'failure', error: rec.errorDebug },
			executedEpoch: String(rec.executedEpoch),
			gasUsed: {
				computationCost: String(g.computationCost),
				storageCost: String(g.storageCost),
				storageRebate: String(g.storageRebate),
				nonRefundableStorageFee: String(g.nonRefundableStorageFee),
			},
			modifiedAtVersions: rec.changes.filter((c) => c.input).map((c) => ({ objectId: c.id, sequenceNumber: String(c.input.version) })),
			transactionDigest: rec.digest,
		};
		if (rec.sharedInputs.length)
			e.sharedObjects = rec.sharedInputs.map((s) => ({ objectId: s.id, version: Number(s.version), digest: s.digest }));
		const created = rec.changes.filter((c) => c.idOp === 'Created' && c.output);
		const mutated = rec.changes.filter((c) => c.idOp === 'None' && c.output);
		const deleted = rec.changes.filter((c) => c.idOp === 'Deleted');
		if (created.length) e.created = created.map((c) => ({ owner: rpcOwner(c.output.owner), reference: ref(c.output) }));
		if (mutated.length) e.mutated = mutated.map((c) => ({ owner: rpcOwner(c.output.owner), reference: ref(c.output) }));
		if (deleted.length) e.deleted = deleted.map((c) => ({ objectId: c.id, version: Number(rec.lamportVersion), digest: DELETED_DIGEST }));
		if (rec.gasObject) e.gasObject = { owner: rpcOwner(rec.gasObject.owner), reference: ref(rec.gasObject) };
		else
			e.gasObject = {
				owner: { AddressOwner: rec.gasOwner },
				reference: { objectId: normalizeSuiAddress('0x0'), version: 0, digest: '11111111111111111111111111111111' },
			};
		if (rec.eventsDigest) e.eventsDigest = rec.eventsDigest;
		if (rec.dependencies.length) e.dependencies = rec.dependencies;
		if (rec.failure?.error.kind === 'MoveAbort') {
			const a = rec.failure.error;
			e.abortError = { module_id: `${a.package}::${a.module}`, function: a.functionName, line: null, error_code: String(a.code) };
		}
		return e;
	}

	eventJson(ev, rec) {
		const out = {
			id: { txDigest: ev.txDigest, eventSeq: String(ev.eventSeq) },
			packageId: ev.packageId,
			transactionModule: ev.module,
			sender: ev.sender,
			type: ev.type,
			parsedJson: ev.json,
			bcs: toBase64(ev.contents),
			bcsEncoding: 'base64',
		};
		const ts = ev.timestampMs ?? rec?.timestampMs;
		if (ts != null) out.timestampMs = String(ts);
		return out;
	}

	objectChanges(rec) {
		const out = [];
		for (const c of rec.changes) {
			if (c.idOp === 'Created' && c.output)
				out.push({
					type: 'created',
					sender: rec.sender,
					owner: rpcOwner(c.output.owner),
					objectType: shortType(c.output.type),
					objectId: c.id,
					version: String(c.output.version),
					digest: c.output.digest,
				});
			else if (c.output)
				out.push({
					type: 'mutated',
					sender: rec.sender,
					owner: rpcOwner(c.output.owner),
					objectType: shortType(c.output.type),
					objectId: c.id,
					version: String(c.output.version),
					previousVersion: String(c.input.version),
					digest: c.output.digest,
				});
			else if (c.input)
				out.push({
					type: 'deleted',
					sender: rec.sender,
					objectType: shortType(c.input.type),
					objectId: c.id,
					version: String(rec.lamportVersion),
				});
		}
		return out;
	}

	balanceChanges(rec) {
		return rec.balanceChanges.map((b) => ({ owner: { AddressOwner: b.owner }, coinType: shortType(b.coinType), amount: b.amount.toString() }));
	}

	txResponse(rec, opts = {}, { executed = false } = {}) {
		const r = { digest: rec.digest };
		if (opts.showInput) r.transaction = { data: this.txData(rec), txSignatures: rec.signatures };
		if (opts.showRawInput) {
			r.rawTransaction = toBase64(
				bcs.SenderSignedData.serialize([
					{
						intentMessage: { intent: { scope: { TransactionData: true }, version: { V0: true }, appId: { Sui: true } }, value: rec.parsed.data },
						txSignatures: rec.signatures,
					},
				]).toBytes(),
			);
		}
		if (opts.showEffects) r.effects = this.effectsJson(rec);
		if (opts.showEvents) r.events = rec.events.map((e) => this.eventJson(e, rec));
		if (opts.showObjectChanges) r.objectChanges = this.objectChanges(rec);
		if (opts.showBalanceChanges) r.balanceChanges = this.balanceChanges(rec);
		if (opts.showRawEffects) r.rawEffects = [...rec.effectsBcs];
		if (executed) {
			r.confirmedLocalExecution = true;
		} else {
			r.timestampMs = String(rec.timestampMs);
			r.checkpoint = String(rec.checkpoint);
		}
		return r;
	}

	lookupTx(digest, req) {
		const rec = this.chain.txs.get(digest);
		if (!rec) return null;
		if (this.faults.take('indexer_lag', req)) return null;
		return rec;
	}

	notFoundTx(digest) {
		return new RpcError(INVALID_PARAMS, `Could not find the referenced transaction [TransactionDigest(${digest})].`);
	}

	// ---- events --------------------------------------------------------------------------

	eventPredicate(f) {
		if (f == null) return () => true;
		if (typeof f !== 'object') throw invalid('event filter must be an object');
		const key = Object.keys(f)[0];
		const v = f[key];
		switch (key) {
			case 'All':
				if (!Array.isArray(v)) throw invalid('All expects an array');
				{
					const ps = v.map((x) => this.eventPredicate(x));
					return (e) => ps.every((p) => p(e));
				}
			case 'And':
				{
					const ps = v.map((x) => this.eventPredicate(x));
					return (e) => ps.every((p) => p(e));
				}
			case 'Any':
			case 'Or':
				{
					const ps = v.map((x) => this.eventPredicate(x));
					return (e) => ps.some((p) => p(e));
				}
			case 'Sender': {
				const a = parseAddress(v, 'Sender');
				return (e) => e.sender === a;
			}
			case 'Transaction':
				return (e) => e.txDigest === v;
			case 'Package': {
				const pkg = parseAddress(v, 'Package');
				return (e) => e.packageId === pkg;
			}
			case 'MoveModule': {
				const pkg = parseAddress(v?.package, 'MoveModule.package');
				return (e) => e.packageId === pkg && e.module === v.module;
			}
			case 'MoveEventModule': {
				const pkg = parseAddress(v?.package, 'MoveEventModule.package');
				return (e) => e.type.startsWith(`${pkg}::${v.module}::`);
			}
			case 'MoveEventType': {
				let t;
				try {
					t = normalizeStructTag(v);
				} catch {
					throw invalid(`invalid MoveEventType ${v}`);
				}
				return (e) => e.type === t;
			}
			case 'MoveEventField':
				return (e) => JSON.stringify(e.json?.[String(v?.path ?? '').replace(/^\//, '')]) === JSON.stringify(v?.value);
			case 'TimeRange': {
				const lo = Number(v?.startTime ?? 0);
				const hi = Number(v?.endTime ?? Infinity);
				return (e) => e.timestampMs >= lo && e.timestampMs < hi;
			}
			default:
				throw invalid(`unsupported event filter ${key}`);
		}
	}

	// ---- dispatch ------------------------------------------------------------------------

	async call(method, params, req) {
		const c = this.chain;
		const P = Array.isArray(params) ? params : params == null ? [] : namedParams(method, params);
		if (P == null) throw invalid('params must be an array');
		switch (method) {
			case 'rpc.discover':
				return { openrpc: '1.2.6', info: { title: 'Sui JSON-RPC (k3s-daas local stand-in)', version: '1.0.0' }, methods: [] };
			case 'sui_getChainIdentifier':
				return c.chainIdentifierHex;
			case 'sui_getLatestCheckpointSequenceNumber':
				return String(c.latestCheckpoint.seq);
			case 'sui_getTotalTransactionBlocks':
				return String(c.latestCheckpoint.networkTotalTransactions);
			case 'sui_getCheckpoint': {
				const id = P[0];
				let cp;
				if (typeof id === 'string' && /^[0-9]+$/.test(id)) cp = c.checkpoints[Number(id)];
				else if (typeof id === 'number') cp = c.checkpoints[id];
				else cp = c.checkpoints.find((x) => x.digest === id);
				if (!cp) throw new RpcError(INVALID_PARAMS, `Could not find the referenced checkpoint ${JSON.stringify(id)}`);
				return this.checkpointJson(cp);
			}
			case 'sui_getCheckpoints': {
				const [cursor, limit, desc] = P;
				let list = [...c.checkpoints];
				if (desc) list.reverse();
				if (cursor != null) {
					const i = list.findIndex((x) => String(x.seq) === String(cursor));
					list = list.slice(i + 1);
				}
				const n = parseLimit(limit);
				const page = list.slice(0, n);
				return { data: page.map((x) => this.checkpointJson(x)), nextCursor: page.length ? String(page[page.length - 1].seq) : null, hasNextPage: list.length > n };
			}
			case 'suix_getReferenceGasPrice':
				return String(c.rgp);
			case 'suix_getLatestSuiSystemState':
				return this.systemState();
			case 'suix_getCurrentEpoch':
				return { epoch: String(c.epoch), epochStartTimestamp: String(c.epochStartMs()), referenceGasPrice: Number(c.rgp), validators: [], epochTotalTransactions: String(c.epochs.get(c.epoch).txCount), firstCheckpointId: '0', endOfEpochInfo: null };
			case 'sui_getProtocolConfig':
				return {
					minSupportedProtocolVersion: '1',
					maxSupportedProtocolVersion: String(c.protocolVersion),
					protocolVersion: String(c.protocolVersion),
					featureFlags: {},
					attributes: { max_gas_budget: { u64: String(MAX_GAS_BUDGET) } },
				};
			case 'suix_getCoinMetadata': {
				const t = P[0] ?? '0x2::sui::SUI';
				if (parseType(t, 'coin_type') !== SUI_COIN_TYPE) return null;
				return { decimals: 9, name: 'Sui', symbol: 'SUI', description: '', iconUrl: null, id: null };
			}
			case 'suix_getCoins':
			case 'suix_getAllCoins': {
				const all = method === 'suix_getAllCoins';
				const owner = parseAddress(P[0], 'owner');
				const coinType = all ? null : P[1];
				const cursor = all ? P[1] : P[2];
				const limit = parseLimit(all ? P[2] : P[3]);
				if (coinType != null && parseType(coinType, 'coin_type') !== SUI_COIN_TYPE) return { data: [], nextCursor: null, hasNextPage: false };
				let coins = c.coinsOf(owner);
				if (cursor != null) {
					const k = decodeCursor(cursor)?.k;
					if (typeof k !== 'string') throw invalid(`invalid cursor ${cursor}`);
					coins = coins.filter((x) => x.id > k);
				}
				const page = coins.slice(0, limit);
				return {
					data: page.map((o) => ({
						coinType: '0x2::sui::SUI',
						coinObjectId: o.id,
						version: String(o.version),
						digest: o.digest,
						balance: String(o.fields.balance),
						previousTransaction: o.previousTransaction,
					})),
					nextCursor: page.length ? encodeCursor({ k: page[page.length - 1].id }) : null,
					hasNextPage: coins.length > limit,
				};
			}
			case 'suix_getBalance': {
				const owner = parseAddress(P[0], 'owner');
				const t = P[1] == null ? SUI_COIN_TYPE : parseType(P[1], 'coin_type');
				const { total, count } = t === SUI_COIN_TYPE ? c.balanceOf(owner) : { total: 0n, count: 0 };
				return { coinType: shortType(t), coinObjectCount: count, totalBalance: String(total), lockedBalance: {}, fundsInAddressBalance: '0' };
			}
			case 'suix_getAllBalances': {
				const owner = parseAddress(P[0], 'owner');
				const { total, count } = c.balanceOf(owner);
				return count ? [{ coinType: '0x2::sui::SUI', coinObjectCount: count, totalBalance: String(total), lockedBalance: {}, fundsInAddressBalance: '0' }] : [];
			}
			case 'sui_getObject':
				return this.objectResponse(parseAddress(P[0], 'object id'), P[1]);
			case 'sui_multiGetObjects': {
				if (!Array.isArray(P[0])) throw invalid('object ids must be an array');
				if (P[0].length > 50) throw invalid('too many object ids (max 50)');
				return P[0].map((id) => this.objectResponse(parseAddress(id, 'object id'), P[1]));
			}
			case 'sui_tryGetPastObject': {
				const id = parseAddress(P[0], 'object id');
				const o = c.getObjectAt(id, P[1]);
				if (o) return { status: 'VersionFound', details: this.objectData(o, P[2] ?? {}) };
				if (!c.history.has(id)) return { status: 'ObjectNotExists', details: id };
				return { status: 'VersionNotFound', details: [id, String(P[1])] };
			}
			case 'suix_getOwnedObjects': {
				const owner = parseAddress(P[0], 'owner');
				const query = P[1] ?? {};
				const cursor = P[2];
				const limit = parseLimit(P[3]);
				let objs = c.ownedObjects(owner);
				const f = query.filter;
				if (f?.StructType) {
					const t = parseType(f.StructType, 'StructType');
					objs = objs.filter((o) => o.type === t || (!t.includes('<') && o.type.startsWith(t + '<')));
				} else if (f?.Package) objs = objs.filter((o) => o.type.startsWith(normalizeSuiAddress(f.Package) + '::'));
				else if (f?.MoveModule) objs = objs.filter((o) => o.type.startsWith(`${normalizeSuiAddress(f.MoveModule.package)}::${f.MoveModule.module}::`));
				if (cursor != null) objs = objs.filter((o) => o.id > normalizeSuiAddress(cursor));
				const page = objs.slice(0, limit);
				return {
					data: page.map((o) => ({ data: this.objectData(o, query.options ?? {}) })),
					nextCursor: page.length ? page[page.length - 1].id : null,
					hasNextPage: objs.length > limit,
				};
			}
			case 'suix_getDynamicFields':
				return { data: [], nextCursor: null, hasNextPage: false };
			case 'sui_getNormalizedMoveFunction': {
				const pkg = parseAddress(P[0], 'package');
				const fn = pkg === c.packageId && P[1] === M.MODULE ? M.FUNCTIONS[P[2]] : null;
				if (!fn) throw new RpcError(INVALID_PARAMS, `No function was found with function name ${P[2]}`);
				return this.normalizedFunction(fn);
			}
			case 'sui_getNormalizedMoveModule': {
				const pkg = parseAddress(P[0], 'package');
				if (pkg !== c.packageId || P[1] !== M.MODULE) throw new RpcError(INVALID_PARAMS, `No module found with module name ${P[1]}`);
				return this.normalizedModule();
			}
			case 'sui_getNormalizedMoveModulesByPackage': {
				const pkg = parseAddress(P[0], 'package');
				if (pkg !== c.packageId) throw new RpcError(INVALID_PARAMS, `Package object does not exist with ID ${pkg}`);
				return { [M.MODULE]: this.normalizedModule() };
			}
			case 'sui_getMoveFunctionArgTypes': {
				const pkg = parseAddress(P[0], 'package');
				const fn = pkg === c.packageId && P[1] === M.MODULE ? M.FUNCTIONS[P[2]] : null;
				if (!fn) throw new RpcError(INVALID_PARAMS, `No function was found with function name ${P[2]}`);
				return fn.params.map((p) =>
					p.type === 'u64' || p.type === 'string'
						? 'Pure'
						: { Object: p.ref === '&mut' ? 'ByMutableReference' : p.ref === '&' ? 'ByImmutableReference' : 'ByValue' },
				);
			}
			case 'sui_dryRunTransactionBlock': {
				const bytes = b64param(P[0], 'tx_bytes');
				let rec;
				try {
					rec = c.simulate(bytes);
				} catch (e) {
					throw userError(e);
				}
				return {
					effects: this.effectsJson(rec),
					events: rec.events.map((e) => this.eventJson(e, rec)),
					objectChanges: this.objectChanges(rec),
					balanceChanges: this.balanceChanges(rec),
					input: this.txData(rec),
					executionErrorSource: null,
					suggestedGasPrice: String(c.rgp),
				};
			}
			case 'sui_devInspectTransactionBlock': {
				const sender = parseAddress(P[0], 'sender_address');
				const bytes = b64param(P[1], 'tx_bytes');
				let rec;
				try {
					rec = c.devInspect(sender, bytes, P[2] != null ? BigInt(P[2]) : undefined);
				} catch (e) {
					throw userError(e);
				}
				const out = {
					effects: this.effectsJson(rec),
					events: rec.events.map((e) => this.eventJson(e, rec)),
					results: rec.returnValues.map((vals) => ({ returnValues: vals.filter(Boolean).map((v) => [v.bytes, shortType(v.type)]) })),
				};
				if (rec.status !== 'success') out.error = rec.errorDebug;
				return out;
			}
			case 'sui_executeTransactionBlock': {
				const bytes = b64param(P[0], 'tx_bytes');
				const sigs = P[1];
				if (!Array.isArray(sigs)) throw invalid('signatures must be an array');
				const opts = P[2] ?? {};
				let record;
				try {
					({ record } = await c.execute(bytes, sigs));
					req.ctx.executed = true;
				} catch (e) {
					throw userError(e);
				}
				return this.txResponse(record, opts, { executed: true });
			}
			case 'sui_getTransactionBlock': {
				const digest = P[0];
				if (typeof digest !== 'string') throw invalid('digest must be a string');
				try {
					if (fromBase58(digest).length !== 32) throw new Error();
				} catch {
					throw invalid(`invalid digest ${digest}`);
				}
				const rec = this.lookupTx(digest, req);
				if (!rec) throw this.notFoundTx(digest);
				return this.txResponse(rec, P[1] ?? {});
			}
			case 'sui_multiGetTransactionBlocks': {
				if (!Array.isArray(P[0])) throw invalid('digests must be an array');
				const out = [];
				for (const d of P[0]) {
					const rec = this.lookupTx(d, req);
					if (!rec) throw this.notFoundTx(d);
					out.push(this.txResponse(rec, P[1] ?? {}));
				}
				return out;
			}
			case 'suix_queryTransactionBlocks': {
				const query = P[0] ?? {};
				const cursor = P[1];
				const limit = parseLimit(P[2]);
				const desc = !!P[3];
				let list = c.txOrder.map((d) => c.txs.get(d));
				const f = query.filter;
				if (f?.FromAddress) list = list.filter((r) => r.sender === normalizeSuiAddress(f.FromAddress));
				if (f?.MoveFunction) {
					const pkg = normalizeSuiAddress(f.MoveFunction.package);
					list = list.filter((r) =>
						r.moveCalls.some((mc) => {
							const [p, m, fn] = mc.split('::');
							return p === pkg && (f.MoveFunction.module == null || m === f.MoveFunction.module) && (f.MoveFunction.function == null || fn === f.MoveFunction.function);
						}),
					);
				}
				if (f?.ChangedObject || f?.InputObject) {
					const id = normalizeSuiAddress(f.ChangedObject ?? f.InputObject);
					list = list.filter((r) => r.changes.some((ch) => ch.id === id));
				}
				if (desc) list.reverse();
				if (cursor != null) {
					const i = list.findIndex((r) => r.digest === cursor);
					if (i < 0) throw invalid(`unknown cursor ${cursor}`);
					list = list.slice(i + 1);
				}
				const page = list.slice(0, limit);
				return {
					data: page.map((r) => this.txResponse(r, query.options ?? {})),
					nextCursor: page.length ? page[page.length - 1].digest : null,
					hasNextPage: list.length > limit,
				};
			}
			case 'sui_getEvents': {
				const rec = this.lookupTx(P[0], req);
				if (!rec) throw this.notFoundTx(P[0]);
				return rec.events.map((e) => this.eventJson(e, rec));
			}
			case 'suix_queryEvents': {
				const pred = this.eventPredicate(P[0]);
				const cursor = P[1];
				const limit = parseLimit(P[2]);
				const desc = !!P[3];
				let list = c.events.filter(pred);
				if (desc) list = [...list].reverse();
				if (cursor != null) {
					if (typeof cursor !== 'object' || typeof cursor.txDigest !== 'string') throw invalid('cursor must be {txDigest, eventSeq}');
					const seq = Number(cursor.eventSeq);
					const i = list.findIndex((e) => e.txDigest === cursor.txDigest && e.eventSeq === seq);
					if (i >= 0) list = list.slice(i + 1);
					else {
						// Cursor not in the filtered list: position by the chain's global order.
						const g = c.events.find((e) => e.txDigest === cursor.txDigest && e.eventSeq === seq);
						if (!g) throw invalid(`unknown event cursor ${JSON.stringify(cursor)}`);
						list = list.filter((e) => (desc ? e.globalSeq < g.globalSeq : e.globalSeq > g.globalSeq));
					}
				}
				const page = list.slice(0, limit);
				const last = page[page.length - 1];
				return {
					data: page.map((e) => this.eventJson(e)),
					nextCursor: last ? { txDigest: last.txDigest, eventSeq: String(last.eventSeq) } : null,
					hasNextPage: list.length > limit,
				};
			}
			case 'suix_resolveNameServiceAddress':
				return null;
			case 'suix_resolveNameServiceNames':
				return { data: [], nextCursor: null, hasNextPage: false };
			default:
				throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method}`);
		}
	}

	normalizedFunction(fn) {
		const pkg = this.chain.packageId;
		return {
			visibility: 'Public',
			isEntry: fn.isEntry,
			typeParameters: [],
			parameters: M.paramsWithCtx(fn).map((p) => M.withRef(p.ref, M.rpcNormalizedType(p.type, pkg), 'rpc')),
			return: fn.returns.map((t) => M.rpcNormalizedType(t, pkg)),
		};
	}

	normalizedModule() {
		const pkg = this.chain.packageId;
		const fields = (list) => list.map(([name, type]) => ({ name, type }));
		const st = (address, module, name, typeArguments = []) => ({ Struct: { address, module, name, typeArguments } });
		const uid = st('0x2', 'object', 'UID');
		const str = st('0x1', 'string', 'String');
		const id = st('0x2', 'object', 'ID');
		return {
			fileFormatVersion: 6,
			address: pkg,
			name: M.MODULE,
			friends: [],
			structs: {
				StakingPool: {
					abilities: { abilities: ['Key'] },
					typeParameters: [],
					fields: fields([
						['id', uid],
						['admin', 'Address'],
						['min_stake', 'U64'],
						['lock_epochs', 'U64'],
						['total_staked', 'U64'],
						['stakers', st('0x2', 'table', 'Table', ['Address', id])],
						['nodes', st('0x2', 'table', 'Table', [str, id])],
						['balance', st('0x2', 'balance', 'Balance', [st('0x2', 'sui', 'SUI')])],
					]),
				},
				StakeRecord: {
					abilities: { abilities: ['Key'] },
					typeParameters: [],
					fields: fields([
						['id', uid],
						['staker', 'Address'],
						['amount', 'U64'],
						['staked_at', 'U64'],
						['locked_until', 'U64'],
						['status', 'U8'],
						['node_id', str],
						['stake_type', str],
					]),
				},
				StakeEvent: {
					abilities: { abilities: ['Copy', 'Drop'] },
					typeParameters: [],
					fields: fields([['staker', 'Address'], ['amount', 'U64'], ['stake_type', str], ['node_id', str], ['timestamp', 'U64']]),
				},
				UnstakeEvent: {
					abilities: { abilities: ['Copy', 'Drop'] },
					typeParameters: [],
					fields: fields([['staker', 'Address'], ['amount', 'U64'], ['timestamp', 'U64']]),
				},
				SlashEvent: {
					abilities: { abilities: ['Copy', 'Drop'] },
					typeParameters: [],
					fields: fields([['staker', 'Address'], ['amount_slashed', 'U64'], ['reason', str], ['timestamp', 'U64']]),
				},
			},
			exposedFunctions: Object.fromEntries(Object.entries(M.FUNCTIONS).map(([n, fn]) => [n, this.normalizedFunction(fn)])),
		};
	}

	checkpointJson(cp) {
		return {
			epoch: String(cp.epoch),
			sequenceNumber: String(cp.seq),
			digest: cp.digest,
			networkTotalTransactions: String(cp.networkTotalTransactions),
			previousDigest: cp.prev,
			epochRollingGasCostSummary: { computationCost: '0', storageCost: '0', storageRebate: '0', nonRefundableStorageFee: '0' },
			timestampMs: String(cp.timestampMs),
			transactions: cp.txs,
			checkpointCommitments: [],
			validatorSignature: toBase64(new Uint8Array(48)),
		};
	}

	systemState() {
		const c = this.chain;
		return {
			epoch: String(c.epoch),
			protocolVersion: String(c.protocolVersion),
			systemStateVersion: '2',
			storageFundTotalObjectStorageRebates: '0',
			storageFundNonRefundableBalance: '0',
			referenceGasPrice: String(c.rgp),
			safeMode: false,
			safeModeStorageRewards: '0',
			safeModeComputationRewards: '0',
			safeModeStorageRebates: '0',
			safeModeNonRefundableStorageFee: '0',
			epochStartTimestampMs: String(c.epochStartMs()),
			epochDurationMs: '86400000',
			stakeSubsidyStartEpoch: '0',
			maxValidatorCount: '150',
			minValidatorJoiningStake: '30000000000000000',
			validatorLowStakeThreshold: '20000000000000000',
			validatorVeryLowStakeThreshold: '15000000000000000',
			validatorLowStakeGracePeriod: '7',
			stakeSubsidyBalance: '0',
			stakeSubsidyDistributionCounter: '0',
			stakeSubsidyCurrentDistributionAmount: '0',
			stakeSubsidyPeriodLength: '30',
			stakeSubsidyDecreaseRate: 1000,
			totalStake: '0',
			activeValidators: [],
			pendingActiveValidatorsId: normalizeSuiAddress('0x0'),
			pendingActiveValidatorsSize: '0',
			pendingRemovals: [],
			stakingPoolMappingsId: normalizeSuiAddress('0x0'),
			stakingPoolMappingsSize: '0',
			inactivePoolsId: normalizeSuiAddress('0x0'),
			inactivePoolsSize: '0',
			validatorCandidatesId: normalizeSuiAddress('0x0'),
			validatorCandidatesSize: '0',
			atRiskValidators: [],
			validatorReportRecords: [],
		};
	}

	/** Handles one JSON-RPC request object (not a batch); returns a response object or null for notifications. */
	async handleOne(msg, req) {
		const id = msg && typeof msg === 'object' && 'id' in msg ? msg.id : null;
		if (!msg || typeof msg !== 'object' || msg.jsonrpc !== '2.0' || typeof msg.method !== 'string') {
			return { jsonrpc: '2.0', id, error: { code: -32600, message: 'Invalid Request' } };
		}
		try {
			const result = await this.call(msg.method, msg.params, req);
			return { jsonrpc: '2.0', id, result };
		} catch (e) {
			if (e instanceof RpcError) {
				const error = { code: e.code, message: e.message };
				if (e.data !== undefined) error.data = e.data;
				return { jsonrpc: '2.0', id, error };
			}
			if (e instanceof UserInputError) return { jsonrpc: '2.0', id, error: { code: INVALID_PARAMS, message: `Invalid params: ${e.message}` } };
			return { jsonrpc: '2.0', id, error: { code: -32603, message: `Internal error: ${e?.message ?? e}` } };
		}
	}

	async handle(body, req) {
		if (Array.isArray(body)) {
			if (!body.length) return { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } };
			const out = [];
			for (const m of body) out.push(await this.handleOne(m, req));
			return out;
		}
		return this.handleOne(body, req);
	}
}

export function rpcMethods(body) {
	if (Array.isArray(body)) return body.map((m) => m?.method).filter((m) => typeof m === 'string');
	return typeof body?.method === 'string' ? [body.method] : [];
}

export { addr };
