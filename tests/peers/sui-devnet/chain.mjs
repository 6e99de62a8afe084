// The chain state of the stand-in: objects with Sui versioning, transaction processing
// (decode → verify → input checks → PTB execution → gas → effects), events, checkpoints, epochs.
import { bcs } from '@mysten/sui/bcs';
import { Transaction, TransactionDataBuilder } from '@mysten/sui/transactions';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { verifyTransactionSignature } from '@mysten/sui/verify';
import { GrpcTypes } from '@mysten/sui/grpc';
import * as M from './move.mjs';
import {
	SUI_FRAMEWORK,
	MOVE_STDLIB,
	SUI_COIN_TYPE,
	GAS_COIN_TYPE,
	ZERO_ADDRESS,
	DELETED_DIGEST,
	typedDigest,
	randomDigestBytes,
	randomAddress,
	deriveObjectId,
	addr,
	normalizeSuiAddress,
	normalizeStructTag,
	toBase58,
	fromBase58,
	toBase64,
	fromBase64,
	toHex,
	toBigInt,
	ordinal,
	log,
} from './util.mjs';

export const MAX_GAS_BUDGET = 50_000_000_000n;
export const MIN_GAS_UNITS = 1000n; // minimum computation bucket, in gas units
export const STORAGE_PRICE_PER_BYTE = 7600n; // 76 storage gas price * 100 units per byte
export const MAX_GAS_PRICE = 100_000n;
export const POOL_INITIAL_SHARED_VERSION = 3n;

/** A transaction rejected before execution (Sui's UserInputError / signature errors). */
export class UserInputError extends Error {
	constructor(message, code = 'UserInputError') {
		super(message);
		this.code = code;
	}
}

/** A failure during PTB execution: becomes ExecutionStatus::Failure (gas is still charged). */
class ExecFailure extends Error {
	constructor(error, command) {
		super(error.kind);
		this.error = error;
		this.command = command;
	}
}

const CAE_TEXT = {
	TypeMismatch: 'The type of the value does not match the expected type',
	InvalidBCSBytes: 'The argument cannot be deserialized into a value of the specified type',
	InvalidUsageOfPureArg: 'The argument cannot be instantiated from raw bytes',
	InvalidGasCoinUsage: 'Invalid usage of Gas coin. The Gas coin can only be used by-value with a TransferObjects command',
	InvalidValueUsage: 'Invalid usage of value. Mutably borrowed values require unique usage. Immutably borrowed values cannot be taken or borrowed mutably. Taken values cannot be used again.',
	InvalidObjectByValue: 'Immutable objects cannot be passed by-value.',
	InvalidObjectByMutRef: 'Immutable objects cannot be passed by mutable reference, &mut.',
	ArgumentWithoutValue: 'Argument is without a value. The value was already moved or taken.',
	IndexOutOfBounds: 'Out of bounds access to input or result vector',
	SecondaryIndexOutOfBounds: 'Out of bounds secondary access to result vector',
	InvalidResultArity: 'Expected a single result but found multiple or zero results',
	SharedObjectOperationNotAllowed: 'Shared objects cannot be passed by-value in this position',
};

const FAILURE_TEXT = {
	InsufficientGas: 'Insufficient Gas.',
	InsufficientCoinBalance: 'Insufficient coin balance for operation.',
	FunctionNotFound: 'Function Not Found.',
	ArityMismatch: 'Arity mismatch for Move function. The number of arguments does not match the number of parameters',
	TypeArityMismatch: 'Type arity mismatch for Move function. Mismatch between the number of actual versus expected type arguments.',
	NonEntryFunctionInvoked: 'Non Entry Function Invoked. Move Call must start with an entry function',
	InvalidTransferObject: 'Invalid Transfer Object, object does not have public transfer.',
	CoinBalanceOverflow: 'Coin balance overflowed an u64',
	FeatureNotYetSupported: 'Attempted to used feature that is not supported yet',
};

function failureToBcs(e) {
	switch (e.kind) {
		case 'MoveAbort':
			return {
				MoveAbort: [
					{
						module: { address: e.package, name: e.module },
						function: e.functionIndex,
						instruction: e.instruction,
						functionName: e.functionName,
					},
					e.code,
				],
			};
		case 'CommandArgumentError': {
			let kind = { [e.errKind]: true };
			if (e.errKind === 'IndexOutOfBounds') kind = { IndexOutOfBounds: { idx: e.idx ?? 0 } };
			if (e.errKind === 'SecondaryIndexOutOfBounds')
				kind = { SecondaryIndexOutOfBounds: { resultIdx: e.idx ?? 0, secondaryIdx: e.idx2 ?? 0 } };
			if (e.errKind === 'InvalidResultArity') kind = { InvalidResultArity: { resultIdx: e.idx ?? 0 } };
			return { CommandArgumentError: { argIdx: e.argIdx, kind } };
		}
		case 'UnusedValueWithoutDrop':
			return { UnusedValueWithoutDrop: { resultIdx: e.resultIdx, secondaryIdx: e.secondaryIdx } };
		default:
			return { [e.kind]: true };
	}
}

/** Rust Debug rendering of ExecutionFailureStatus (+ " in command N"), as JSON-RPC shows it. */
export function failureDebug(e, command) {
	let s;
	switch (e.kind) {
		case 'MoveAbort':
			s =
				`MoveAbort(MoveLocation { module: ModuleId { address: ${e.package.slice(2)}, name: Identifier("${e.module}") }, ` +
				`function: ${e.functionIndex}, instruction: ${e.instruction}, function_name: Some("${e.functionName}") }, ${e.code})`;
			break;
		case 'CommandArgumentError': {
			let kind = e.errKind;
			if (e.errKind === 'IndexOutOfBounds') kind = `IndexOutOfBounds { idx: ${e.idx ?? 0} }`;
			if (e.errKind === 'InvalidResultArity') kind = `InvalidResultArity { result_idx: ${e.idx ?? 0} }`;
			if (e.errKind === 'SecondaryIndexOutOfBounds')
				kind = `SecondaryIndexOutOfBounds { result_idx: ${e.idx ?? 0}, secondary_idx: ${e.idx2 ?? 0} }`;
			s = `CommandArgumentError { arg_idx: ${e.argIdx}, kind: ${kind} }`;
			break;
		}
		case 'UnusedValueWithoutDrop':
			s = `UnusedValueWithoutDrop { result_idx: ${e.resultIdx}, secondary_idx: ${e.secondaryIdx} }`;
			break;
		default:
			s = e.kind;
	}
	return command != null ? `${s} in command ${command}` : s;
}

/** Display rendering, as Sui GraphQL's ExecutionError.message shows it. */
export function failureMessage(e, command) {
	let body;
	if (e.kind === 'MoveAbort') {
		body = `from '${e.package}::${e.module}::${e.functionName}' (instruction ${e.instruction}), abort code: ${e.code}`;
		return command != null ? `Error in ${ordinal(command + 1)} command, ${body}` : `MoveAbort(${e.code}) ${body}`;
	}
	if (e.kind === 'CommandArgumentError') body = `Invalid command argument at ${e.argIdx}. ${CAE_TEXT[e.errKind] ?? e.errKind}`;
	else if (e.kind === 'UnusedValueWithoutDrop')
		body = `Unused result without the drop ability. Command result ${e.resultIdx}, return value ${e.secondaryIdx}`;
	else body = FAILURE_TEXT[e.kind] ?? e.kind;
	return command != null ? `Error in ${ordinal(command + 1)} command, ${body}` : body;
}

function ownerBcs(owner) {
	switch (owner.kind) {
		case 'address':
			return { AddressOwner: owner.address };
		case 'shared':
			return { Shared: { initialSharedVersion: owner.isv } };
		case 'immutable':
			return { Immutable: true };
		default:
			throw new Error(`bad owner ${JSON.stringify(owner)}`);
	}
}

function cloneObj(o) {
	const c = { ...o, owner: { ...o.owner }, fields: { ...o.fields } };
	if (o.kind === 'pool') {
		c.fields.stakers = { ...o.fields.stakers };
		c.fields.nodes = { ...o.fields.nodes };
		c.stakerMap = new Map(o.stakerMap);
		c.nodeMap = new Map(o.nodeMap);
	}
	delete c.bcs;
	delete c.digest;
	return c;
}

/** Computes the object's BCS, storage rebate and digest (version/owner/prevTx must be final). */
function sealObject(o) {
	if (o.kind === 'package') return o;
	const data = {
		data: {
			Move: {
				type: M.moveObjectType(o),
				hasPublicTransfer: M.hasPublicTransfer(o),
				version: o.version,
				contents: M.contentsBcs(o),
			},
		},
		owner: ownerBcs(o.owner),
		previousTransaction: o.previousTransaction,
		storageRebate: 0n,
	};
	const size = BigInt(bcs.Object.serialize(data).toBytes().length);
	o.storageRebate = size * STORAGE_PRICE_PER_BYTE;
	data.storageRebate = o.storageRebate;
	o.bcs = bcs.Object.serialize(data).toBytes();
	o.digest = toBase58(typedDigest('Object', o.bcs));
	return o;
}

