// GraphQL transport: the real Sui schema (shipped with @mysten/sui) executed with graphql-js and
// resolvers over the chain model. Every query is validated against that schema.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, execute, validate, GraphQLError, parse, getOperationAST, assertValidSchema } from 'graphql';
import { GrpcTypes } from '@mysten/sui/grpc';
import { verifyTransactionSignature, verifyPersonalMessageSignature } from '@mysten/sui/verify';
import { UserInputError, MAX_GAS_BUDGET } from './chain.mjs';
import * as M from './move.mjs';
import {
	SUI_FRAMEWORK,
	SUI_COIN_TYPE,
	GAS_COIN_TYPE,
	addr,
	isHexAddress,
	normalizeSuiAddress,
	normalizeStructTag,
	toBase64,
	fromBase64,
	fromBase58,
	encodeCursor,
	decodeCursor,
} from './util.mjs';
import { limits, pageLimits, checkRequestSize, checkDocument, LimitError } from './limits.mjs';

/** Loads the Sui GraphQL schema that ships inside the installed @mysten/sui package. */
export function loadSchema() {
	let dir = path.dirname(fileURLToPath(import.meta.resolve('@mysten/sui/graphql')));
	while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
	const file = path.join(dir, 'src/graphql/generated/schema.graphql');
	return buildSchema(fs.readFileSync(file, 'utf8'));
}


function gqlError(message, code = 'BAD_USER_INPUT') {
	return new GraphQLError(message, { extensions: { code } });
}

function iso(ms) {
	return ms == null ? null : new Date(Number(ms)).toISOString();
}

function num(v) {
	return v == null ? null : Number(v);
}

/** Relay-style pagination over an ordered list; keyOf gives each item's stable cursor key. */
export function paginate(items, args = {}, keyOf = (_x, i) => i, makeNode = (x) => x, pageSize = pageLimits('', '')) {
	const { first, after, last, before } = args ?? {};
	if (first != null && last != null) throw gqlError("'first' and 'last' must not be used together");
	for (const [n, v] of [['first', first], ['last', last]]) {
		if (v != null && (v < 0 || !Number.isInteger(v))) throw gqlError(`'${n}' must be a non-negative integer`);
		if (v != null && v > pageSize.max && limits().enabled) throw gqlError(`Page size is too large: ${v} > ${pageSize.max}`);
	}
	const keyed = items.map((x, i) => ({ x, k: keyOf(x, i) }));
	const cursorKey = (c, which) => {
		const d = decodeCursor(c);
		if (!d || !('k' in d)) throw gqlError(`Failed to parse '${which}' cursor: ${c}`);
		return d.k;
	};
	const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
	let lo = 0;
	let hi = keyed.length;
	if (after != null) {
		const k = cursorKey(after, 'after');
		while (lo < hi && cmp(keyed[lo].k, k) <= 0) lo++;
	}
	if (before != null) {
		const k = cursorKey(before, 'before');
		while (hi > lo && cmp(keyed[hi - 1].k, k) >= 0) hi--;
	}
	let start = lo;
	let end = hi;
	if (last != null) start = Math.max(lo, hi - last);
	else end = Math.min(hi, lo + (first ?? pageSize.default));
	const page = keyed.slice(start, end);
	const edges = page.map(({ x, k }) => ({ cursor: encodeCursor({ k }), node: makeNode(x) }));
	return {
		edges,
		nodes: edges.map((e) => e.node),
		pageInfo: {
			hasNextPage: end < keyed.length,
			hasPreviousPage: start > 0,
			startCursor: edges[0]?.cursor ?? null,
			endCursor: edges[edges.length - 1]?.cursor ?? null,
		},
	};
}

function emptyConnection() {
	return { edges: [], nodes: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } };
}

/** Does `type` (normalized repr) match a GraphQL type filter (package, package::module, full type, or generic base)? */
export function typeMatches(type, filter) {
	if (!filter) return true;
	const parts = filter.split('::');
	if (parts.length === 1) {
		if (!isHexAddress(parts[0])) return false;
		return type.startsWith(normalizeSuiAddress(parts[0]) + '::');
	}
	if (parts.length === 2) return type.startsWith(`${normalizeSuiAddress(parts[0])}::${parts[1]}::`);
	let norm;
	try {
		norm = normalizeStructTag(filter);
	} catch {
		return false;
	}
	if (norm.includes('<')) return norm === type;
	return type === norm || type.startsWith(norm + '<');
}

// ---- views ---------------------------------------------------------------------------------

class MoveTypeView {
	constructor(repr) {
		this._repr = repr;
	}
	repr() {
		return this._repr;
	}
	signature() {
		return typeSignature(this._repr);
	}
	layout() {
		return null;
	}
	abilities() {
		if (this._repr === GAS_COIN_TYPE) return ['KEY', 'STORE'];
		if (/::enclave::Cap</.test(this._repr)) return ['KEY', 'STORE'];
		if (/::enclave::(EnclaveConfig|Enclave)</.test(this._repr)) return ['KEY'];
		if (this._repr.endsWith('::staking::StakingPool') || this._repr.endsWith('::staking::StakeRecord')) return ['KEY'];
		if (this._repr.includes('::staking::')) return ['COPY', 'DROP'];
		return null;
	}
}

function typeSignature(repr) {
	const prims = ['u8', 'u16', 'u32', 'u64', 'u128', 'u256', 'bool', 'address'];
	if (prims.includes(repr)) return repr;
	const m = repr.match(/^(0x[0-9a-f]+)::(\w+)::(\w+)(?:<(.*)>)?$/);
	if (!m) return repr;
	const params = m[4] ? M.splitTypeParams(m[4]).map(typeSignature) : [];
	return { datatype: { package: m[1], module: m[2], type: m[3], typeParameters: params } };
}


class MoveValueView {
	constructor(type, json, bcsBytes) {
		this._type = type;
		this._json = json;
		this._bcs = bcsBytes;
	}
	type() {
		return new MoveTypeView(this._type);
	}
	json() {
		return this._json;
	}
	bcs() {
		return this._bcs ? toBase64(this._bcs) : null;
	}
	display() {
		return null;
	}
	format() {
		return null;
	}
	extract() {
		return null;
	}
	asAddress() {
		return null;
	}
	asVector() {
		return null;
	}
}

function ownerView(ctx, owner) {
	switch (owner.kind) {
		case 'address':
			return { __typename: 'AddressOwner', address: new AddressView(ctx, owner.address) };
		case 'shared':
			return { __typename: 'Shared', initialSharedVersion: num(owner.isv) };
		case 'immutable':
			return { __typename: 'Immutable', _: null };
		default:
			return null;
	}
}

/**
 * What every addressable view (Address, Object, MovePackage) answers the same way here: balances
 * of its address, and the empty things (name records, dynamic fields, received transactions).
 */
