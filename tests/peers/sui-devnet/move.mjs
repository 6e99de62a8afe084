// Move-level model of the objects this stand-in knows: SUI coins, the staking package's
// StakingPool and StakeRecord, and its events. Layouts, JSON renderings (GraphQL and JSON-RPC
// flavours) and the staking module's function signatures live here.
import { bcs } from '@mysten/sui/bcs';
import { SUI_FRAMEWORK, SUI_COIN_TYPE, GAS_COIN_TYPE, MOVE_STDLIB, shortType, toBase64 } from './util.mjs';

export const MODULE = 'staking';

export const STATUS_ACTIVE = 1;
export const STATUS_SLASHED = 2;
export const STATUS_WITHDRAWN = 3;

// Abort codes of the original K3s-DaaS staking contract (+ E_NOT_ACTIVE).
export const E_INSUFFICIENT_STAKE = 1n;
export const E_NOT_STAKER = 2n;
export const E_ALREADY_STAKED = 3n;
export const E_STAKE_LOCKED = 4n;
export const E_NOT_AUTHORIZED = 5n;
export const E_NOT_ACTIVE = 6n;

const Table = bcs.struct('Table', { id: bcs.Address, size: bcs.u64() });

export const Layouts = {
	coin: bcs.struct('Coin', { id: bcs.Address, balance: bcs.u64() }),
	pool: bcs.struct('StakingPool', {
		id: bcs.Address,
		admin: bcs.Address,
		min_stake: bcs.u64(),
		lock_epochs: bcs.u64(),
		total_staked: bcs.u64(),
		stakers: Table,
		nodes: Table,
		balance: bcs.u64(),
	}),
	record: bcs.struct('StakeRecord', {
		id: bcs.Address,
		staker: bcs.Address,
		amount: bcs.u64(),
		staked_at: bcs.u64(),
		locked_until: bcs.u64(),
		status: bcs.u8(),
		node_id: bcs.string(),
		stake_type: bcs.string(),
	}),
};

// Mysten's Nautilus `enclave` module (move/enclave/sources/enclave.move): Pcrs is a positional
// struct, whose fields are named pos0..pos2 in JSON renderings.
export const ENCLAVE_MODULE = 'enclave';
const Pcrs = bcs.struct('Pcrs', { pos0: bcs.byteVector(), pos1: bcs.byteVector(), pos2: bcs.byteVector() });
Layouts.enclave_cap = bcs.struct('Cap', { id: bcs.Address });
Layouts.enclave_config = bcs.struct('EnclaveConfig', {
	id: bcs.Address,
	name: bcs.string(),
	pcrs: Pcrs,
	capability_id: bcs.Address,
	version: bcs.u64(),
});
Layouts.enclave = bcs.struct('Enclave', { id: bcs.Address, pk: bcs.byteVector(), config_version: bcs.u64(), owner: bcs.Address });

export const ENCLAVE_STRUCTS = { enclave_cap: 'Cap', enclave_config: 'EnclaveConfig', enclave: 'Enclave' };

/** `<pkg>::enclave::<Struct><T>` with full-length addresses (T normalized). */
export function enclaveType(kind, pkg, appType) {
	return `${pkg}::${ENCLAVE_MODULE}::${ENCLAVE_STRUCTS[kind]}<${appType}>`;
}

/** StructTag (BCS input shape) of a type string like 0x..::m::S or 0x..::m::S<0x..::n::T>. */
export function structTagOf(type) {
	const lt = type.indexOf('<');
	const head = lt < 0 ? type : type.slice(0, lt);
	const [address, module, name] = head.split('::');
	const params = lt < 0 ? [] : splitTypeParams(type.slice(lt + 1, -1)).map((t) => ({ struct: structTagOf(t) }));
	return { address, module, name, typeParams: params };
}

/** Splits the type parameters of a generic type at top-level commas. */
export function splitTypeParams(s) {
	const out = [];
	let depth = 0;
	let cur = '';
	for (const ch of s) {
		if (ch === '<') depth++;
		if (ch === '>') depth--;
		if (ch === ',' && depth === 0) {
			out.push(cur.trim());
			cur = '';
		} else cur += ch;
	}
	if (cur.trim()) out.push(cur.trim());
	return out;
}

export const isEnclaveKind = (kind) => kind in ENCLAVE_STRUCTS;