function decodeUleb(bytes, pos) {
	let value = 0;
	let shift = 0;
	for (;;) {
		if (pos >= bytes.length) throw new Error('eof');
		const b = bytes[pos++];
		value += (b & 0x7f) * 2 ** shift;
		if ((b & 0x80) === 0) break;
		shift += 7;
		if (shift > 35) throw new Error('uleb overflow');
	}
	return [value, pos];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodePure(bytes, type) {
	switch (type) {
		case 'u64':
			if (bytes.length !== 8) return null;
			return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
		case 'address':
			if (bytes.length !== 32) return null;
			return '0x' + toHex(bytes);
		case 'bytes':
		case 'string': {
			// ULEB128 length + exactly that many bytes (vector<u8>, or a String's UTF-8).
			try {
				const [len, pos] = decodeUleb(bytes, 0);
				if (pos + len !== bytes.length) return null;
				return type === 'bytes' ? Uint8Array.from(bytes.subarray(pos)) : utf8.decode(bytes.subarray(pos));
			} catch {
				return null;
			}
		}
	}
	return null;
}

function encodePure(value, type) {
	switch (type) {
		case 'u64':
			return bcs.u64().serialize(toBigInt(value)).toBytes();
		case 'address':
			return bcs.Address.serialize(addr(String(value))).toBytes();
		case 'string':
			return bcs.string().serialize(String(value)).toBytes();
	}
	throw new Error(`cannot encode a literal as ${type}`);
}

// ------------------------------------------------------------------------------------------

// <enclave package>::enclave functions as this stand-in models them (index, arity without ctx,
// instruction offsets of the abort sites: EInvalidPCRs 0, EInvalidConfigVersion 1, EInvalidCap 2).
const ENCLAVE_FUNCTIONS = {
	create_enclave_config: { index: 0, arity: 4, aborts: {} },
	register_enclave: { index: 1, arity: 5, aborts: { 0: 6 } },
	update_pcrs: { index: 2, arity: 5, aborts: { 2: 7 } },
	destroy_old_enclave: { index: 3, arity: 2, aborts: { 1: 8 } },
};

export class Chain {
	constructor({ minStake = 1_000_000_000n, lockEpochs = 0n, epoch = 10n, refGasPrice = 750n } = {}) {
		this.objects = new Map(); // id -> live object
		this.history = new Map(); // id -> Map(version string -> object)
		this.deleted = new Map(); // id -> { version, digest }
		this.txs = new Map(); // digest -> record
		this.txOrder = [];
		this.events = [];
		this.checkpoints = [];
		this.epochs = new Map();
		this.executeRequests = new Map(); // digest -> times execution was requested
		this.epoch = BigInt(epoch);
		this.rgp = BigInt(refGasPrice);
		this.minStake = BigInt(minStake);
		this.lockEpochs = BigInt(lockEpochs);
		this.protocolVersion = 100;
		this.adminLock = Promise.resolve();
		this.enclavePackages = new Set();
		this.#genesis();
	}

	// ---- genesis -------------------------------------------------------------------------

	#genesis() {
		const now = Date.now();
		this.adminKey = Ed25519Keypair.generate();
		this.faucetKey = Ed25519Keypair.generate();
		this.adminAddress = this.adminKey.toSuiAddress();
		this.faucetAddress = this.faucetKey.toSuiAddress();
		this.packageId = randomAddress();

		const genesisDigestBytes = randomDigestBytes();
		this.genesisTxDigest = toBase58(genesisDigestBytes);
		const publishDigest = toBase58(randomDigestBytes());
		this.epochs.set(this.epoch, { startMs: now, endMs: null, rgp: this.rgp, txCount: 0 });

		// The package (immutable, version 1).
		this.#store({
			id: this.packageId,
			kind: 'package',
			type: 'package',
			version: 1n,
			owner: { kind: 'immutable' },
			fields: {},
			previousTransaction: publishDigest,
			storageRebate: 0n,
			digest: toBase58(randomDigestBytes()),
		});

		let n = 0;
		const coin = (owner, balance) => {
			const id = deriveObjectId(genesisDigestBytes, n++);
			return {
				id,
				kind: 'coin',
				type: GAS_COIN_TYPE,
				version: 1n,
				owner: { kind: 'address', address: owner },
				fields: { id, balance },
				previousTransaction: this.genesisTxDigest,
			};
		};
		this.#store(sealObject(coin(this.faucetAddress, 5_000_000_000_000_000_000n)));
		this.#store(sealObject(coin(this.adminAddress, 1_000_000_000_000n)));
		this.#store(sealObject(coin(this.adminAddress, 1_000_000_000_000n)));

		// The StakingPool, shared by the package's init (so its initial shared version is not 1).
		this.poolId = deriveObjectId(fromBase58(publishDigest), 0);
		const pool = {
			id: this.poolId,
			kind: 'pool',
			type: M.typeOfKind('pool', this.packageId),
			version: POOL_INITIAL_SHARED_VERSION,
			owner: { kind: 'shared', isv: POOL_INITIAL_SHARED_VERSION },
			fields: {
				id: this.poolId,
				admin: this.adminAddress,
				min_stake: this.minStake,
				lock_epochs: this.lockEpochs,
				total_staked: 0n,
				stakers: { id: deriveObjectId(fromBase58(publishDigest), 1), size: 0n },
				nodes: { id: deriveObjectId(fromBase58(publishDigest), 2), size: 0n },
				balance: 0n,
			},
			stakerMap: new Map(),
			nodeMap: new Map(),
			previousTransaction: publishDigest,
		};
		this.#store(sealObject(pool));

		const cpDigest = toBase58(randomDigestBytes());
		this.chainIdentifier = cpDigest; // genesis checkpoint digest, base58
		this.checkpoints.push({
			seq: 0,
			digest: cpDigest,
			prev: null,
			epoch: this.epoch,
			timestampMs: now,
			txs: [this.genesisTxDigest, publishDigest],
			networkTotalTransactions: 2,
		});
	}

	#store(o) {
		this.objects.set(o.id, o);
		if (!this.history.has(o.id)) this.history.set(o.id, new Map());
		this.history.get(o.id).set(o.version.toString(), o);
	}

	get chainIdentifierHex() {
		return toHex(fromBase58(this.chainIdentifier).subarray(0, 4));
	}

	get latestCheckpoint() {
		return this.checkpoints[this.checkpoints.length - 1];
	}

	epochStartMs(e = this.epoch) {
		return this.epochs.get(BigInt(e))?.startMs ?? null;
	}

	getObject(id) {
		return this.objects.get(normalizeSuiAddress(id)) ?? null;
	}

	getObjectAt(id, version) {
		return this.history.get(normalizeSuiAddress(id))?.get(BigInt(version).toString()) ?? null;
	}

	ownedObjects(owner) {
		const a = normalizeSuiAddress(owner);
		return [...this.objects.values()]
			.filter((o) => o.owner.kind === 'address' && o.owner.address === a)
			.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
	}

	coinsOf(owner) {
		return this.ownedObjects(owner).filter((o) => o.kind === 'coin');
	}

	balanceOf(owner) {
		const coins = this.coinsOf(owner);
		return { total: coins.reduce((s, c) => s + c.fields.balance, 0n), count: coins.length };
	}

	findRecord({ recordId, nodeId }) {
		if (recordId) {
			const o = this.getObject(recordId);
			return o && o.kind === 'record' ? o : null;
		}
		const pool = this.objects.get(this.poolId);
		const id = pool.nodeMap.get(nodeId);
		if (id) return this.objects.get(id);
		// Withdrawn records are no longer in the pool's table; search all records.
		for (const o of this.objects.values()) if (o.kind === 'record' && o.fields.node_id === nodeId) return o;
		return null;
	}

	// ---- decoding & signatures ---------------------------------------------------------

	decode(bytes) {
		let data;
		try {
			data = bcs.TransactionData.parse(bytes);
			const again = bcs.TransactionData.serialize(data).toBytes();
			if (again.length !== bytes.length) throw new Error('trailing bytes after TransactionData');
		} catch (e) {
			throw new UserInputError(`Failed to deserialize TransactionData: ${e.message}`, 'DeserializationError');
		}
		const v1 = data.V1;
		if (!v1) throw new UserInputError('Unsupported TransactionData version', 'DeserializationError');
		const pt = v1.kind.ProgrammableTransaction;
		if (!pt) throw new UserInputError(`Unsupported transaction kind: ${v1.kind.$kind}`, 'UnsupportedFeature');
		const digest = TransactionDataBuilder.getDigestFromBytes(bytes);
		return {
			bytes,
			data,
			digest,
			digestBytes: fromBase58(digest),
			sender: normalizeSuiAddress(v1.sender),
			gas: {
				payment: v1.gasData.payment.map((r) => ({
					objectId: normalizeSuiAddress(r.objectId),
					version: BigInt(r.version),
					digest: r.digest,
				})),
				owner: normalizeSuiAddress(v1.gasData.owner),
				price: BigInt(v1.gasData.price),
				budget: BigInt(v1.gasData.budget),
			},
			expiration: v1.expiration,
			inputs: pt.inputs,
			commands: pt.commands,
		};
	}

	async verifySignatures(p, signatures) {
		const required = [p.sender];
		if (p.gas.owner !== p.sender) required.push(p.gas.owner);
		if (!Array.isArray(signatures) || signatures.length !== required.length) {
			throw new UserInputError(
				`Expect ${required.length} signer signatures but got ${signatures?.length ?? 0}`,
				'SignerSignatureNumberMismatch',
			);
		}
		const signers = [];
		for (const sig of signatures) {
			let pk;
			try {
				pk = await verifyTransactionSignature(p.bytes, sig);
			} catch (e) {
				throw new UserInputError(
					`Invalid user signature: Signature is not valid: Cannot verify signature (${e.message})`,
					'InvalidSignature',
				);
			}
			signers.push(pk.toSuiAddress());
		}
		for (const r of required) {
			if (!signers.includes(r)) {
				throw new UserInputError(
					`Required Signature from ${r} is absent ${JSON.stringify(signers)}`,
					'SignerSignatureAbsent',
				);
			}
		}
	}

	// ---- execution entry points --------------------------------------------------------

	/** Executes signed transaction bytes. Returns { record, duplicate }. Throws UserInputError. */
	async execute(bytes, signatures) {
		const p = this.decode(bytes);
		this.executeRequests.set(p.digest, (this.executeRequests.get(p.digest) ?? 0) + 1);
		const earlier = this.txs.get(p.digest);
		if (earlier) return { record: earlier, duplicate: true };
		await this.verifySignatures(p, signatures);
		const raced = this.txs.get(p.digest);
		if (raced) return { record: raced, duplicate: true };
		const rec = this.#run(p, { mockGas: false, checks: true });
		rec.signatures = signatures.slice();
		this.#commit(rec);
		log(`executed ${rec.digest} sender=${rec.sender} status=${rec.status}${rec.status === 'failure' ? ' ' + rec.errorDebug : ''}`);
		return { record: rec, duplicate: false };
	}

	/** Dry-runs transaction bytes (no signatures); payment [] means a mocked gas coin. */
	simulate(bytes, { checks = true } = {}) {
		const p = this.decode(bytes);
		const rec = this.#run(p, { mockGas: p.gas.payment.length === 0, checks });
		rec.simulated = true;
		rec.signatures = [];
		return rec;
	}

	/** Dev-inspect: TransactionKind bytes run as `sender` with a mocked gas coin. */
	devInspect(sender, kindBytes, gasPrice) {
		let kind;
		try {
			kind = bcs.TransactionKind.parse(kindBytes);
		} catch (e) {
			throw new UserInputError(`Failed to deserialize TransactionKind: ${e.message}`, 'DeserializationError');
		}
		if (!kind.ProgrammableTransaction) throw new UserInputError('Unsupported transaction kind', 'UnsupportedFeature');
		const builder = TransactionDataBuilder.restore({
			version: 2,
			sender: addr(sender),
			expiration: null,
			gasData: { budget: String(MAX_GAS_BUDGET), price: String(gasPrice ?? this.rgp), owner: addr(sender), payment: [] },
			inputs: kind.ProgrammableTransaction.inputs,
			commands: kind.ProgrammableTransaction.commands,
		});
		return this.simulate(builder.build(), { checks: false });
	}

	// ---- the core: input checks + PTB + gas + effects ---------------------------------

	#checkOwnedRef(ref, what) {
		const id = normalizeSuiAddress(ref.objectId);
		const o = this.objects.get(id);
		if (!o) {
			const d = this.deleted.get(id);
			if (d)
				throw new UserInputError(
					`Object ID ${id} Version ${ref.version} Digest ${ref.digest} is not available for consumption, current version: ${d.version} (deleted)`,
					'ObjectVersionUnavailableForConsumption',
				);
			throw new UserInputError(`Could not find the referenced object ${id} at version ${ref.version}`, 'ObjectNotFound');
		}
		if (BigInt(ref.version) !== o.version) {
			throw new UserInputError(
				`Object ID ${id} Version ${ref.version} Digest ${ref.digest} is not available for consumption, current version: ${o.version}`,
				'ObjectVersionUnavailableForConsumption',
			);
		}
		if (ref.digest !== o.digest) {
			throw new UserInputError(
				`Invalid Object digest for object ${id} (${what}). Expected digest : ${o.digest}`,
				'InvalidObjectDigest',
			);
		}
		return o;
	}

	#run(p, { mockGas, checks }) {
		const epoch = this.epoch;
		// Expiration.
		const exp = p.expiration ?? { None: true };
		if (exp.Epoch != null && epoch > BigInt(exp.Epoch)) throw new UserInputError('Transaction Expired', 'TransactionExpired');
		const vd = exp.ValidDuring ?? exp.Validity;
		if (vd) {
			if (vd.minEpoch != null && epoch < BigInt(vd.minEpoch))
				throw new UserInputError(`Transaction is not valid before epoch ${vd.minEpoch}`, 'TransactionExpired');
			if (vd.maxEpoch != null && epoch > BigInt(vd.maxEpoch)) throw new UserInputError('Transaction Expired', 'TransactionExpired');
			if (vd.chain && vd.chain !== this.chainIdentifier)
				throw new UserInputError(`Transaction chain identifier ${vd.chain} does not match ${this.chainIdentifier}`, 'InvalidChainId');
		}
		// Gas price & budget.
		const { price, budget } = p.gas;
		if (price < this.rgp)
			throw new UserInputError(`Gas price ${price} under reference gas price (RGP) ${this.rgp}`, 'GasPriceUnderRGP');
		if (price > MAX_GAS_PRICE) throw new UserInputError(`Gas price ${price} is higher than max: ${MAX_GAS_PRICE}`, 'GasPriceTooHigh');
		if (budget > MAX_GAS_BUDGET)
			throw new UserInputError(`Gas budget: ${budget} is higher than max: ${MAX_GAS_BUDGET}.`, 'GasBudgetTooHigh');
		const minBudget = MIN_GAS_UNITS * price;
		if (budget < minBudget) throw new UserInputError(`Gas budget: ${budget} is lower than min: ${minBudget}.`, 'GasBudgetTooLow');

		const ws = new Map(); // id -> working copy
		const originals = new Map(); // id -> object before the tx
		const load = (o) => {
			if (!ws.has(o.id)) {
				originals.set(o.id, o);
				ws.set(o.id, cloneObj(o));
			}
			return ws.get(o.id);
		};

		// Gas coins.
		const gasIds = [];
		let mockGasObj = null;
		// Sui's protocol config: max_gas_payment_objects = 256 (a UserInputError before execution).
		if (p.gas.payment.length > 256)
			throw new UserInputError(
				`Size limit exceeded: maximum number of gas payment objects is 256 but ${p.gas.payment.length} was given`,
				'SizeLimitExceeded',
			);
		if (p.gas.payment.length === 0) {
			if (!mockGas)
				throw new UserInputError(
					'Missing gas payment: gas from an address balance is not supported by this network',
					'MissingGasPayment',
				);
			mockGasObj = {
				id: ZERO_ADDRESS,
				kind: 'coin',
				type: GAS_COIN_TYPE,
				version: 0n,
				owner: { kind: 'address', address: p.gas.owner },
				fields: { id: ZERO_ADDRESS, balance: budget + 1_000_000_000_000_000_000n }, // like Sui's dummy gas coin
				previousTransaction: this.genesisTxDigest,
				storageRebate: 0n,
				mock: true,
			};
			mockGasObj.initialBalance = mockGasObj.fields.balance;
			ws.set(ZERO_ADDRESS, mockGasObj);
			gasIds.push(ZERO_ADDRESS);
		} else {
			let total = 0n;
			for (const ref of p.gas.payment) {
				if (gasIds.includes(ref.objectId))
					throw new UserInputError(
						`Mutable object ${ref.objectId} cannot appear more than one in one transaction.`,
						'MutableObjectUsedMoreThanOnce',
					);
				const o = this.#checkOwnedRef(ref, 'gas');
				if (o.owner.kind !== 'address')
					throw new UserInputError(`Gas object ${o.id} is not an owned object with owner: ${o.owner.kind}`, 'GasObjectNotOwnedObject');
				if (o.owner.address !== p.gas.owner)
					throw new UserInputError(
						`Invalid user signature: Object ${o.id} is owned by account address ${o.owner.address}, but given owner/signer address is ${p.gas.owner}`,
						'IncorrectUserSignature',
					);
				if (o.kind !== 'coin') throw new UserInputError(`Gas object ${o.id} is not a gas coin`, 'InvalidGasObject');
				total += o.fields.balance;
				gasIds.push(o.id);
				load(o);
			}
			if (checks && total < budget)
				throw new UserInputError(
					`Balance of gas object ${total} is lower than the needed amount: ${budget}`,
					'GasBalanceTooLow',
				);
		}

		// Inputs.
		const inputs = p.inputs.map((arg) => {
			if (arg.Pure) return { kind: 'pure', bytes: fromBase64(arg.Pure.bytes) };
			const obj = arg.Object;
			if (obj?.ImmOrOwnedObject) {
				const ref = obj.ImmOrOwnedObject;
				const id = normalizeSuiAddress(ref.objectId);
				if (gasIds.includes(id) || ws.has(id))
					throw new UserInputError(`Mutable object ${id} cannot appear more than one in one transaction.`, 'MutableObjectUsedMoreThanOnce');
				const o = this.#checkOwnedRef(ref, 'input');
				if (o.owner.kind === 'shared')
					throw new UserInputError(`Object ${id} is a shared object and must be passed as a shared input`, 'NotOwnedObjectError');
				if (o.owner.kind === 'address' && o.owner.address !== p.sender)
					throw new UserInputError(
						`Invalid user signature: Object ${id} is owned by account address ${o.owner.address}, but given owner/signer address is ${p.sender}`,
						'IncorrectUserSignature',
					);
				if (o.kind === 'package') return { kind: 'package', id };
				load(o);
				return { kind: 'object', id, owned: o.owner.kind === 'address', immutable: o.owner.kind === 'immutable', mutable: o.owner.kind === 'address' };
			}
			if (obj?.SharedObject) {
				const s = obj.SharedObject;
				const id = normalizeSuiAddress(s.objectId);
				if (gasIds.includes(id) || ws.has(id))
					throw new UserInputError(`Mutable object ${id} cannot appear more than one in one transaction.`, 'MutableObjectUsedMoreThanOnce');
				const o = this.objects.get(id);
				if (!o) {
					if (this.deleted.has(id)) throw new UserInputError(`Shared object ${id} has been deleted`, 'InputObjectDeleted');
					throw new UserInputError(`Could not find the referenced object ${id} as a shared object`, 'ObjectNotFound');
				}
				if (o.owner.kind !== 'shared')
					throw new UserInputError(`Object ${id} is not a shared object (owner: ${o.owner.kind})`, 'NotSharedObjectError');
				if (BigInt(s.initialSharedVersion) !== o.owner.isv)
					throw new UserInputError(
						`Attempt to use shared object ${id} with wrong initial shared version ${s.initialSharedVersion} (expected ${o.owner.isv})`,
						'SharedObjectStartingVersionMismatch',
					);
				load(o);
				return { kind: 'object', id, shared: true, mutable: !!s.mutable };
			}
			if (obj?.Receiving) throw new UserInputError('Receiving inputs are not supported by this network', 'UnsupportedFeature');
			if (arg.FundsWithdrawal) throw new UserInputError('Funds withdrawals are not supported by this network', 'UnsupportedFeature');
			throw new UserInputError(`Unsupported input ${JSON.stringify(arg)}`, 'UnsupportedFeature');
		});

		// Packages referenced by Move calls must exist.
		for (const c of p.commands) {
			if (!c.MoveCall) continue;
			const pkg = normalizeSuiAddress(c.MoveCall.package);
			if (pkg !== this.packageId && pkg !== SUI_FRAMEWORK && pkg !== MOVE_STDLIB && !this.enclavePackages.has(pkg))
				throw new UserInputError(`Dependent package not found on-chain: ${pkg}`, 'DependentPackageNotFound');
		}
		if (p.commands.length === 0) throw new UserInputError('ProgrammableTransaction must have at least one command', 'EmptyCommandInput');

		// Lamport version.
		let maxV = 0n;
		for (const o of originals.values()) if (o.version > maxV) maxV = o.version;
		const lamport = maxV + 1n;

		// Reserve the budget: the PTB sees the gas coin minus the budget (like Sui).
		const primaryGasId = gasIds[0];
		const gasTotal = gasIds.reduce((s, id) => s + ws.get(id).fields.balance, 0n);
		const snapshotWs = () => new Map([...ws].map(([k, v]) => [k, cloneObj(v)]));
		const initialWs = snapshotWs();

		const run = new PtbRun(this, p, ws, inputs, primaryGasId, lamport);
		// Smash gas coins into the first one, reserve the budget.
		ws.get(primaryGasId).fields.balance = gasTotal - budget;
		for (const id of gasIds.slice(1)) run.deletedIds.add(id);

		let failure = null;
		try {
			run.execute();
		} catch (e) {
			if (!(e instanceof ExecFailure)) throw e;
			failure = e;
		}

		const computationCost = MIN_GAS_UNITS * price;
		const settle = (failed) => {
			if (failed) {
				// Revert everything but the gas smash/reservation; mutable inputs still get bumped.
				for (const [k, v] of initialWs) ws.set(k, cloneObj(v));
				for (const k of [...ws.keys()]) if (!initialWs.has(k)) ws.delete(k);
				ws.get(primaryGasId).fields.balance = gasTotal - budget;
				run.resetForFailure(gasIds.slice(1));
			}
			return this.#computeChanges(p, ws, originals, run, inputs, gasIds, lamport, computationCost);
		};
		let outcome = settle(!!failure);
		const net = outcome.gasUsed.computationCost + outcome.gasUsed.storageCost - outcome.gasUsed.storageRebate;
		if (net > budget && !failure) {
			failure = new ExecFailure({ kind: 'InsufficientGas' }, null);
			outcome = settle(true);
		}
		// Charge gas.
		const g = outcome.gasUsed;
		let charge = g.computationCost + g.storageCost - g.storageRebate;
		if (charge > budget) charge = budget;
		const gasObj = ws.get(primaryGasId);
		gasObj.fields.balance = gasObj.fields.balance + budget - charge;

		return this.#buildRecord(p, { ws, originals, run, inputs, gasIds, lamport, failure, outcome, mockGasObj, epoch });
	}

	#computeChanges(p, ws, originals, run, inputs, gasIds, lamport, computationCost) {
		// Which ids are written / deleted / created.
		const changes = new Map(); // id -> { input, output(obj|null), idOp }
		const mark = (id, idOp) => {
			if (id === ZERO_ADDRESS) return;
			changes.set(id, { id, idOp });
		};
		for (const id of gasIds) mark(id, 'None');
		inputs.forEach((inp) => {
			if (inp.kind === 'object' && (inp.owned || (inp.shared && inp.mutable))) mark(inp.id, 'None');
		});
		for (const id of run.createdIds) if (ws.has(id)) mark(id, 'Created');
		let storageCost = 0n;
		let storageRebate = 0n;
		let nonRefundable = 0n;
		for (const c of changes.values()) {
			const before = originals.get(c.id) ?? null;
			const deleted = run.deletedIds.has(c.id) || !ws.has(c.id);
			if (deleted && !before) {
				changes.delete(c.id); // created and destroyed within the transaction
				continue;
			}
			c.input = before;
			if (before) {
				const reb = (before.storageRebate * 99n) / 100n;
				storageRebate += reb;
				nonRefundable += before.storageRebate - reb;
			}
			if (deleted) {
				c.output = null;
				c.idOp = 'Deleted';
				continue;
			}
			const out = cloneObj(ws.get(c.id));
			out.version = lamport;
			out.previousTransaction = p.digest;
			if (out.owner.kind === 'pending-shared') out.owner = { kind: 'shared', isv: lamport };
			sealObject(out);
			storageCost += out.storageRebate;
			c.output = out;
		}
		return {
			changes: [...changes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
			gasUsed: { computationCost, storageCost, storageRebate, nonRefundableStorageFee: nonRefundable },
		};
	}

	#buildRecord(p, { ws, originals, run, inputs, gasIds, lamport, failure, outcome, mockGasObj, epoch }) {
		const primaryGasId = gasIds[0];
		// Re-seal the gas coin with its final balance.
		const changes = outcome.changes.map((c) => {
			if (c.id === primaryGasId && c.output) {
				const out = cloneObj(ws.get(primaryGasId));
				out.version = lamport;
				out.previousTransaction = p.digest;
				sealObject(out);
				return { ...c, output: out };
			}
			return c;
		});
		const events = failure ? [] : run.events;
		const eventBcsList = events.map((e) =>
			M.EventBcs.serialize({
				packageId: e.packageId,
				transactionModule: e.module,
				sender: p.sender,
				type: { address: e.packageId, module: e.module, name: e.name, typeParams: [] },
				contents: e.contents,
			}).toBytes(),
		);
		const eventsDigest = events.length
			? toBase58(typedDigest('TransactionEvents', bcs.vector(M.EventBcs).serialize(
				events.map((e) => ({
					packageId: e.packageId,
					transactionModule: e.module,
					sender: p.sender,
					type: { address: e.packageId, module: e.module, name: e.name, typeParams: [] },
					contents: e.contents,
				})),
			).toBytes()))
			: null;

		const unchangedShared = [];
		const sharedInputs = [];
		inputs.forEach((inp) => {
			if (inp.kind !== 'object' || !inp.shared) return;
			const before = originals.get(inp.id);
			sharedInputs.push({ id: inp.id, version: before.version, digest: before.digest, mutable: inp.mutable });
			if (!inp.mutable) unchangedShared.push({ id: inp.id, version: before.version, digest: before.digest });
		});
		const deps = new Set();
		for (const o of originals.values()) if (o.previousTransaction && o.previousTransaction !== p.digest) deps.add(o.previousTransaction);

		const gasIndex = mockGasObj ? null : changes.findIndex((c) => c.id === primaryGasId);
		const status = failure
			? { Failure: { error: failureToBcs(failure.error), command: failure.command ?? null } }
			: { Success: true };
		const effectsBcs = bcs.TransactionEffects.serialize({
			V2: {
				status,
				executedEpoch: epoch,
				gasUsed: outcome.gasUsed,
				transactionDigest: p.digest,
				gasObjectIndex: gasIndex,
				eventsDigest,
				dependencies: [...deps],
				lamportVersion: lamport,
				changedObjects: changes.map((c) => [
					c.id,
					{
						inputState: c.input ? { Exist: [[c.input.version, c.input.digest], ownerBcs(c.input.owner)] } : { NotExist: true },
						outputState: c.output ? { ObjectWrite: [c.output.digest, ownerBcs(c.output.owner)] } : { NotExist: true },
						idOperation: { [c.idOp]: true },
					},
				]),
				unchangedConsensusObjects: unchangedShared.map((u) => [u.id, { ReadOnlyRoot: [u.version, u.digest] }]),
				auxDataDigest: null,
			},
		}).toBytes();

		// Balance changes (coin objects only).
		const deltas = new Map();
		const add = (o, sign) => {
			if (!o || o.kind !== 'coin' || o.owner.kind !== 'address') return;
			const k = o.owner.address;
			deltas.set(k, (deltas.get(k) ?? 0n) + sign * o.fields.balance);
		};
		for (const c of changes) {
			add(c.input, -1n);
			add(c.output, 1n);
		}
		if (mockGasObj) {
			// Mocked gas coin: its balance change is the sender's (split-offs and gas alike).
			const d = ws.get(ZERO_ADDRESS).fields.balance - mockGasObj.initialBalance;
			deltas.set(p.gas.owner, (deltas.get(p.gas.owner) ?? 0n) + d);
		}
		const balanceChanges = [...deltas]
			.filter(([, v]) => v !== 0n)
			.map(([owner, amount]) => ({ owner, coinType: SUI_COIN_TYPE, amount }));

		const rec = {
			digest: p.digest,
			bytes: p.bytes,
			parsed: p,
			sender: p.sender,
			gasOwner: p.gas.owner,
			gasPrice: p.gas.price,
			gasBudget: p.gas.budget,
			gasPayment: p.gas.payment,
			status: failure ? 'failure' : 'success',
			failure: failure ? { error: failure.error, command: failure.command ?? null } : null,
			errorDebug: failure ? failureDebug(failure.error, failure.command) : null,
			errorMessage: failure ? failureMessage(failure.error, failure.command) : null,
			gasUsed: outcome.gasUsed,
			executedEpoch: epoch,
			lamportVersion: lamport,
			changes,
			gasObjectId: mockGasObj ? null : primaryGasId,
			gasObject: mockGasObj ? null : changes[gasIndex]?.output ?? null,
			sharedInputs,
			unchangedShared,
			dependencies: [...deps],
			events: events.map((e, i) => ({
				txDigest: p.digest,
				eventSeq: i,
				sender: p.sender,
				packageId: e.packageId,
				module: e.module,
				name: e.name,
				type: `${e.packageId}::${e.module}::${e.name}`,
				json: e.json,
				contents: e.contents,
				eventBcs: eventBcsList[i],
				timestampMs: null,
				checkpoint: null,
			})),
			eventsDigest,
			effectsBcs,
			effectsDigest: toBase58(typedDigest('TransactionEffects', effectsBcs)),
			balanceChanges,
			moveCalls: p.commands
				.filter((c) => c.MoveCall)
				.map((c) => `${normalizeSuiAddress(c.MoveCall.package)}::${c.MoveCall.module}::${c.MoveCall.function}`),
			returnValues: run.returnValuesForInspect(),
			checkpoint: null,
			timestampMs: null,
			signatures: [],
			simulated: false,
		};
		return rec;
	}

	#commit(rec) {
		for (const c of rec.changes) {
			if (c.output) {
				this.#store(c.output);
				this.deleted.delete(c.id);
			} else {
				this.objects.delete(c.id);
				this.deleted.set(c.id, { version: rec.lamportVersion, digest: DELETED_DIGEST });
			}
		}
		const now = Date.now();
		const prev = this.latestCheckpoint;
		const cp = {
			seq: prev.seq + 1,
			digest: toBase58(randomDigestBytes()),
			prev: prev.digest,
			epoch: this.epoch,
			timestampMs: Math.max(now, prev.timestampMs),
			txs: [rec.digest],
			networkTotalTransactions: prev.networkTotalTransactions + 1,
		};
		this.checkpoints.push(cp);
		rec.checkpoint = cp.seq;
		rec.timestampMs = cp.timestampMs;
		const ep = this.epochs.get(this.epoch);
		if (ep) ep.txCount++;
		for (const e of rec.events) {
			e.timestampMs = cp.timestampMs;
			e.checkpoint = cp.seq;
			e.globalSeq = this.events.length;
			this.events.push(e);
		}
		rec.txSeq = this.txOrder.length;
		this.txs.set(rec.digest, rec);
		this.txOrder.push(rec.digest);
	}

	// ---- epochs ----------------------------------------------------------------------

	advanceEpoch(n = 1) {
		const now = Date.now();
		for (let i = 0; i < n; i++) {
			const cur = this.epochs.get(this.epoch);
			if (cur) cur.endMs = now;
			this.epoch += 1n;
			this.epochs.set(this.epoch, { startMs: now, endMs: null, rgp: this.rgp, txCount: 0 });
			const prev = this.latestCheckpoint;
			this.checkpoints.push({
				seq: prev.seq + 1,
				digest: toBase58(randomDigestBytes()),
				prev: prev.digest,
				epoch: this.epoch,
				timestampMs: Math.max(now, prev.timestampMs),
				txs: [],
				networkTotalTransactions: prev.networkTotalTransactions,
			});
		}
		log(`advanced to epoch ${this.epoch}`);
		return this.epoch;
	}

	// ---- resolution of partially specified transactions (GraphQL simulateTransaction) -----

	/**
	 * Turns a gRPC-JSON Transaction (possibly with unresolved inputs, gas price, budget or payment)
	 * into TransactionData bytes, like Sui's simulateTransaction resolution does.
	 * Returns { bytes, estimateFailure } where estimateFailure is a failed simulation record when the
	 * budget estimate already failed.
	 */
	resolveGrpcJson(json, { doGasSelection = false, checks = true } = {}) {
		let g;
		try {
			g = GrpcTypes.Transaction.fromJson(json, { ignoreUnknownFields: true });
		} catch (e) {
			throw new UserInputError(`Invalid transaction JSON: ${e.message}`, 'InvalidTransaction');
		}
		if (g.bcs?.value?.length) return { bytes: g.bcs.value, estimateFailure: null };
		const data = g.kind?.data;
		if (data?.oneofKind !== 'programmableTransaction')
			throw new UserInputError('Only programmable transactions can be simulated', 'UnsupportedFeature');
		const rawInputs = json?.kind?.programmableTransaction?.inputs ?? [];
		const K = GrpcTypes.Argument_ArgumentKind;
		const argOf = (a) => {
			if (!a) throw new UserInputError('Missing command argument', 'InvalidTransaction');
			if (a.kind === K.GAS) return { GasCoin: true };
			if (a.kind === K.INPUT) return { Input: a.input ?? 0 };
			if (a.kind === K.RESULT)
				return a.subresult != null ? { NestedResult: [a.result ?? 0, a.subresult] } : { Result: a.result ?? 0 };
			throw new UserInputError(`Unknown argument kind ${a.kind}`, 'InvalidTransaction');
		};
		const commands = data.programmableTransaction.commands.map((c) => {
			const k = c.command;
			switch (k?.oneofKind) {
				case 'moveCall':
					return {
						MoveCall: {
							package: addr(k.moveCall.package ?? ''),
							module: k.moveCall.module ?? '',
							function: k.moveCall.function ?? '',
							typeArguments: k.moveCall.typeArguments ?? [],
							arguments: k.moveCall.arguments.map(argOf),
						},
					};
				case 'splitCoins':
					return { SplitCoins: { coin: argOf(k.splitCoins.coin), amounts: k.splitCoins.amounts.map(argOf) } };
				case 'mergeCoins':
					return { MergeCoins: { destination: argOf(k.mergeCoins.coin), sources: k.mergeCoins.coinsToMerge.map(argOf) } };
				case 'transferObjects':
					return { TransferObjects: { objects: k.transferObjects.objects.map(argOf), address: argOf(k.transferObjects.address) } };
				case 'makeMoveVector':
					return { MakeMoveVec: { type: k.makeMoveVector.elementType ?? null, elements: k.makeMoveVector.elements.map(argOf) } };
				default:
					throw new UserInputError(`Unsupported command ${k?.oneofKind}`, 'UnsupportedFeature');
			}
		});
		// How each input is used: to infer pure types and shared-object mutability.
		const uses = new Map();
		const use = (arg, u) => {
			if (arg.Input == null) return;
			if (!uses.has(arg.Input)) uses.set(arg.Input, []);
			uses.get(arg.Input).push(u);
		};
		for (const c of commands) {
			if (c.SplitCoins) {
				use(c.SplitCoins.coin, { ref: '&mut' });
				c.SplitCoins.amounts.forEach((a) => use(a, { type: 'u64', ref: null }));
			} else if (c.MergeCoins) {
				use(c.MergeCoins.destination, { ref: '&mut' });
				c.MergeCoins.sources.forEach((a) => use(a, { ref: null }));
			} else if (c.TransferObjects) {
				c.TransferObjects.objects.forEach((a) => use(a, { ref: null }));
				use(c.TransferObjects.address, { type: 'address', ref: null });
			} else if (c.MoveCall) {
				const fn = normalizeSuiAddress(c.MoveCall.package) === this.packageId && c.MoveCall.module === M.MODULE
					? M.FUNCTIONS[c.MoveCall.function]
					: null;
				c.MoveCall.arguments.forEach((a, i) => use(a, fn?.params[i] ?? { ref: '&mut' }));
			} else if (c.MakeMoveVec) {
				c.MakeMoveVec.elements.forEach((a) => use(a, { ref: null }));
			}
		}
		const IK = GrpcTypes.Input_InputKind;
		const inputs = data.programmableTransaction.inputs.map((inp, i) => {
			const u = uses.get(i) ?? [];
			const inferredMutable = u.length === 0 || u.some((x) => x.ref !== '&');
			const explicitMutable =
				inp.mutable != null ? inp.mutable : inp.mutability === 2 ? true : inp.mutability === 1 ? false : null;
			switch (inp.kind ?? 0) {
				case IK.PURE:
					return { Pure: { bytes: toBase64(inp.pure ?? new Uint8Array()) } };
				case IK.IMMUTABLE_OR_OWNED: {
					const o = this.#lookupForResolve(inp.objectId);
					return {
						Object: {
							ImmOrOwnedObject: {
								objectId: o.id,
								version: String(inp.version ?? o.version),
								digest: inp.digest ?? o.digest,
							},
						},
					};
				}
				case IK.SHARED: {
					const id = addr(inp.objectId ?? '');
					const o = this.objects.get(id);
					const isv = inp.version ?? (o?.owner.kind === 'shared' ? o.owner.isv : null);
					if (isv == null) throw new UserInputError(`Object ${id} is not a shared object`, 'NotSharedObjectError');
					return {
						Object: {
							SharedObject: { objectId: id, initialSharedVersion: String(isv), mutable: explicitMutable ?? inferredMutable },
						},
					};
				}
				case IK.RECEIVING: {
					const o = this.#lookupForResolve(inp.objectId);
					return {
						Object: {
							Receiving: { objectId: o.id, version: String(inp.version ?? o.version), digest: inp.digest ?? o.digest },
						},
					};
				}
				case IK.FUNDS_WITHDRAWAL:
					throw new UserInputError('Funds withdrawals are not supported by this network', 'UnsupportedFeature');
				default: {
					if (inp.objectId) {
						const o = this.#lookupForResolve(inp.objectId);
						if (o.owner.kind === 'shared') {
							return {
								Object: {
									SharedObject: {
										objectId: o.id,
										initialSharedVersion: String(inp.version ?? o.owner.isv),
										mutable: explicitMutable ?? inferredMutable,
									},
								},
							};
						}
						return {
							Object: {
								ImmOrOwnedObject: {
									objectId: o.id,
									version: String(inp.version ?? o.version),
									digest: inp.digest ?? o.digest,
								},
							},
						};
					}
					const raw = rawInputs[i]?.literal;
					if (raw !== undefined) {
						const t = u.find((x) => x.type)?.type;
						if (!t) throw new UserInputError(`Cannot infer the type of literal input ${i}`, 'InvalidTransaction');
						try {
							return { Pure: { bytes: toBase64(encodePure(raw, t)) } };
						} catch (e) {
							throw new UserInputError(`Invalid literal for input ${i}: ${e.message}`, 'InvalidTransaction');
						}
					}
					throw new UserInputError(`Input ${i} is neither resolved nor resolvable`, 'InvalidTransaction');
				}
			}
		});
		const sender = g.sender ? addr(g.sender) : ZERO_ADDRESS;
		const owner = g.gasPayment?.owner ? addr(g.gasPayment.owner) : sender;
		const price = g.gasPayment?.price ?? this.rgp;
		let payment = (g.gasPayment?.objects ?? []).map((r) => {
			const o = this.#lookupForResolve(r.objectId);
			return { objectId: o.id, version: String(r.version ?? o.version), digest: r.digest ?? o.digest };
		});
		let expiration = { None: true };
		const ex = g.expiration;
		const EK = GrpcTypes.TransactionExpiration_TransactionExpirationKind;
		if (ex && EK) {
			if (ex.kind === EK.EPOCH) expiration = { Epoch: String(ex.epoch ?? 0n) };
			else if (ex.kind === EK.VALID_DURING || ex.kind === EK.VALIDITY)
				expiration = {
					ValidDuring: {
						minEpoch: ex.minEpoch != null ? String(ex.minEpoch) : null,
						maxEpoch: ex.epoch != null ? String(ex.epoch) : null,
						minTimestamp: null,
						maxTimestamp: null,
						chain: ex.chain ?? this.chainIdentifier,
						nonce: ex.nonce ?? 0,
					},
				};
		}
		const build = (budget, pay) =>
			TransactionDataBuilder.restore({
				version: 2,
				sender,
				expiration,
				gasData: { budget: String(budget), price: String(price), owner, payment: pay },
				inputs,
				commands,
			}).build();

		let budget = g.gasPayment?.budget ?? null;
		if (budget == null) {
			const est = this.simulate(build(MAX_GAS_BUDGET, []), { checks });
			if (est.status !== 'success') {
				return { bytes: build(MAX_GAS_BUDGET, payment), estimateFailure: est };
			}
			const overhead = 1000n * BigInt(price);
			const base = est.gasUsed.computationCost + overhead;
			const b = base + est.gasUsed.storageCost - est.gasUsed.storageRebate;
			budget = b > base ? b : base;
		}
		if (doGasSelection && payment.length === 0) {
			let extra = 0n;
			for (const c of commands) {
				if (!c.SplitCoins || c.SplitCoins.coin.GasCoin == null) continue;
				for (const a of c.SplitCoins.amounts) {
					const inp = a.Input != null ? inputs[a.Input] : null;
					if (inp?.Pure) {
						const v = decodePure(fromBase64(inp.Pure.bytes), 'u64');
						if (v != null) extra += v;
					}
				}
			}
			const used = new Set(inputs.filter((x) => x.Object?.ImmOrOwnedObject).map((x) => x.Object.ImmOrOwnedObject.objectId));
			const coins = this.coinsOf(owner)
				.filter((c) => !used.has(c.id))
				.sort((a, b) => (b.fields.balance > a.fields.balance ? 1 : b.fields.balance < a.fields.balance ? -1 : 0));
			const need = BigInt(budget) + extra;
			let sum = 0n;
			for (const c of coins) {
				if (sum >= need || payment.length >= 256) break;
				payment.push({ objectId: c.id, version: String(c.version), digest: c.digest });
				sum += c.fields.balance;
			}
			if (sum < need) {
				throw new UserInputError(
					`Unable to perform gas selection due to insufficient SUI balance for account ${owner} to satisfy required budget ${need} (available: ${sum})`,
					'InsufficientGasBalance',
				);
			}
		}
		return { bytes: build(budget, payment), estimateFailure: null };
	}

	#lookupForResolve(objectId) {
		const id = addr(objectId ?? '');
		const o = this.objects.get(id);
		if (!o) throw new UserInputError(`Could not find the referenced object ${id}`, 'ObjectNotFound');
		return o;
	}

	// ---- admin-originated transactions -----------------------------------------------

	#withAdminLock(fn) {
		const next = this.adminLock.then(fn, fn);
		this.adminLock = next.catch(() => {});
		return next;
	}

	#largestCoin(owner) {
		const coins = this.coinsOf(owner);
		if (!coins.length) throw new Error(`no gas coins for ${owner}`);
		return coins.reduce((a, b) => (b.fields.balance > a.fields.balance ? b : a));
	}

	/** Builds, signs (with `key`, sender = its address, largest coin as gas) and executes a transaction. */
	async #signedCall(key, build) {
		const sender = key.toSuiAddress();
		const gas = this.#largestCoin(sender);
		const tx = new Transaction();
		tx.setSender(sender);
		tx.setGasPrice(this.rgp);
		tx.setGasBudget(500_000_000n); // a faucet split into 200 coins needs more than 0.05 SUI
		tx.setGasPayment([{ objectId: gas.id, version: String(gas.version), digest: gas.digest }]);
		build(tx);
		const bytes = await tx.build();
		const { signature } = await key.signTransaction(bytes);
		const { record } = await this.execute(bytes, [signature]);
		return record;
	}

	/** Funds `address` with `coins` new coins of `amount` MIST each (a real faucet transaction). */
	fund(address, amount, coins = 1) {
		const to = addr(address);
		const amt = toBigInt(amount, 'amount_mist');
		const n = Number(coins);
		if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error('coins must be an integer in 1..200');
		if (amt <= 0n) throw new Error('amount_mist must be positive');
		return this.#withAdminLock(async () => {
			const record = await this.#signedCall(this.faucetKey, (tx) => {
				const split = tx.splitCoins(tx.gas, Array.from({ length: n }, () => amt));
				tx.transferObjects(Array.from({ length: n }, (_, i) => split[i]), to);
			});
			if (record.status !== 'success') throw new Error(`faucet transaction failed: ${record.errorDebug}`);
			const created = record.changes.filter((c) => c.idOp === 'Created' && c.output).map((c) => c.output);
			return { digest: record.digest, coins: created };
		});
	}

	/** Slashes a stake record through a real slash_stake transaction signed by the pool admin. */
	slash({ recordId, nodeId, amount, all, reason }) {
		return this.#withAdminLock(async () => {
			const rec = this.findRecord({ recordId: recordId ? addr(recordId) : null, nodeId });
			if (!rec) throw new Error(`stake record not found (${recordId ?? nodeId})`);
			const amt = all ? rec.fields.amount : toBigInt(amount, 'amount_mist');
			const pool = this.objects.get(this.poolId);
			const record = await this.#signedCall(this.adminKey, (tx) =>
				tx.moveCall({
					target: `${this.packageId}::${M.MODULE}::slash_stake`,
					arguments: [
						this.#shared(tx, pool, true),
						this.#shared(tx, rec, true),
						tx.pure.u64(amt),
						tx.pure.string(reason ?? 'slashed by admin'),
					],
				}),
			);
			return { record, stakeRecord: this.objects.get(rec.id) };
		});
	}

	/**
	 * Slashes several stake records in ONE transaction signed by the pool admin: one
	 * `slash_stake` MoveCall per record in the same programmable transaction (benchmarks: a batch
	 * of nodes slashed at the same instant). `targets` = [{recordId | nodeId}], each slashed
	 * entirely (`all`) or by `amount`.
	 */
	slashMany({ targets, amount, all, reason }) {
		return this.#withAdminLock(async () => {
			if (!Array.isArray(targets) || targets.length < 1 || targets.length > 500) throw new UserInputError('targets: expected 1..500 records');
			const recs = targets.map((t) => {
				const rec = this.findRecord({ recordId: t.recordId ? addr(t.recordId) : null, nodeId: t.nodeId });
				if (!rec) throw new UserInputError(`stake record not found (${t.recordId ?? t.nodeId})`);
				return rec;
			});
			if (new Set(recs.map((r) => r.id)).size !== recs.length) throw new UserInputError('targets: a record is named twice');
			const pool = this.objects.get(this.poolId);
			const record = await this.#signedCall(this.adminKey, (tx) => {
				const poolArg = this.#shared(tx, pool, true);
				for (const rec of recs) {
					tx.moveCall({
						target: `${this.packageId}::${M.MODULE}::slash_stake`,
						arguments: [poolArg, this.#shared(tx, rec, true), tx.pure.u64(all ? rec.fields.amount : toBigInt(amount, 'amount_mist')), tx.pure.string(reason ?? 'slashed by admin')],
					});
				}
			});
			return { record, stakeRecords: recs.map((r) => this.objects.get(r.id)) };
		});
	}

	// ---- Nautilus enclave objects (admin-signed transactions into an enclave package) -----

	/** "Publishes" a package with an `enclave` module (immutable, version 1; no publish transaction). */
	publishEnclavePackage() {
		const id = randomAddress();
		this.#store({
			id,
			kind: 'package',
			type: 'package',
			version: 1n,
			owner: { kind: 'immutable' },
			fields: {},
			previousTransaction: toBase58(randomDigestBytes()),
			storageRebate: 0n,
			digest: toBase58(randomDigestBytes()),
			enclave: true,
		});
		this.enclavePackages.add(id);
		return id;
	}

	#adminCall(build) {
		return this.#withAdminLock(() => this.#signedCall(this.adminKey, build));
	}

	#enclaveObject(id, kind) {
		const o = this.getObject(addr(id));
		if (!o || o.kind !== kind) throw new UserInputError(`${kind.replace('_', ' ')} object not found: ${id}`);
		return o;
	}

	static appTypeOf(o) {
		return o.type.slice(o.type.indexOf('<') + 1, -1);
	}

	#shared(tx, o, mutable) {
		return tx.sharedObjectRef({ objectId: o.id, initialSharedVersion: String(o.owner.isv), mutable });
	}

	createEnclaveConfig({ packageId, name, pcrs, appType }) {
		const pkg = addr(packageId);
		if (!this.enclavePackages.has(pkg)) throw new UserInputError(`not an enclave package: ${packageId}`);
		const t = normalizeStructTag(appType);
		return this.#adminCall((tx) =>
			tx.moveCall({
				target: `${pkg}::${M.ENCLAVE_MODULE}::create_enclave_config`,
				typeArguments: [t],
				arguments: [tx.pure.string(name), ...pcrs.map((p) => tx.pure.vector('u8', p))],
			}),
		);
	}

	updateEnclavePcrs({ configId, pcrs }) {
		const cfg = this.#enclaveObject(configId, 'enclave_config');
		const cap = this.#enclaveObject(cfg.fields.capability_id, 'enclave_cap');
		const pkg = cfg.type.split('::')[0];
		return this.#adminCall((tx) =>
			tx.moveCall({
				target: `${pkg}::${M.ENCLAVE_MODULE}::update_pcrs`,
				typeArguments: [Chain.appTypeOf(cfg)],
				arguments: [
					this.#shared(tx, cfg, true),
					tx.objectRef({ objectId: cap.id, version: String(cap.version), digest: cap.digest }),
					...pcrs.map((p) => tx.pure.vector('u8', p)),
				],
			}),
		);
	}

	registerEnclave({ configId, pcrs, pk }) {
		const cfg = this.#enclaveObject(configId, 'enclave_config');
		const pkg = cfg.type.split('::')[0];
		const docPcrs = pcrs ?? [cfg.fields.pcrs.pos0, cfg.fields.pcrs.pos1, cfg.fields.pcrs.pos2];
		return this.#adminCall((tx) =>
			tx.moveCall({
				target: `${pkg}::${M.ENCLAVE_MODULE}::register_enclave`,
				typeArguments: [Chain.appTypeOf(cfg)],
				arguments: [this.#shared(tx, cfg, false), ...docPcrs.map((p) => tx.pure.vector('u8', p)), tx.pure.vector('u8', pk)],
			}),
		);
	}

	destroyOldEnclave({ enclaveId, configId }) {
		const e = this.#enclaveObject(enclaveId, 'enclave');
		const pkg = e.type.split('::')[0];
		const cfg = configId
			? this.#enclaveObject(configId, 'enclave_config')
			: [...this.objects.values()].find((o) => o.kind === 'enclave_config' && o.type === M.enclaveType('enclave_config', pkg, Chain.appTypeOf(e)));
		if (!cfg) throw new UserInputError('enclave config not found');
		return this.#adminCall((tx) =>
			tx.moveCall({
				target: `${pkg}::${M.ENCLAVE_MODULE}::destroy_old_enclave`,
				typeArguments: [Chain.appTypeOf(e)],
				arguments: [this.#shared(tx, e, true), this.#shared(tx, cfg, false)],
			}),
		);
	}
}