class AddressableView {
	ownerId() {
		throw new Error('ownerId() not implemented');
	}
	balance({ coinType }) {
		return balanceView(this.ctx, this.ownerId(), coinType);
	}
	multiGetBalances({ keys }) {
		return keys.map((k) => balanceView(this.ctx, this.ownerId(), k));
	}
	balances() {
		return emptyConnection();
	}
	objects() {
		return emptyConnection();
	}
	receivedTransactions() {
		return emptyConnection();
	}
	asTransactionObject() {
		return null;
	}
	defaultNameRecord() {
		return null;
	}
	dynamicField() {
		return null;
	}
	dynamicObjectField() {
		return null;
	}
	dynamicFields() {
		return emptyConnection();
	}
	multiGetDynamicFields({ keys }) {
		return keys.map(() => null);
	}
	multiGetDynamicObjectFields({ keys }) {
		return keys.map(() => null);
	}
}

/** An ObjectView of `o`, or null. */
function objectView(ctx, o, typename) {
	return o ? new ObjectView(ctx, o, typename) : null;
}

/** Every stored version of an object, oldest first. */
function versionsOf(ctx, id) {
	const h = ctx.chain.history.get(id);
	return h ? [...h.values()].sort((a, b) => (a.version < b.version ? -1 : 1)) : [];
}

function versionsConnection(ctx, list, args) {
	return paginate(list, args, (o) => Number(o.version), (o) => objectView(ctx, o));
}

class AddressView extends AddressableView {
	constructor(ctx, address) {
		super();
		this.ctx = ctx;
		this._address = normalizeSuiAddress(address);
		this.__typename = 'Address';
	}
	ownerId() {
		return this._address;
	}
	address() {
		return this._address;
	}
	id() {
		return Buffer.from(`Address:${this._address}`).toString('base64');
	}
	addressAt() {
		return this;
	}
	asObject() {
		const o = this.ctx.chain.getObject(this._address);
		return objectView(this.ctx, o);
	}
	balances(args) {
		const { total } = this.ctx.chain.balanceOf(this._address);
		const list = total > 0n ? [balanceView(this.ctx, this._address, SUI_COIN_TYPE)] : [];
		return paginate(list, args, (b) => b._coinType);
	}
	objects(args) {
		return objectsConnection(this.ctx, this.ctx.chain.ownedObjects(this._address), args, 'MoveObject');
	}
	transactions(args) {
		const a = this._address;
		const rel = args?.relation;
		const txs = this.ctx.chain.txOrder
			.map((d) => this.ctx.chain.txs.get(d))
			.filter((r) => (rel === 'SENT' ? r.sender === a : r.sender === a || touches(r, a)))
			.filter((r) => txFilter(r, args?.filter));
		return paginate(txs, args, (r) => r.txSeq, (r) => new TransactionView(this.ctx, r));
	}
}

function touches(rec, address) {
	return rec.changes.some(
		(c) => (c.output?.owner.kind === 'address' && c.output.owner.address === address) || (c.input?.owner.kind === 'address' && c.input.owner.address === address),
	);
}

function balanceView(ctx, owner, coinType) {
	let norm;
	try {
		norm = normalizeStructTag(coinType);
	} catch {
		throw gqlError(`Invalid coin type: ${coinType}`);
	}
	const total = norm === SUI_COIN_TYPE ? ctx.chain.balanceOf(owner).total : 0n;
	return {
		_coinType: norm,
		coinType: new MoveTypeView(norm),
		totalBalance: total.toString(),
		coinBalance: total.toString(),
		addressBalance: '0',
	};
}

function objectsConnection(ctx, objs, args, typename) {
	const type = args?.filter?.type;
	if (args?.filter?.owner) {
		const o = normalizeSuiAddress(args.filter.owner);
		objs = objs.filter((x) => x.owner.kind === 'address' && x.owner.address === o);
	}
	const kind = args?.filter?.ownerKind;
	if (kind === 'SHARED') objs = objs.filter((x) => x.owner.kind === 'shared');
	if (kind === 'IMMUTABLE') objs = objs.filter((x) => x.owner.kind === 'immutable');
	if (kind === 'ADDRESS') objs = objs.filter((x) => x.owner.kind === 'address');
	const filtered = objs.filter((o) => typeMatches(o.type, type));
	return paginate(filtered, args, (o) => o.id, (o) => new ObjectView(ctx, o, typename));
}

class ObjectView extends AddressableView {
	constructor(ctx, obj, typename = 'Object') {
		super();
		this.ctx = ctx;
		this.obj = obj;
		this.__typename = typename;
	}
	ownerId() {
		return this.obj.id;
	}
	id() {
		return Buffer.from(`Object:${this.obj.id}:${this.obj.version}`).toString('base64');
	}
	address() {
		return this.obj.id;
	}
	version() {
		return num(this.obj.version);
	}
	digest() {
		return this.obj.digest;
	}
	owner() {
		return ownerView(this.ctx, this.obj.owner);
	}
	previousTransaction() {
		const r = this.ctx.chain.txs.get(this.obj.previousTransaction);
		return r ? new TransactionView(this.ctx, r) : null;
	}
	storageRebate() {
		return String(this.obj.storageRebate ?? 0n);
	}
	objectBcs() {
		return this.obj.bcs ? toBase64(this.obj.bcs) : null;
	}
	asMoveObject() {
		return this.obj.kind === 'package' ? null : new ObjectView(this.ctx, this.obj, 'MoveObject');
	}
	asMovePackage() {
		return this.obj.kind === 'package' ? new PackageView(this.ctx, this.obj.id) : null;
	}
	asCoinMetadata() {
		return null;
	}
	asDynamicField() {
		return null;
	}
	addressAt() {
		return new AddressView(this.ctx, this.obj.id);
	}
	contents() {
		if (this.obj.kind === 'package') return null;
		return new MoveValueView(this.obj.type, M.gqlJson(this.obj), M.contentsBcs(this.obj));
	}
	hasPublicTransfer() {
		return this.obj.kind === 'package' ? null : M.hasPublicTransfer(this.obj);
	}
	moveObjectBcs() {
		return this.obj.kind === 'package' ? null : toBase64(M.contentsBcs(this.obj));
	}
	objectAt({ version }) {
		if (version == null) return this;
		const o = this.ctx.chain.getObjectAt(this.obj.id, version);
		return objectView(this.ctx, o);
	}
	objectVersionsAfter(args) {
		return versionsConnection(this.ctx, versionsOf(this.ctx, this.obj.id).filter((o) => o.version > this.obj.version), args);
	}
	objectVersionsBefore(args) {
		return versionsConnection(this.ctx, versionsOf(this.ctx, this.obj.id).filter((o) => o.version < this.obj.version), args);
	}
}