export const EventLayouts = {
	StakeEvent: bcs.struct('StakeEvent', {
		staker: bcs.Address,
		amount: bcs.u64(),
		stake_type: bcs.string(),
		node_id: bcs.string(),
		timestamp: bcs.u64(),
	}),
	UnstakeEvent: bcs.struct('UnstakeEvent', {
		staker: bcs.Address,
		amount: bcs.u64(),
		timestamp: bcs.u64(),
	}),
	SlashEvent: bcs.struct('SlashEvent', {
		staker: bcs.Address,
		amount_slashed: bcs.u64(),
		reason: bcs.string(),
		timestamp: bcs.u64(),
	}),
};

// sui_types::event::Event
export const EventBcs = bcs.struct('Event', {
	packageId: bcs.Address,
	transactionModule: bcs.string(),
	sender: bcs.Address,
	type: bcs.StructTag,
	contents: bcs.byteVector(),
});

export function typeOfKind(kind, pkg) {
	switch (kind) {
		case 'coin':
			return GAS_COIN_TYPE;
		case 'pool':
			return `${pkg}::${MODULE}::StakingPool`;
		case 'record':
			return `${pkg}::${MODULE}::StakeRecord`;
		default:
			throw new Error(`unknown kind ${kind}`);
	}
}

export function contentsBcs(obj) {
	return Layouts[obj.kind].serialize(obj.fields).toBytes();
}

export function moveObjectType(obj) {
	if (obj.kind === 'coin') return { GasCoin: true };
	if (isEnclaveKind(obj.kind)) return { Other: structTagOf(obj.type) };
	const [address, module, name] = obj.type.split('::');
	return { Other: { address, module, name, typeParams: [] } };
}

export function hasPublicTransfer(obj) {
	return obj.kind === 'coin' || obj.kind === 'enclave_cap';
}

/** GraphQL `MoveValue.json` rendering (UID and Balance flattened, u64 as strings, vector<u8> Base64). */
export function gqlJson(obj) {
	const f = obj.fields;
	const b64 = (b) => toBase64(Uint8Array.from(b));
	switch (obj.kind) {
		case 'enclave_cap':
			return { id: f.id };
		case 'enclave_config':
			return {
				id: f.id,
				name: f.name,
				pcrs: { pos0: b64(f.pcrs.pos0), pos1: b64(f.pcrs.pos1), pos2: b64(f.pcrs.pos2) },
				capability_id: f.capability_id,
				version: String(f.version),
			};
		case 'enclave':
			return { id: f.id, pk: b64(f.pk), config_version: String(f.config_version), owner: f.owner };
		case 'coin':
			return { id: f.id, balance: String(f.balance) };
		case 'pool':
			return {
				id: f.id,
				admin: f.admin,
				min_stake: String(f.min_stake),
				lock_epochs: String(f.lock_epochs),
				total_staked: String(f.total_staked),
				stakers: { id: f.stakers.id, size: String(f.stakers.size) },
				nodes: { id: f.nodes.id, size: String(f.nodes.size) },
				balance: String(f.balance),
			};
		case 'record':
			return {
				id: f.id,
				staker: f.staker,
				amount: String(f.amount),
				staked_at: String(f.staked_at),
				locked_until: String(f.locked_until),
				status: f.status,
				node_id: f.node_id,
				stake_type: f.stake_type,
			};
	}
	return null;
}

/** JSON-RPC `content.fields` rendering (UID as {id}, nested structs as {type, fields}). */
export function rpcFields(obj) {
	const f = obj.fields;
	const arr = (b) => Array.from(b);
	const table = (t, k, v) => ({
		type: `0x2::table::Table<${k}, ${v}>`,
		fields: { id: { id: t.id }, size: String(t.size) },
	});
	switch (obj.kind) {
		case 'enclave_cap':
			return { id: { id: f.id } };
		case 'enclave_config':
			return {
				capability_id: f.capability_id,
				id: { id: f.id },
				name: f.name,
				pcrs: {
					type: shortType(`${obj.type.split('::')[0]}::${ENCLAVE_MODULE}::Pcrs`),
					fields: { pos0: arr(f.pcrs.pos0), pos1: arr(f.pcrs.pos1), pos2: arr(f.pcrs.pos2) },
				},
				version: String(f.version),
			};
		case 'enclave':
			return { config_version: String(f.config_version), id: { id: f.id }, owner: f.owner, pk: arr(f.pk) };
		case 'coin':
			return { balance: String(f.balance), id: { id: f.id } };
		case 'pool':
			return {
				admin: f.admin,
				balance: String(f.balance),
				id: { id: f.id },
				lock_epochs: String(f.lock_epochs),
				min_stake: String(f.min_stake),
				nodes: table(f.nodes, '0x1::string::String', '0x2::object::ID'),
				stakers: table(f.stakers, 'address', '0x2::object::ID'),
				total_staked: String(f.total_staked),
			};
		case 'record':
			return {
				amount: String(f.amount),
				id: { id: f.id },
				locked_until: String(f.locked_until),
				node_id: f.node_id,
				stake_type: f.stake_type,
				staked_at: String(f.staked_at),
				staker: f.staker,
				status: f.status,
			};
	}
	return null;
}