// ------------------------------------------------------------------------------------------
// Programmable transaction execution.

class PtbRun {
	constructor(chain, p, ws, inputs, gasId, lamport) {
		this.chain = chain;
		this.p = p;
		this.ws = ws;
		this.inputs = inputs;
		this.gasId = gasId;
		this.lamport = lamport;
		this.results = [];
		this.events = [];
		this.createdIds = new Set();
		this.deletedIds = new Set();
		this.consumedInputs = new Set();
		this.creationNum = 0;
		this.cmd = 0;
	}

	resetForFailure(extraGasIds) {
		this.events = [];
		this.createdIds = new Set();
		this.deletedIds = new Set(extraGasIds);
	}

	returnValuesForInspect() {
		return this.results.map((vals) =>
			vals.map((v) => {
				if (v.t === 'obj') {
					const o = this.ws.get(v.id);
					return o ? { bytes: [...M.contentsBcs(o)], type: o.type } : null;
				}
				return null;
			}),
		);
	}

	fail(error) {
		throw new ExecFailure(error, this.cmd);
	}

	cae(argIdx, errKind, extra = {}) {
		this.fail({ kind: 'CommandArgumentError', argIdx, errKind, ...extra });
	}

	fresh(kind, fields, ownerAddress = null, type = null) {
		const id = deriveObjectId(this.p.digestBytes, this.creationNum++);
		const o = {
			id,
			kind,
			type: type ?? M.typeOfKind(kind, this.chain.packageId),
			version: 0n,
			owner: ownerAddress ? { kind: 'address', address: ownerAddress } : { kind: 'none' },
			fields: { id, ...fields },
			previousTransaction: this.p.digest,
			storageRebate: 0n,
		};
		if (kind === 'pool') {
			o.stakerMap = new Map();
			o.nodeMap = new Map();
		}
		this.ws.set(id, o);
		this.createdIds.add(id);
		return o;
	}