class PackageView extends AddressableView {
	constructor(ctx, address) {
		super();
		this.ctx = ctx;
		this._address = address;
		this.__typename = 'MovePackage';
	}
	get obj() {
		return this.ctx.chain.getObject(this._address);
	}
	ownerId() {
		return this._address;
	}
	id() {
		return Buffer.from(`MovePackage:${this._address}`).toString('base64');
	}
	address() {
		return this._address;
	}
	version() {
		return num(this.obj?.version ?? 1n);
	}
	digest() {
		return this.obj?.digest ?? null;
	}
	owner() {
		return { __typename: 'Immutable', _: null };
	}
	previousTransaction() {
		return null;
	}
	storageRebate() {
		return '0';
	}
	objectBcs() {
		return null;
	}
	packageBcs() {
		return null;
	}
	moduleBcs() {
		return null;
	}
	linkage() {
		return [];
	}
	typeOrigins() {
		if (this._address !== this.ctx.chain.packageId) return [];
		return ['StakingPool', 'StakeRecord', 'StakeEvent', 'UnstakeEvent', 'SlashEvent'].map((s) => ({
			module: M.MODULE,
			struct: s,
			definingId: this._address,
		}));
	}
	module({ name }) {
		if (this._address === this.ctx.chain.packageId && name === M.MODULE) return new ModuleView(this.ctx, this._address, name);
		return null;
	}
	modules(args) {
		const list = this._address === this.ctx.chain.packageId ? [M.MODULE] : [];
		return paginate(list, args, (n) => n, (n) => new ModuleView(this.ctx, this._address, n));
	}
	packageAt() {
		return this;
	}
	objectAt() {
		return null;
	}
	packageVersionsAfter() {
		return emptyConnection();
	}
	packageVersionsBefore() {
		return emptyConnection();
	}
	objectVersionsAfter() {
		return emptyConnection();
	}
	objectVersionsBefore() {
		return emptyConnection();
	}
	addressAt() {
		return new AddressView(this.ctx, this._address);
	}
}

class ModuleView {
	constructor(ctx, pkg, name) {
		this.ctx = ctx;
		this._pkg = pkg;
		this._name = name;
	}
	name() {
		return this._name;
	}
	fullyQualifiedName() {
		return `${this._pkg}::${this._name}`;
	}
	package() {
		return new PackageView(this.ctx, this._pkg);
	}
	#ours() {
		return this._pkg === this.ctx.chain.packageId && this._name === M.MODULE;
	}
	function({ name }) {
		return this.#ours() && M.FUNCTIONS[name] ? new FunctionView(this.ctx, this._pkg, this._name, name) : null;
	}
	functions(args) {
		const names = this.#ours() ? Object.keys(M.FUNCTIONS) : [];
		return paginate(names, args, (n) => n, (n) => new FunctionView(this.ctx, this._pkg, this._name, n));
	}
	struct({ name }) {
		return this.#ours() && STRUCTS[name] ? new StructView(this.ctx, this._pkg, name) : null;
	}
	structs(args) {
		const names = this.#ours() ? Object.keys(STRUCTS) : [];
		return paginate(names, args, (n) => n, (n) => new StructView(this.ctx, this._pkg, n));
	}
	datatype({ name }) {
		return this.struct({ name });
	}
	datatypes(args) {
		return this.structs(args);
	}
	enum() {
		return null;
	}
	enums() {
		return emptyConnection();
	}
	friends() {
		return emptyConnection();
	}
	bytes() {
		return null;
	}
	disassembly() {
		return null;
	}
	fileFormatVersion() {
		return 6;
	}
}

const STRUCTS = {
	StakingPool: { abilities: ['KEY'], fields: [['id', '0x2::object::UID'], ['admin', 'address'], ['min_stake', 'u64'], ['lock_epochs', 'u64'], ['total_staked', 'u64'], ['stakers', '0x2::table::Table<address, 0x2::object::ID>'], ['nodes', '0x2::table::Table<0x1::string::String, 0x2::object::ID>'], ['balance', '0x2::balance::Balance<0x2::sui::SUI>']] },
	StakeRecord: { abilities: ['KEY'], fields: [['id', '0x2::object::UID'], ['staker', 'address'], ['amount', 'u64'], ['staked_at', 'u64'], ['locked_until', 'u64'], ['status', 'u8'], ['node_id', '0x1::string::String'], ['stake_type', '0x1::string::String']] },
	StakeEvent: { abilities: ['COPY', 'DROP'], fields: [['staker', 'address'], ['amount', 'u64'], ['stake_type', '0x1::string::String'], ['node_id', '0x1::string::String'], ['timestamp', 'u64']] },
	UnstakeEvent: { abilities: ['COPY', 'DROP'], fields: [['staker', 'address'], ['amount', 'u64'], ['timestamp', 'u64']] },
	SlashEvent: { abilities: ['COPY', 'DROP'], fields: [['staker', 'address'], ['amount_slashed', 'u64'], ['reason', '0x1::string::String'], ['timestamp', 'u64']] },
};

class StructView {
	constructor(ctx, pkg, name) {
		this.ctx = ctx;
		this._pkg = pkg;
		this._name = name;
		this.__typename = 'MoveStruct';
	}
	name() {
		return this._name;
	}
	fullyQualifiedName() {
		return `${this._pkg}::${M.MODULE}::${this._name}`;
	}
	module() {
		return new ModuleView(this.ctx, this._pkg, M.MODULE);
	}
	abilities() {
		return STRUCTS[this._name].abilities;
	}
	typeParameters() {
		return [];
	}
	fields() {
		return STRUCTS[this._name].fields.map(([name, t]) => {
			let repr = t;
			try {
				if (t.includes('::')) repr = normalizeStructTag(t);
			} catch {}
			return { name, type: { repr, signature: typeSignature(repr) } };
		});
	}
}

class FunctionView {
	constructor(ctx, pkg, module, name) {
		this.ctx = ctx;
		this._pkg = pkg;
		this._module = module;
		this._name = name;
	}
	get fn() {
		return this._pkg === this.ctx.chain.packageId && this._module === M.MODULE ? M.FUNCTIONS[this._name] : null;
	}
	name() {
		return this._name;
	}
	fullyQualifiedName() {
		return `${this._pkg}::${this._module}::${this._name}`;
	}
	module() {
		return new ModuleView(this.ctx, this._pkg, this._module);
	}
	isEntry() {
		return this.fn ? this.fn.isEntry : null;
	}
	visibility() {
		return this.fn ? 'PUBLIC' : null;
	}
	typeParameters() {
		return this.fn ? [] : null;
	}
	parameters() {
		if (!this.fn) return null;
		return M.paramsWithCtx(this.fn).map((p) => ({
			repr: (p.ref ? p.ref + ' ' : '') + M.reprOfParamType(p.type, this._pkg),
			signature: M.withRef(p.ref, M.gqlSignatureBody(p.type, this._pkg), 'gql'),
		}));
	}
	return() {
		if (!this.fn) return null;
		return this.fn.returns.map((t) => ({ repr: M.reprOfParamType(t, this._pkg), signature: { body: M.gqlSignatureBody(t, this._pkg) } }));
	}
}