export function eventJson(name, values) {
	const out = {};
	for (const [k, v] of Object.entries(values)) out[k] = typeof v === 'bigint' ? v.toString() : v;
	return out;
}

// ---- Function signatures of <pkg>::staking -------------------------------------------------

// Parameter types: 'pool' | 'record' | 'coin' | 'u64' | 'string'; ref: '&' | '&mut' | null.
export const FUNCTIONS = {
	stake_for_node: {
		index: 0,
		isEntry: true,
		params: [
			{ ref: '&mut', type: 'pool' },
			{ ref: null, type: 'coin' },
			{ ref: null, type: 'string' },
		],
		returns: [],
	},
	withdraw_stake: {
		index: 1,
		isEntry: false,
		params: [
			{ ref: '&mut', type: 'pool' },
			{ ref: '&mut', type: 'record' },
		],
		returns: ['coin'],
	},
	slash_stake: {
		index: 2,
		isEntry: true,
		params: [
			{ ref: '&mut', type: 'pool' },
			{ ref: '&mut', type: 'record' },
			{ ref: null, type: 'u64' },
			{ ref: null, type: 'string' },
		],
		returns: [],
	},
};

/** Fixed bytecode offsets of each abort site, so MoveLocations look like the real thing. */
export const ABORT_SITES = {
	stake_for_node: { [E_INSUFFICIENT_STAKE]: 9, [E_ALREADY_STAKED]: 12 },
	withdraw_stake: { [E_NOT_STAKER]: 8, [E_STAKE_LOCKED]: 15, [E_NOT_ACTIVE]: 21 },
	slash_stake: { [E_NOT_AUTHORIZED]: 7, [E_NOT_ACTIVE]: 14 },
};

function datatype(pkg, module, type, typeParameters = []) {
	return { datatype: { package: pkg, module, type, typeParameters } };
}

/** GraphQL OpenMoveTypeSignature body of a parameter type. */
export function gqlSignatureBody(type, pkg) {
	switch (type) {
		case 'pool':
			return datatype(pkg, MODULE, 'StakingPool');
		case 'record':
			return datatype(pkg, MODULE, 'StakeRecord');
		case 'coin':
			return datatype(SUI_FRAMEWORK, 'coin', 'Coin', [datatype(SUI_FRAMEWORK, 'sui', 'SUI')]);
		case 'string':
			return datatype(MOVE_STDLIB, 'string', 'String');
		case 'txctx':
			return datatype(SUI_FRAMEWORK, 'tx_context', 'TxContext');
		default:
			return type; // u64 etc.
	}
}

export function reprOfParamType(type, pkg) {
	switch (type) {
		case 'pool':
			return `${pkg}::${MODULE}::StakingPool`;
		case 'record':
			return `${pkg}::${MODULE}::StakeRecord`;
		case 'coin':
			return GAS_COIN_TYPE;
		case 'string':
			return `${MOVE_STDLIB}::string::String`;
		case 'txctx':
			return `${SUI_FRAMEWORK}::tx_context::TxContext`;
		default:
			return type;
	}
}

/** JSON-RPC SuiMoveNormalizedType of a parameter type. */
export function rpcNormalizedType(type, pkg) {
	const st = (address, module, name, typeArguments = []) => ({
		Struct: { address, module, name, typeArguments },
	});
	switch (type) {
		case 'pool':
			return st(pkg, MODULE, 'StakingPool');
		case 'record':
			return st(pkg, MODULE, 'StakeRecord');
		case 'coin':
			return st('0x2', 'coin', 'Coin', [st('0x2', 'sui', 'SUI')]);
		case 'string':
			return st('0x1', 'string', 'String');
		case 'txctx':
			return st('0x2', 'tx_context', 'TxContext');
		case 'u64':
			return 'U64';
		default:
			return type;
	}
}

export function withRef(ref, body, kind) {
	if (kind === 'rpc') {
		if (ref === '&mut') return { MutableReference: body };
		if (ref === '&') return { Reference: body };
		return body;
	}
	return ref ? { ref, body } : { body };
}

export function paramsWithCtx(fn) {
	return [...fn.params, { ref: '&mut', type: 'txctx' }];
}

export { SUI_COIN_TYPE, GAS_COIN_TYPE, shortType, toBase64 };