	destroy(id) {
		this.deletedIds.add(id);
		if (this.createdIds.has(id)) this.ws.delete(id);
	}

	/** Resolves an Argument to a "slot". */
	slot(arg, argIdx) {
		if (arg.GasCoin != null) return { src: 'gas' };
		if (arg.Input != null) {
			if (arg.Input >= this.inputs.length) this.cae(argIdx, 'IndexOutOfBounds', { idx: arg.Input });
			return { src: 'input', i: arg.Input, inp: this.inputs[arg.Input] };
		}
		if (arg.Result != null) {
			const r = this.results[arg.Result];
			if (!r) this.cae(argIdx, 'IndexOutOfBounds', { idx: arg.Result });
			if (r.length !== 1) this.cae(argIdx, 'InvalidResultArity', { idx: arg.Result });
			return { src: 'result', v: r[0] };
		}
		if (arg.NestedResult != null) {
			const [i, j] = arg.NestedResult;
			const r = this.results[i];
			if (!r) this.cae(argIdx, 'IndexOutOfBounds', { idx: i });
			if (j >= r.length) this.cae(argIdx, 'SecondaryIndexOutOfBounds', { idx: i, idx2: j });
			return { src: 'result', v: r[j] };
		}
		this.cae(argIdx, 'TypeMismatch');
	}