class EpochView {
	constructor(ctx, epochId) {
		this.ctx = ctx;
		this._id = BigInt(epochId);
	}
	get info() {
		return this.ctx.chain.epochs.get(this._id);
	}
	id() {
		return Buffer.from(`Epoch:${this._id}`).toString('base64');
	}
	epochId() {
		return num(this._id);
	}
	referenceGasPrice() {
		return String(this.info.rgp);
	}
	startTimestamp() {
		return iso(this.info.startMs);
	}
	endTimestamp() {
		return iso(this.info.endMs);
	}
	totalTransactions() {
		return this.info.txCount;
	}
	totalCheckpoints() {
		return this.ctx.chain.checkpoints.filter((c) => c.epoch === this._id).length;
	}
	totalGasFees() {
		return null;
	}
	totalStakeRewards() {
		return null;
	}
	totalStakeSubsidies() {
		return null;
	}
	fundSize() {
		return null;
	}
	fundInflow() {
		return null;
	}
	fundOutflow() {
		return null;
	}
	netInflow() {
		return null;
	}
	liveObjectSetDigest() {
		return null;
	}
	coinDenyList() {
		return null;
	}
	validatorSet() {
		return null;
	}
	systemPackages() {
		return emptyConnection();
	}
	protocolConfigs() {
		return protocolConfigs(this.ctx);
	}
	systemState() {
		const c = this.ctx.chain;
		return new MoveValueView(
			'0x0000000000000000000000000000000000000000000000000000000000000003::sui_system_state_inner::SuiSystemStateInnerV2',
			{
				epoch: String(this._id),
				protocol_version: String(c.protocolVersion),
				system_state_version: '2',
				reference_gas_price: String(this.info.rgp),
				safe_mode: false,
				safe_mode_storage_rewards: '0',
				safe_mode_computation_rewards: '0',
				safe_mode_storage_rebates: '0',
				safe_mode_non_refundable_storage_fee: '0',
				epoch_start_timestamp_ms: String(this.info.startMs),
				parameters: {
					epoch_duration_ms: '86400000',
					stake_subsidy_start_epoch: '0',
					max_validator_count: '150',
					min_validator_joining_stake: '30000000000000000',
					validator_low_stake_threshold: '20000000000000000',
					validator_low_stake_grace_period: '7',
				},
				storage_fund: { total_object_storage_rebates: '0', non_refundable_balance: '0' },
				stake_subsidy: {
					balance: '0',
					distribution_counter: '0',
					current_distribution_amount: '0',
					stake_subsidy_period_length: '30',
					stake_subsidy_decrease_rate: 1000,
				},
			},
			null,
		);
	}
	checkpoints(args) {
		const list = this.ctx.chain.checkpoints.filter((c) => c.epoch === this._id);
		return paginate(list, args, (c) => c.seq, (c) => new CheckpointView(this.ctx, c));
	}
	transactions(args) {
		const list = this.ctx.chain.txOrder
			.map((d) => this.ctx.chain.txs.get(d))
			.filter((r) => r.executedEpoch === this._id && txFilter(r, args?.filter));
		return paginate(list, args, (r) => r.txSeq, (r) => new TransactionView(this.ctx, r));
	}
}

function protocolConfigs(ctx) {
	return {
		protocolVersion: ctx.chain.protocolVersion,
		configs: [
			{ key: 'max_gas_budget', value: String(MAX_GAS_BUDGET) },
			{ key: 'reference_gas_price', value: String(ctx.chain.rgp) },
		],
		config: ({ key }) => (key === 'max_gas_budget' ? { key, value: String(MAX_GAS_BUDGET) } : null),
		featureFlags: [],
		featureFlag: () => null,
	};
}

class CheckpointView {
	constructor(ctx, cp) {
		this.ctx = ctx;
		this.cp = cp;
	}
	id() {
		return Buffer.from(`Checkpoint:${this.cp.seq}`).toString('base64');
	}
	sequenceNumber() {
		return this.cp.seq;
	}
	digest() {
		return this.cp.digest;
	}
	timestamp() {
		return iso(this.cp.timestampMs);
	}
	epoch() {
		return new EpochView(this.ctx, this.cp.epoch);
	}
	networkTotalTransactions() {
		return this.cp.networkTotalTransactions;
	}
	previousCheckpointDigest() {
		return this.cp.prev;
	}
	contentDigest() {
		return null;
	}
	artifactsDigest() {
		return null;
	}
	contentBcs() {
		return null;
	}
	summaryBcs() {
		return null;
	}
	rollingGasSummary() {
		return null;
	}
	validatorSignatures() {
		return null;
	}
	query() {
		return null;
	}
	transactions(args) {
		const list = this.cp.txs.map((d) => this.ctx.chain.txs.get(d)).filter(Boolean).filter((r) => txFilter(r, args?.filter));
		return paginate(list, args, (r) => r.txSeq, (r) => new TransactionView(this.ctx, r));
	}
}

function argView(a) {
	if (a.GasCoin != null) return { __typename: 'GasCoin', _: null };
	if (a.Input != null) return { __typename: 'Input', ix: a.Input };
	if (a.Result != null) return { __typename: 'TxResult', cmd: a.Result, ix: null };
	if (a.NestedResult != null) return { __typename: 'TxResult', cmd: a.NestedResult[0], ix: a.NestedResult[1] };
	return null;
}

class TransactionView {
	constructor(ctx, rec, { fresh = false } = {}) {
		this.ctx = ctx;
		this.rec = rec;
		this.fresh = fresh; // just executed/simulated: not yet in a checkpoint
	}
	id() {
		return Buffer.from(`Transaction:${this.rec.digest}`).toString('base64');
	}
	digest() {
		return this.rec.digest;
	}
	sender() {
		return new AddressView(this.ctx, this.rec.sender);
	}
	signatures() {
		return (this.rec.signatures ?? []).map((s) => ({ signatureBytes: s, scheme: null }));
	}
	transactionBcs() {
		return toBase64(this.rec.bytes);
	}
	transactionJson() {
		return transactionJson(this.rec);
	}
	effects() {
		return new EffectsView(this.ctx, this.rec, { fresh: this.fresh });
	}
	expiration() {
		const e = this.rec.parsed.expiration;
		return e?.Epoch != null && this.ctx.chain.epochs.has(BigInt(e.Epoch)) ? new EpochView(this.ctx, e.Epoch) : null;
	}
	gasInput() {
		const r = this.rec;
		return {
			gasBudget: String(r.gasBudget),
			gasPrice: String(r.gasPrice),
			gasSponsor: new AddressView(this.ctx, r.gasOwner),
			gasPayment: (args) =>
				paginate(r.gasPayment, args, (_x, i) => i, (ref) => {
					const o = this.ctx.chain.getObjectAt(ref.objectId, ref.version);
					return objectView(this.ctx, o);
				}),
		};
	}
	kind() {
		const p = this.rec.parsed;
		const ctx = this.ctx;
		return {
			__typename: 'ProgrammableTransaction',
			inputs: (args) =>
				paginate(p.inputs, args, (_x, i) => i, (inp) => {
					if (inp.Pure) return { __typename: 'Pure', bytes: inp.Pure.bytes };
					const o = inp.Object;
					if (o?.ImmOrOwnedObject) {
						const obj = ctx.chain.getObjectAt(o.ImmOrOwnedObject.objectId, o.ImmOrOwnedObject.version);
						return { __typename: 'OwnedOrImmutable', object: objectView(ctx, obj) };
					}
					if (o?.SharedObject)
						return {
							__typename: 'SharedInput',
							address: normalizeSuiAddress(o.SharedObject.objectId),
							initialSharedVersion: Number(o.SharedObject.initialSharedVersion),
							mutable: o.SharedObject.mutable,
						};
					if (o?.Receiving) {
						const obj = ctx.chain.getObjectAt(o.Receiving.objectId, o.Receiving.version);
						return { __typename: 'Receiving', object: objectView(ctx, obj) };
					}
					return { __typename: 'Pure', bytes: null };
				}),
			commands: (args) =>
				paginate(p.commands, args, (_x, i) => i, (c) => {
					if (c.MoveCall)
						return {
							__typename: 'MoveCallCommand',
							function: new FunctionView(ctx, normalizeSuiAddress(c.MoveCall.package), c.MoveCall.module, c.MoveCall.function),
							arguments: c.MoveCall.arguments.map(argView),
						};
					if (c.SplitCoins) return { __typename: 'SplitCoinsCommand', coin: argView(c.SplitCoins.coin), amounts: c.SplitCoins.amounts.map(argView) };
					if (c.MergeCoins)
						return { __typename: 'MergeCoinsCommand', coin: argView(c.MergeCoins.destination), coins: c.MergeCoins.sources.map(argView) };
					if (c.TransferObjects)
						return { __typename: 'TransferObjectsCommand', inputs: c.TransferObjects.objects.map(argView), address: argView(c.TransferObjects.address) };
					return { __typename: 'OtherCommand', _: null };
				}),
		};
	}
}

