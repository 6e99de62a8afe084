// Small helpers shared by the sui-devnet modules: hashing, address/type formatting, JSON.
import { blake2b } from '@noble/hashes/blake2.js';
import { randomBytes } from 'node:crypto';
import {
	normalizeSuiAddress,
	normalizeStructTag,
	toBase58,
	fromBase58,
	toBase64,
	fromBase64,
	toHex,
} from '@mysten/sui/utils';

export { normalizeSuiAddress, normalizeStructTag, toBase58, fromBase58, toBase64, fromBase64, toHex };

export const SUI_FRAMEWORK = normalizeSuiAddress('0x2');
export const MOVE_STDLIB = normalizeSuiAddress('0x1');
export const SUI_COIN_TYPE = `${SUI_FRAMEWORK}::sui::SUI`;
export const GAS_COIN_TYPE = `${SUI_FRAMEWORK}::coin::Coin<${SUI_COIN_TYPE}>`;
export const ZERO_ADDRESS = normalizeSuiAddress('0x0');
// ObjectDigest::OBJECT_DIGEST_DELETED in sui-types ([99; 32]).
export const DELETED_DIGEST = toBase58(new Uint8Array(32).fill(99));

const te = new TextEncoder();

/** BLAKE2b-256 of `Tag::` || bytes, like sui-types' Signable digests. */
export function typedDigest(tag, bytes) {
	const prefix = te.encode(`${tag}::`);
	const buf = new Uint8Array(prefix.length + bytes.length);
	buf.set(prefix, 0);
	buf.set(bytes, prefix.length);
	return blake2b(buf, { dkLen: 32 });
}

export function blake2b256(bytes) {
	return blake2b(bytes, { dkLen: 32 });
}

export function randomDigestBytes() {
	return new Uint8Array(randomBytes(32));
}

export function randomAddress() {
	return '0x' + Buffer.from(randomBytes(32)).toString('hex');
}

/** ObjectID::derive_id(tx_digest, creation_num): BLAKE2b-256(0xf1 || digest || u64 LE). */
export function deriveObjectId(txDigestBytes, creationNum) {
	const buf = new Uint8Array(1 + 32 + 8);
	buf[0] = 0xf1;
	buf.set(txDigestBytes, 1);
	new DataView(buf.buffer).setBigUint64(33, BigInt(creationNum), true);
	return '0x' + toHex(blake2b(buf, { dkLen: 32 }));
}

export function isHexAddress(s) {
	return typeof s === 'string' && /^(0x)?[0-9a-fA-F]{1,64}$/.test(s);
}

/** Normalizes an address, throwing a readable error for garbage. */
export function addr(s) {
	if (!isHexAddress(s)) throw new Error(`Invalid Sui address: ${JSON.stringify(s)}`);
	return normalizeSuiAddress(s);
}

/** 0x000…0002::coin::Coin<…> → 0x2::coin::Coin<…> (the JSON-RPC spelling of framework types). */
export function shortType(type) {
	return type.replace(/0x0{63}([12])(?=::)/g, '0x$1');
}

/** JSON.stringify that prints bigints as decimal strings. */
export function jsonStringify(value, space) {
	return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), space);
}

export function toBigInt(v, what = 'value') {
	if (typeof v === 'bigint') return v;
	if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
	if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v);
	throw new Error(`Invalid ${what}: ${JSON.stringify(v)}`);
}

export function ordinal(n) {
	const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : { 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th';
	return `${n}${s}`;
}

export function encodeCursor(obj) {
	return Buffer.from(JSON.stringify(obj)).toString('base64');
}

export function decodeCursor(s) {
	try {
		return JSON.parse(Buffer.from(String(s), 'base64').toString('utf8'));
	} catch {
		return null;
	}
}

export function log(...args) {
	process.stderr.write(`[sui-devnet ${new Date().toISOString()}] ${args.join(' ')}\n`);
}