	/** Mutable borrow of an object of `kind` (or a coin); returns the working object. */
	borrowMut(arg, argIdx, kind) {
		const s = this.slot(arg, argIdx);
		if (s.src === 'gas') {
			if (kind !== 'coin') this.cae(argIdx, 'TypeMismatch');
			return this.ws.get(this.gasId);
		}
		if (s.src === 'input') {
			const inp = s.inp;
			if (inp.kind === 'pure') this.cae(argIdx, kind === 'coin' || kind === 'pool' || kind === 'record' ? 'InvalidUsageOfPureArg' : 'TypeMismatch');
			if (inp.kind !== 'object') this.cae(argIdx, 'TypeMismatch');
			if (this.consumedInputs.has(s.i)) this.cae(argIdx, 'ArgumentWithoutValue');
			const o = this.ws.get(inp.id);
			if (o.kind !== kind) this.cae(argIdx, 'TypeMismatch');
			if (inp.immutable || (inp.shared && !inp.mutable)) this.cae(argIdx, 'InvalidObjectByMutRef');
			return o;
		}
		const v = s.v;
		if (v.taken) this.cae(argIdx, 'ArgumentWithoutValue');
		if (v.t !== 'obj') this.cae(argIdx, 'TypeMismatch');
		const o = this.ws.get(v.id);
		if (!o || o.kind !== kind) this.cae(argIdx, 'TypeMismatch');
		return o;
	}