/** gRPC-JSON rendering of the transaction (Transaction.transactionJson). */
function transactionJson(rec) {
	const p = rec.parsed;
	const IK = GrpcTypes.Input_InputKind;
	const AK = GrpcTypes.Argument_ArgumentKind;
	const arg = (a) =>
		a.GasCoin != null
			? { kind: AK.GAS }
			: a.Input != null
				? { kind: AK.INPUT, input: a.Input }
				: a.Result != null
					? { kind: AK.RESULT, result: a.Result }
					: { kind: AK.RESULT, result: a.NestedResult[0], subresult: a.NestedResult[1] };
	const inputs = p.inputs.map((i) => {
		if (i.Pure) return { kind: IK.PURE, pure: fromBase64(i.Pure.bytes) };
		const o = i.Object;
		if (o?.ImmOrOwnedObject)
			return { kind: IK.IMMUTABLE_OR_OWNED, objectId: o.ImmOrOwnedObject.objectId, version: BigInt(o.ImmOrOwnedObject.version), digest: o.ImmOrOwnedObject.digest };
		if (o?.SharedObject)
			return { kind: IK.SHARED, objectId: o.SharedObject.objectId, version: BigInt(o.SharedObject.initialSharedVersion), mutable: o.SharedObject.mutable };
		if (o?.Receiving) return { kind: IK.RECEIVING, objectId: o.Receiving.objectId, version: BigInt(o.Receiving.version), digest: o.Receiving.digest };
		return { kind: IK.INPUT_KIND_UNKNOWN };
	});
	const commands = p.commands.map((c) => {
		if (c.MoveCall)
			return {
				command: {
					oneofKind: 'moveCall',
					moveCall: { package: c.MoveCall.package, module: c.MoveCall.module, function: c.MoveCall.function, typeArguments: c.MoveCall.typeArguments ?? [], arguments: c.MoveCall.arguments.map(arg) },
				},
			};
		if (c.SplitCoins) return { command: { oneofKind: 'splitCoins', splitCoins: { coin: arg(c.SplitCoins.coin), amounts: c.SplitCoins.amounts.map(arg) } } };
		if (c.MergeCoins) return { command: { oneofKind: 'mergeCoins', mergeCoins: { coin: arg(c.MergeCoins.destination), coinsToMerge: c.MergeCoins.sources.map(arg) } } };
		if (c.TransferObjects)
			return { command: { oneofKind: 'transferObjects', transferObjects: { objects: c.TransferObjects.objects.map(arg), address: arg(c.TransferObjects.address) } } };
		return { command: { oneofKind: undefined } };
	});
	const EK = GrpcTypes.TransactionExpiration_TransactionExpirationKind;
	const ex = p.expiration ?? { None: true };
	let expiration = { kind: EK.NONE };
	if (ex.Epoch != null) expiration = { kind: EK.EPOCH, epoch: BigInt(ex.Epoch) };
	const vd = ex.ValidDuring ?? ex.Validity;
	if (vd)
		expiration = {
			kind: ex.ValidDuring ? EK.VALID_DURING : EK.VALIDITY,
			minEpoch: vd.minEpoch != null ? BigInt(vd.minEpoch) : undefined,
			epoch: vd.maxEpoch != null ? BigInt(vd.maxEpoch) : undefined,
			chain: vd.chain,
			nonce: vd.nonce,
		};
	try {
		return GrpcTypes.Transaction.toJson({
			version: 1,
			digest: rec.digest,
			kind: { data: { oneofKind: 'programmableTransaction', programmableTransaction: { inputs, commands } } },
			sender: p.sender,
			gasPayment: {
				objects: p.gas.payment.map((r) => ({ objectId: r.objectId, version: BigInt(r.version), digest: r.digest })),
				owner: p.gas.owner,
				price: p.gas.price,
				budget: p.gas.budget,
			},
			expiration,
		});
	} catch {
		return null;
	}
}

class EffectsView {
	constructor(ctx, rec, { fresh = false } = {}) {
		this.ctx = ctx;
		this.rec = rec;
		this.fresh = fresh;
	}
	digest() {
		return this.rec.digest;
	}
	version() {
		return 2;
	}
	status() {
		return this.rec.status === 'success' ? 'SUCCESS' : 'FAILURE';
	}
	lamportVersion() {
		return num(this.rec.lamportVersion);
	}
	timestamp() {
		return this.fresh || this.rec.simulated ? null : iso(this.rec.timestampMs);
	}
	checkpoint() {
		if (this.fresh || this.rec.simulated || this.rec.checkpoint == null) return null;
		return new CheckpointView(this.ctx, this.ctx.chain.checkpoints[this.rec.checkpoint]);
	}
	epoch() {
		return new EpochView(this.ctx, this.rec.executedEpoch);
	}
	effectsBcs() {
		return toBase64(this.rec.effectsBcs);
	}
	effectsDigest() {
		return this.rec.effectsDigest;
	}
	effectsJson() {
		return null;
	}
	executionError() {
		const f = this.rec.failure;
		if (!f) return null;
		const e = f.error;
		const ctx = this.ctx;
		return {
			message: this.rec.errorMessage,
			abortCode: e.kind === 'MoveAbort' ? String(e.code) : null,
			instructionOffset: e.kind === 'MoveAbort' ? e.instruction : null,
			sourceLineNumber: null,
			identifier: null,
			constant: null,
			module: e.kind === 'MoveAbort' ? new ModuleView(ctx, e.package, e.module) : null,
			function: e.kind === 'MoveAbort' ? new FunctionView(ctx, e.package, e.module, e.functionName) : null,
		};
	}
	objectChanges(args) {
		return paginate(this.rec.changes, args, (_x, i) => i, (c) => ({
			address: c.id,
			idCreated: c.idOp === 'Created',
			idDeleted: c.idOp === 'Deleted',
			inputState: objectView(this.ctx, c.input),
			outputState: objectView(this.ctx, c.output),
		}), pageLimits('TransactionEffects', 'objectChanges'));
	}
	events(args) {
		return paginate(this.rec.events, args, (e) => e.eventSeq, (e) => new EventView(this.ctx, e, this.rec, { fresh: this.fresh }));
	}
	gasEffects() {
		const g = this.rec.gasUsed;
		return {
			gasObject: objectView(this.ctx, this.rec.gasObject),
			gasSummary: {
				computationCost: num(g.computationCost),
				storageCost: num(g.storageCost),
				storageRebate: num(g.storageRebate),
				nonRefundableStorageFee: num(g.nonRefundableStorageFee),
			},
		};
	}
	balanceChanges(args) {
		return paginate(this.rec.balanceChanges, args, (_x, i) => i, (b) => ({
			owner: new AddressView(this.ctx, b.owner),
			coinType: new MoveTypeView(b.coinType),
			amount: b.amount.toString(),
		}));
	}
	balanceChangesJson() {
		return this.rec.balanceChanges.map((b) => ({ address: b.owner, coinType: b.coinType, amount: b.amount.toString() }));
	}
	transaction() {
		return new TransactionView(this.ctx, this.rec, { fresh: this.fresh });
	}
	dependencies(args) {
		const list = this.rec.dependencies.map((d) => this.ctx.chain.txs.get(d)).filter(Boolean);
		return paginate(list, args, (_x, i) => i, (r) => new TransactionView(this.ctx, r));
	}
	unchangedConsensusObjects(args) {
		return paginate(this.rec.unchangedShared, args, (_x, i) => i, (u) => {
			const o = this.ctx.chain.getObjectAt(u.id, u.version);
			return { __typename: 'ConsensusObjectRead', object: objectView(this.ctx, o) };
		});
	}
}

class EventView {
	constructor(ctx, ev, rec, { fresh = false } = {}) {
		this.ctx = ctx;
		this.ev = ev;
		this.rec = rec;
		this.fresh = fresh;
	}
	sender() {
		return new AddressView(this.ctx, this.ev.sender);
	}
	sequenceNumber() {
		return this.ev.eventSeq;
	}
	timestamp() {
		return this.fresh || this.rec?.simulated ? null : iso(this.ev.timestampMs);
	}
	transaction() {
		// Per the schema: only for indexed transactions, not for just-executed or simulated ones.
		if (this.fresh || this.rec?.simulated) return null;
		const r = this.ctx.chain.txs.get(this.ev.txDigest);
		return r ? new TransactionView(this.ctx, r) : null;
	}
	transactionModule() {
		return new ModuleView(this.ctx, this.ev.packageId, this.ev.module);
	}
	contents() {
		return new MoveValueView(this.ev.type, this.ev.json, this.ev.contents);
	}
	eventBcs() {
		return toBase64(this.ev.eventBcs);
	}
}

function txFilter(rec, f) {
	if (!f) return true;
	if (f.sentAddress && rec.sender !== normalizeSuiAddress(f.sentAddress)) return false;
	if (f.affectedAddress) {
		const a = normalizeSuiAddress(f.affectedAddress);
		if (rec.sender !== a && rec.gasOwner !== a && !touches(rec, a)) return false;
	}
	if (f.affectedObject) {
		const o = normalizeSuiAddress(f.affectedObject);
		if (!rec.changes.some((c) => c.id === o) && !rec.unchangedShared.some((u) => u.id === o)) return false;
	}
	if (f.function) {
		const parts = f.function.split('::');
		const want = [normalizeSuiAddress(parts[0]), parts[1], parts[2]];
		const ok = rec.moveCalls.some((mc) => {
			const [p, m, fn] = mc.split('::');
			return p === want[0] && (want[1] == null || m === want[1]) && (want[2] == null || fn === want[2]);
		});
		if (!ok) return false;
	}
	if (f.kind === 'SYSTEM') return false;
	if (f.atCheckpoint != null && rec.checkpoint !== f.atCheckpoint) return false;
	if (f.afterCheckpoint != null && !(rec.checkpoint > f.afterCheckpoint)) return false;
	if (f.beforeCheckpoint != null && !(rec.checkpoint < f.beforeCheckpoint)) return false;
	return true;
}

function eventFilter(f) {
	if (!f) return () => true;
	if (f.module && f.type) throw gqlError('Filtering by both emitting module and event type is not supported');
	let sender = null;
	if (f.sender) {
		if (!isHexAddress(f.sender)) throw gqlError(`Invalid SuiAddress: ${f.sender}`);
		sender = normalizeSuiAddress(f.sender);
	}
	let modPkg = null;
	let modName = null;
	if (f.module) {
		const [p, m] = f.module.split('::');
		if (!isHexAddress(p)) throw gqlError(`Invalid module filter: ${f.module}`);
		modPkg = normalizeSuiAddress(p);
		modName = m ?? null;
	}
	if (f.type) {
		const p = f.type.split('::')[0];
		if (!isHexAddress(p)) throw gqlError(`Invalid type filter: ${f.type}`);
	}
	return (e) => {
		if (sender && e.sender !== sender) return false;
		if (modPkg && (e.packageId !== modPkg || (modName && e.module !== modName))) return false;
		if (f.type && !typeMatches(e.type, f.type)) return false;
		if (f.atCheckpoint != null && e.checkpoint !== f.atCheckpoint) return false;
		if (f.afterCheckpoint != null && !(e.checkpoint > f.afterCheckpoint)) return false;
		if (f.beforeCheckpoint != null && !(e.checkpoint < f.beforeCheckpoint)) return false;
		return true;
	};
}

function checkDigest(d) {
	try {
		if (fromBase58(d).length === 32) return;
	} catch {}
	throw gqlError(`Invalid digest: ${d}`);
}

function b64(s, what) {
	if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw gqlError(`Invalid Base64 for ${what}`);
	return fromBase64(s);
}

function toGqlError(e) {
	if (e instanceof GraphQLError) return e;
	if (e instanceof UserInputError) return gqlError(e.message, 'BAD_USER_INPUT');
	return gqlError(e?.message ?? String(e), 'INTERNAL_SERVER_ERROR');
}

// ---- root ----------------------------------------------------------------------------------