	/** Takes an object by value. `forTransfer` allows the gas coin. */
	take(arg, argIdx, kind, { forTransfer = false } = {}) {
		const s = this.slot(arg, argIdx);
		if (s.src === 'gas') {
			if (!forTransfer) this.cae(argIdx, 'InvalidGasCoinUsage');
			if (kind && kind !== 'coin') this.cae(argIdx, 'TypeMismatch');
			return { o: this.ws.get(this.gasId), gas: true };
		}
		if (s.src === 'input') {
			const inp = s.inp;
			if (inp.kind === 'pure') this.cae(argIdx, 'InvalidUsageOfPureArg');
			if (inp.kind !== 'object') this.cae(argIdx, 'TypeMismatch');
			if (this.consumedInputs.has(s.i)) this.cae(argIdx, 'ArgumentWithoutValue');
			const o = this.ws.get(inp.id);
			if (kind && o.kind !== kind) this.cae(argIdx, 'TypeMismatch');
			if (inp.immutable) this.cae(argIdx, 'InvalidObjectByValue');
			if (inp.shared) this.cae(argIdx, forTransfer ? 'InvalidObjectByValue' : 'SharedObjectOperationNotAllowed');
			this.consumedInputs.add(s.i);
			return { o };
		}
		const v = s.v;
		if (v.taken) this.cae(argIdx, 'ArgumentWithoutValue');
		if (v.t !== 'obj') this.cae(argIdx, 'TypeMismatch');
		const o = this.ws.get(v.id);
		if (!o || (kind && o.kind !== kind)) this.cae(argIdx, 'TypeMismatch');
		v.taken = true;
		return { o };
	}