function rootValue(ctx0) {
	return {
		chainIdentifier: (_a, ctx) => ctx.chain.chainIdentifier,
		serviceConfig: () => {
			const l = limits();
			const page = (type, field) => {
				const p = ctx0.schema.getType(type)?.getFields?.()[field];
				if (!p) return null;
				const t = String(p.type);
				return t.endsWith('Connection') || t.endsWith('Connection!') ? pageLimits(type, field) : null;
			};
			return {
			maxPageSize: ({ type, field }) => page(type, field)?.max ?? null,
			defaultPageSize: ({ type, field }) => page(type, field)?.default ?? null,
			maxMultiGetSize: l.maxMultiGetSize,
			maxQueryDepth: l.maxQueryDepth,
			maxQueryNodes: l.maxQueryNodes,
			maxOutputNodes: l.maxOutputNodes,
			maxQueryPayloadSize: l.maxQueryPayloadSize,
			maxTransactionPayloadSize: l.maxTxPayloadSize,
			queryTimeoutMs: 40_000,
			mutationTimeoutMs: 74_000,
			maxTypeArgumentDepth: 16,
			maxTypeArgumentWidth: 32,
			maxTypeNodes: 256,
			maxMoveValueDepth: 128,
			maxMoveValueBound: 1_048_576,
			maxDisplayFieldDepth: 10,
			maxDisplayFormatNodes: 32,
			maxDisplayObjectLoads: 8,
			maxDisplayOutputSize: 1_048_576,
			maxDisassembledModuleSize: 1_048_576,
			maxRichQueries: l.maxRichQueries,
			availableRange: (_a, ctx) => ({
				first: new CheckpointView(ctx, ctx.chain.checkpoints[0]),
				last: new CheckpointView(ctx, ctx.chain.latestCheckpoint),
			}),
			};
		},
		protocolConfigs: (_a, ctx) => protocolConfigs(ctx),
		address: ({ address, name }, ctx) => {
			if (address == null) return null;
			try {
				return new AddressView(ctx, addr(address));
			} catch (e) {
				throw gqlError(e.message);
			}
		},
		multiGetAddresses: ({ keys }, ctx) => keys.map((k) => (k.address ? new AddressView(ctx, addr(k.address)) : null)),
		multiGetBalances: ({ keys }, ctx) => keys.map((k) => balanceView(ctx, addr(k.address), k.coinType)),
		epoch: ({ epochId }, ctx) => {
			const id = epochId == null ? ctx.chain.epoch : BigInt(epochId);
			return ctx.chain.epochs.has(id) ? new EpochView(ctx, id) : null;
		},
		multiGetEpochs: ({ keys }, ctx) => keys.map((k) => (ctx.chain.epochs.has(BigInt(k)) ? new EpochView(ctx, k) : null)),
		epochs: (args, ctx) => {
			const list = [...ctx.chain.epochs.keys()].sort((a, b) => (a < b ? -1 : 1));
			return paginate(list, args, (e) => Number(e), (e) => new EpochView(ctx, e));
		},
		checkpoint: ({ sequenceNumber, digest }, ctx) => {
			if (sequenceNumber != null && digest != null) throw gqlError('Cannot specify both sequenceNumber and digest');
			const cps = ctx.chain.checkpoints;
			let cp = ctx.chain.latestCheckpoint;
			if (sequenceNumber != null) cp = cps[sequenceNumber];
			if (digest != null) cp = cps.find((c) => c.digest === digest);
			return cp ? new CheckpointView(ctx, cp) : null;
		},
		multiGetCheckpoints: ({ keys }, ctx) => keys.map((k) => (ctx.chain.checkpoints[k] ? new CheckpointView(ctx, ctx.chain.checkpoints[k]) : null)),
		checkpoints: (args, ctx) => {
			let list = ctx.chain.checkpoints;
			if (args?.filter?.atEpoch != null) list = list.filter((c) => c.epoch === BigInt(args.filter.atEpoch));
			return paginate(list, args, (c) => c.seq, (c) => new CheckpointView(ctx, c));
		},
		object: ({ address, version, rootVersion, atCheckpoint }, ctx) => {
			const id = addr(address);
			if ([version, rootVersion, atCheckpoint].filter((x) => x != null).length > 1)
				throw gqlError('It is an error to specify more than one of version, rootVersion, or atCheckpoint');
			let o;
			if (version != null) o = ctx.chain.getObjectAt(id, version);
			else if (rootVersion != null) {
				const h = ctx.chain.history.get(id);
				o = h ? [...h.values()].filter((x) => x.version <= BigInt(rootVersion)).sort((a, b) => (a.version < b.version ? 1 : -1))[0] : null;
			} else o = ctx.chain.getObject(id);
			return objectView(ctx, o);
		},
		multiGetObjects: ({ keys }, ctx) =>
			keys.map((k) => {
				const id = addr(k.address);
				const o = k.version != null ? ctx.chain.getObjectAt(id, k.version) : ctx.chain.getObject(id);
				return objectView(ctx, o);
			}),
		objects: (args, ctx) => {
			const f = args.filter ?? {};
			if (!f.owner && !f.type && !f.ownerKind) throw gqlError('Object filter must specify an owner, ownerKind or type');
			return objectsConnection(ctx, [...ctx.chain.objects.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), args, 'Object');
		},
		objectVersions: (args, ctx) => {
			let list = versionsOf(ctx, addr(args.address));
			if (args.filter?.afterVersion != null) list = list.filter((o) => o.version > BigInt(args.filter.afterVersion));
			if (args.filter?.beforeVersion != null) list = list.filter((o) => o.version < BigInt(args.filter.beforeVersion));
			return versionsConnection(ctx, list, args);
		},
		package: ({ address }, ctx) => {
			const id = addr(address);
			return id === ctx.chain.packageId ? new PackageView(ctx, id) : null;
		},
		multiGetPackages: ({ keys }, ctx) => keys.map((k) => (addr(k.address) === ctx.chain.packageId ? new PackageView(ctx, ctx.chain.packageId) : null)),
		packages: (args, ctx) => paginate([ctx.chain.packageId], args, (p) => p, (p) => new PackageView(ctx, p), pageLimits('Query', 'packages')),
		packageVersions: (args, ctx) => {
			const id = addr(args.address);
			return paginate(id === ctx.chain.packageId ? [id] : [], args, (p) => p, (p) => new PackageView(ctx, p));
		},
		type: ({ type }) => {
			const prims = ['u8', 'u16', 'u32', 'u64', 'u128', 'u256', 'bool', 'address'];
			if (prims.includes(type)) return new MoveTypeView(type);
			try {
				return new MoveTypeView(normalizeStructTag(type));
			} catch {
				throw gqlError(`Invalid type: ${type}`);
			}
		},
		multiGetTypes: ({ keys }) => keys.map((t) => {
			try {
				return new MoveTypeView(normalizeStructTag(t));
			} catch {
				return null;
			}
		}),
		coinMetadata: () => null,
		nameRecord: () => null,
		node: () => null,
		transaction: ({ digest }, ctx) => {
			checkDigest(digest);
			const r = ctx.lookupTx(digest);
			return r ? new TransactionView(ctx, r) : null;
		},
		multiGetTransactions: ({ keys }, ctx) =>
			keys.map((d) => {
				checkDigest(d);
				const r = ctx.lookupTx(d);
				return r ? new TransactionView(ctx, r) : null;
			}),
		transactionEffects: ({ digest }, ctx) => {
			checkDigest(digest);
			const r = ctx.lookupTx(digest);
			return r ? new EffectsView(ctx, r) : null;
		},
		multiGetTransactionEffects: ({ keys }, ctx) =>
			keys.map((d) => {
				checkDigest(d);
				const r = ctx.lookupTx(d);
				return r ? new EffectsView(ctx, r) : null;
			}),
		transactions: (args, ctx) => {
			const list = ctx.chain.txOrder.map((d) => ctx.chain.txs.get(d)).filter((r) => txFilter(r, args?.filter));
			return paginate(list, args, (r) => r.txSeq, (r) => new TransactionView(ctx, r));
		},
		events: (args, ctx) => {
			const pred = eventFilter(args?.filter);
			const list = ctx.chain.events.filter(pred);
			return paginate(list, args, (e) => e.globalSeq, (e) => new EventView(ctx, e, null));
		},
		simulateTransaction: ({ transaction, checksEnabled, doGasSelection }, ctx) => {
			try {
				const checks = checksEnabled !== false;
				const { bytes, estimateFailure } = ctx.chain.resolveGrpcJson(transaction, { doGasSelection: !!doGasSelection, checks });
				const rec = estimateFailure ?? ctx.chain.simulate(bytes, { checks });
				return {
					effects: new EffectsView(ctx, rec, { fresh: true }),
					outputs: rec.returnValues.map((vals) => ({
						returnValues: vals.map((v) => ({ argument: null, value: v ? new MoveValueView(v.type, null, new Uint8Array(v.bytes)) : null })),
						mutatedReferences: [],
					})),
				};
			} catch (e) {
				throw toGqlError(e);
			}
		},
		executeTransaction: async ({ transactionDataBcs, signatures }, ctx) => {
			const bytes = b64(transactionDataBcs, 'transactionDataBcs');
			try {
				const { record } = await ctx.chain.execute(bytes, signatures);
				ctx.executed = true;
				return { effects: new EffectsView(ctx, record, { fresh: true }) };
			} catch (e) {
				throw toGqlError(e);
			}
		},
		verifySignature: async ({ message, signature, intentScope, author }) => {
			try {
				const bytes = fromBase64(message);
				if (intentScope === 'TRANSACTION_DATA') await verifyTransactionSignature(bytes, signature, { address: addr(author) });
				else await verifyPersonalMessageSignature(bytes, signature, { address: addr(author) });
				return { success: true };
			} catch (e) {
				throw gqlError(`Signature verification failed: ${e.message}`);
			}
		},
		verifyZkLoginSignature: () => {
			throw gqlError('zkLogin verification is not supported by this network');
		},
	};
}

/**
 * The version this stand-in reports in the `x-sui-rpc-version` answer header, as Sui's GraphQL
 * service does on every answer (its crate version and the git revision it was built from).
 */
export const SERVICE_VERSION = '1.60.0-k3s-daas-standin';

export class GraphQLService {
	constructor(chain, faults) {
		this.chain = chain;
		this.faults = faults;
		this.schema = loadSchema();
		this.root = rootValue(this);
		this.hidden = [];
	}

	/**
	 * Hides one field (or one argument of a field) of the schema, from introspection and from
	 * execution alike, like a server of another version that lacks it: {"type", "field"[, "arg"]}.
	 * {"reset": true} serves the whole schema again. Answers the list hidden now.
	 */
	hide(body = {}) {
		if (body.reset) {
			this.schema = loadSchema();
			this.hidden = [];
			return { hidden: this.hidden };
		}
		const { type, field, arg } = body;
		if (typeof type !== 'string' || typeof field !== 'string') throw new Error('type and field (strings) required');
		assertValidSchema(this.schema); // validated (and cached) while whole: validate() does not re-check it
		const t = this.schema.getType(type);
		const fields = t?.getFields?.();
		if (!fields || !fields[field]) throw new Error(`no field ${type}.${field}`);
		if (arg != null) {
			if (!fields[field].args.some((a) => a.name === arg)) throw new Error(`no argument ${type}.${field}(${arg})`);
			fields[field].args = fields[field].args.filter((a) => a.name !== arg);
			this.hidden.push(`${type}.${field}(${arg})`);
		} else {
			delete fields[field];
			this.hidden.push(`${type}.${field}`);
		}
		return { hidden: this.hidden };
	}

	/** Root field names of the operation (for request counters), or [] when it does not parse. */
	rootFields(query, operationName) {
		try {
			const doc = parse(query);
			const op = getOperationAST(doc, operationName ?? undefined);
			if (!op) return [];
			return op.selectionSet.selections.filter((s) => s.kind === 'Field').map((s) => s.name.value);
		} catch {
			return [];
		}
	}

	async handle(body, req) {
		if (!body || typeof body !== 'object' || typeof body.query !== 'string') {
			return { errors: [{ message: 'Request body must be a JSON object with a "query" string', extensions: { code: 'BAD_REQUEST' } }] };
		}
		const chain = this.chain;
		const faults = this.faults;
		const ctx = {
			chain,
			executed: false,
			lookupTx(digest) {
				const r = chain.txs.get(digest);
				if (!r) return null;
				if (faults.take('indexer_lag', req)) return null;
				return r;
			},
		};
		req.ctx = ctx;
		const result = await this.#run(body, req, ctx);
		const out = {};
		if (result.data !== undefined) out.data = result.data;
		if (result.errors?.length) out.errors = result.errors.map((e) => e.toJSON());
		if (result.usage) out.extensions = { usage: result.usage };
		return out;
	}

	/**
	 * Parse, validate against the schema, check Sui's query limits (as the real service does,
	 * after the framework's validation), then execute. A limit violation answers
	 * {"data": null, "errors": [one error]} like async-graphql.
	 */
	async #run(body, req, ctx) {
		const l = limits();
		const contentLength = req.contentLength ?? Buffer.byteLength(JSON.stringify(body));
		let usage = null;
		let doc;
		try {
			checkRequestSize(contentLength, l);
			doc = parse(body.query);
		} catch (e) {
			if (e instanceof LimitError) return { data: null, errors: [e] };
			return { errors: [e instanceof GraphQLError ? e : gqlError(String(e?.message ?? e))] };
		}
		const validationErrors = validate(this.schema, doc);
		if (validationErrors.length) return { errors: validationErrors };
		if (l.enabled) {
			try {
				usage = checkDocument({ schema: this.schema, doc, source: doc.loc.source, variables: body.variables ?? {}, contentLength }, l);
			} catch (e) {
				if (e instanceof LimitError) return { data: null, errors: [e] };
				throw e;
			}
		}
		const result = await execute({
			schema: this.schema,
			document: doc,
			rootValue: this.root,
			contextValue: ctx,
			variableValues: body.variables ?? undefined,
			operationName: body.operationName ?? undefined,
		});
		return req.showUsage && usage ? { ...result, usage } : result;
	}
}