	readPrim(arg, argIdx, type) {
		const s = this.slot(arg, argIdx);
		if (s.src === 'gas') this.cae(argIdx, 'TypeMismatch');
		if (s.src === 'input') {
			if (s.inp.kind !== 'pure') this.cae(argIdx, 'TypeMismatch');
			const v = decodePure(s.inp.bytes, type);
			if (v == null) this.cae(argIdx, 'InvalidBCSBytes');
			return v;
		}
		const v = s.v;
		if (v.t !== type) this.cae(argIdx, 'TypeMismatch');
		if (v.taken) this.cae(argIdx, 'ArgumentWithoutValue');
		if (type === 'string') v.taken = true; // String has copy, but be strict about moves
		return v.v;
	}

	execute() {
		const cmds = this.p.commands;
		for (this.cmd = 0; this.cmd < cmds.length; this.cmd++) {
			const c = cmds[this.cmd];
			let out;
			if (c.SplitCoins) out = this.splitCoins(c.SplitCoins);
			else if (c.MergeCoins) out = this.mergeCoins(c.MergeCoins);
			else if (c.TransferObjects) out = this.transferObjects(c.TransferObjects);
			else if (c.MoveCall) out = this.moveCall(c.MoveCall);
			else this.fail({ kind: 'FeatureNotYetSupported' });
			this.results.push(out);
		}
		// Values without `drop` that nobody consumed.
		this.cmd = null;
		this.results.forEach((vals, i) =>
			vals.forEach((v, j) => {
				if (v.t === 'obj' && !v.taken) throw new ExecFailure({ kind: 'UnusedValueWithoutDrop', resultIdx: i, secondaryIdx: j }, null);
			}),
		);
		// Fresh objects that ended up nowhere would be a bug in this model.
		for (const id of this.createdIds) {
			const o = this.ws.get(id);
			if (o && o.owner.kind === 'none') throw new Error(`internal: object ${id} created but never placed`);
		}
	}

	splitCoins({ coin, amounts }) {
		const c = this.borrowMut(coin, 0, 'coin');
		const amts = amounts.map((a, i) => this.readPrim(a, i + 1, 'u64'));
		const total = amts.reduce((s, x) => s + x, 0n);
		if (c.fields.balance < total) this.fail({ kind: 'InsufficientCoinBalance' });
		c.fields.balance -= total;
		return amts.map((amt) => {
			const n = this.fresh('coin', { balance: amt });
			return { t: 'obj', id: n.id, taken: false };
		});
	}

	mergeCoins({ destination, sources }) {
		const d = this.borrowMut(destination, 0, 'coin');
		sources.forEach((src, i) => {
			const { o } = this.take(src, i + 1, 'coin');
			if (o.id === d.id) this.cae(i + 1, 'InvalidValueUsage');
			d.fields.balance += o.fields.balance;
			if (d.fields.balance > 0xffffffffffffffffn) this.fail({ kind: 'CoinBalanceOverflow' });
			this.destroy(o.id);
		});
		return [];
	}

	transferObjects({ objects, address }) {
		const to = this.readPrim(address, objects.length, 'address');
		objects.forEach((arg, i) => {
			const { o } = this.take(arg, i, null, { forTransfer: true });
			if (!M.hasPublicTransfer(o)) this.fail({ kind: 'InvalidTransferObject' });
			o.owner = { kind: 'address', address: normalizeSuiAddress(to) };
		});
		return [];
	}

	abort(fnName, code) {
		const fn = M.FUNCTIONS[fnName];
		this.fail({
			kind: 'MoveAbort',
			package: this.chain.packageId,
			module: M.MODULE,
			functionIndex: fn.index,
			instruction: M.ABORT_SITES[fnName][code] ?? 0,
			functionName: fnName,
			code,
		});
	}

	emit(name, values) {
		const layout = M.EventLayouts[name];
		this.events.push({
			packageId: this.chain.packageId,
			module: M.MODULE,
			name,
			json: M.eventJson(name, values),
			contents: layout.serialize(values).toBytes(),
		});
	}

	moveCall(call) {
		const pkg = normalizeSuiAddress(call.package);
		if (this.chain.enclavePackages.has(pkg) && call.module === M.ENCLAVE_MODULE) return this.enclaveCall(pkg, call);
		const fn = pkg === this.chain.packageId && call.module === M.MODULE ? M.FUNCTIONS[call.function] : null;
		if (!fn) this.fail({ kind: 'FunctionNotFound' });
		if ((call.typeArguments ?? []).length !== 0) this.fail({ kind: 'TypeArityMismatch' });
		if (call.arguments.length !== fn.params.length) this.fail({ kind: 'ArityMismatch' });
		// Type-check arguments before running anything.
		fn.params.forEach((param, i) => {
			const s = this.slot(call.arguments[i], i);
			if (param.type === 'u64' || param.type === 'string') {
				if (s.src === 'gas' || (s.src === 'input' && s.inp.kind !== 'pure') || (s.src === 'result' && s.v.t !== param.type))
					this.cae(i, 'TypeMismatch');
			} else {
				if (s.src === 'input' && s.inp.kind === 'pure') this.cae(i, 'InvalidUsageOfPureArg');
				if (s.src === 'gas' && param.type !== 'coin') this.cae(i, 'TypeMismatch');
				if (s.src === 'gas' && param.ref === null) this.cae(i, 'InvalidGasCoinUsage');
				const kind = s.src === 'gas' ? 'coin' : s.src === 'input' ? this.ws.get(s.inp.id)?.kind : this.ws.get(s.v.id)?.kind;
				if (kind !== param.type) this.cae(i, 'TypeMismatch');
			}
		});
		const a = call.arguments;
		const sender = this.p.sender;
		const now = BigInt(this.chain.epochStartMs() ?? Date.now());
		const epoch = this.chain.epoch;
		switch (call.function) {
			case 'stake_for_node': {
				const pool = this.borrowMut(a[0], 0, 'pool');
				const { o: coin } = this.take(a[1], 1, 'coin');
				const nodeId = this.readPrim(a[2], 2, 'string');
				const amount = coin.fields.balance;
				if (amount < pool.fields.min_stake) this.abort('stake_for_node', M.E_INSUFFICIENT_STAKE);
				if (pool.stakerMap.has(sender) || pool.nodeMap.has(nodeId)) this.abort('stake_for_node', M.E_ALREADY_STAKED);
				const rec = this.fresh('record', {
					staker: sender,
					amount,
					staked_at: epoch,
					locked_until: epoch + pool.fields.lock_epochs,
					status: M.STATUS_ACTIVE,
					node_id: nodeId,
					stake_type: 'node',
				});
				rec.owner = { kind: 'pending-shared' };
				pool.fields.total_staked += amount;
				pool.fields.balance += amount;
				pool.stakerMap.set(sender, rec.id);
				pool.nodeMap.set(nodeId, rec.id);
				pool.fields.stakers.size = BigInt(pool.stakerMap.size);
				pool.fields.nodes.size = BigInt(pool.nodeMap.size);
				this.destroy(coin.id);
				this.emit('StakeEvent', { staker: sender, amount, stake_type: 'node', node_id: nodeId, timestamp: now });
				return [];
			}
			case 'withdraw_stake': {
				const pool = this.borrowMut(a[0], 0, 'pool');
				const rec = this.borrowMut(a[1], 1, 'record');
				const f = rec.fields;
				if (f.staker !== sender) this.abort('withdraw_stake', M.E_NOT_STAKER);
				if (epoch < f.locked_until) this.abort('withdraw_stake', M.E_STAKE_LOCKED);
				if (f.status !== M.STATUS_ACTIVE) this.abort('withdraw_stake', M.E_NOT_ACTIVE);
				const amount = f.amount;
				f.amount = 0n;
				f.status = M.STATUS_WITHDRAWN;
				pool.fields.total_staked -= amount;
				pool.fields.balance -= amount;
				if (pool.stakerMap.get(sender) === rec.id) pool.stakerMap.delete(sender);
				if (pool.nodeMap.get(f.node_id) === rec.id) pool.nodeMap.delete(f.node_id);
				pool.fields.stakers.size = BigInt(pool.stakerMap.size);
				pool.fields.nodes.size = BigInt(pool.nodeMap.size);
				const coin = this.fresh('coin', { balance: amount });
				this.emit('UnstakeEvent', { staker: sender, amount, timestamp: now });
				return [{ t: 'obj', id: coin.id, taken: false }];
			}
			case 'slash_stake': {
				const pool = this.borrowMut(a[0], 0, 'pool');
				const rec = this.borrowMut(a[1], 1, 'record');
				const amount = this.readPrim(a[2], 2, 'u64');
				const reason = this.readPrim(a[3], 3, 'string');
				if (sender !== pool.fields.admin) this.abort('slash_stake', M.E_NOT_AUTHORIZED);
				const f = rec.fields;
				if (f.status !== M.STATUS_ACTIVE) this.abort('slash_stake', M.E_NOT_ACTIVE);
				const slashed = amount < f.amount ? amount : f.amount;
				f.amount -= slashed;
				pool.fields.total_staked -= slashed;
				if (f.amount === 0n) f.status = M.STATUS_SLASHED;
				this.emit('SlashEvent', { staker: f.staker, amount_slashed: slashed, reason, timestamp: now });
				return [];
			}
		}
		this.fail({ kind: 'FunctionNotFound' });
	}

	// ---- <enclave package>::enclave (Mysten's Nautilus module, see README) ----------------

	enclaveAbort(pkg, fnName, code) {
		const fn = ENCLAVE_FUNCTIONS[fnName];
		this.fail({ kind: 'MoveAbort', package: pkg, module: M.ENCLAVE_MODULE, functionIndex: fn.index, instruction: fn.aborts[code] ?? 0, functionName: fnName, code });
	}

	/** An object argument of kind `kind` and type `<pkg>::enclave::<S><T>`: { o, slot }. */
	enclaveObj(pkg, appType, arg, argIdx, kind, { mutable = false, byValue = false } = {}) {
		const s = this.slot(arg, argIdx);
		if (s.src !== 'input' || s.inp.kind !== 'object') this.cae(argIdx, s.src === 'input' && s.inp.kind === 'pure' ? 'InvalidUsageOfPureArg' : 'TypeMismatch');
		if (this.consumedInputs.has(s.i)) this.cae(argIdx, 'ArgumentWithoutValue');
		const o = this.ws.get(s.inp.id);
		if (!o || o.kind !== kind || o.type !== M.enclaveType(kind, pkg, appType)) this.cae(argIdx, 'TypeMismatch');
		if ((mutable || byValue) && (s.inp.immutable || (s.inp.shared && !s.inp.mutable))) this.cae(argIdx, byValue ? 'InvalidObjectByValue' : 'InvalidObjectByMutRef');
		if (byValue) this.consumedInputs.add(s.i);
		return o;
	}

	enclaveCall(pkg, call) {
		const fn = ENCLAVE_FUNCTIONS[call.function];
		if (!fn) this.fail({ kind: 'FunctionNotFound' });
		const targs = call.typeArguments ?? [];
		if (targs.length !== 1) this.fail({ kind: 'TypeArityMismatch' });
		if (call.arguments.length !== fn.arity) this.fail({ kind: 'ArityMismatch' });
		let appType;
		try {
			appType = normalizeStructTag(typeof targs[0] === 'string' ? targs[0] : String(targs[0]));
		} catch {
			this.fail({ kind: 'TypeArityMismatch' });
		}
		const a = call.arguments;
		const bytes = (i) => this.readPrim(a[i], i, 'bytes');
		const sender = this.p.sender;
		const same = (x, y) => x.length === y.length && x.every((b, i) => b === y[i]);
		switch (call.function) {
			case 'create_enclave_config': {
				// Stands for new_cap(witness) + create_enclave_config(&cap, …): the Cap goes to the sender.
				const name = this.readPrim(a[0], 0, 'string');
				const [pcr0, pcr1, pcr2] = [bytes(1), bytes(2), bytes(3)];
				const cap = this.fresh('enclave_cap', {}, sender, M.enclaveType('enclave_cap', pkg, appType));
				const cfg = this.fresh(
					'enclave_config',
					{ name, pcrs: { pos0: pcr0, pos1: pcr1, pos2: pcr2 }, capability_id: cap.id, version: 0n },
					null,
					M.enclaveType('enclave_config', pkg, appType),
				);
				cfg.owner = { kind: 'pending-shared' };
				return [];
			}
			case 'update_pcrs': {
				const cfg = this.enclaveObj(pkg, appType, a[0], 0, 'enclave_config', { mutable: true });
				const cap = this.enclaveObj(pkg, appType, a[1], 1, 'enclave_cap');
				const [pcr0, pcr1, pcr2] = [bytes(2), bytes(3), bytes(4)];
				if (cap.id !== cfg.fields.capability_id) this.enclaveAbort(pkg, 'update_pcrs', 2n);
				cfg.fields.pcrs = { pos0: pcr0, pos1: pcr1, pos2: pcr2 };
				cfg.fields.version += 1n;
				return [];
			}
			case 'register_enclave': {
				// Stands for register_enclave(&config, document): the document's PCR0-2 and public_key.
				const cfg = this.enclaveObj(pkg, appType, a[0], 0, 'enclave_config');
				const [pcr0, pcr1, pcr2, pk] = [bytes(1), bytes(2), bytes(3), bytes(4)];
				const p = cfg.fields.pcrs;
				if (!same(pcr0, p.pos0) || !same(pcr1, p.pos1) || !same(pcr2, p.pos2)) this.enclaveAbort(pkg, 'register_enclave', 0n);
				const e = this.fresh('enclave', { pk, config_version: cfg.fields.version, owner: sender }, null, M.enclaveType('enclave', pkg, appType));
				e.owner = { kind: 'pending-shared' };
				return [];
			}
			case 'destroy_old_enclave': {
				const e = this.enclaveObj(pkg, appType, a[0], 0, 'enclave', { byValue: true });
				const cfg = this.enclaveObj(pkg, appType, a[1], 1, 'enclave_config');
				if (!(e.fields.config_version < cfg.fields.version)) this.enclaveAbort(pkg, 'destroy_old_enclave', 1n);
				this.destroy(e.id);
				return [];
			}
		}
		this.fail({ kind: 'FunctionNotFound' });
	}
}

export { SUI_COIN_TYPE, GAS_COIN_TYPE, normalizeStructTag };
