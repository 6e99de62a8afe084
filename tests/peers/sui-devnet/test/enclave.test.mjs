// Nautilus enclave objects (protocol.md 3.1): EnclaveConfig<T> and Enclave<T> created through the
// admin API as real admin-signed transactions, read back on both transports, BCS decoded with
// the SDK's bcs module.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { bcs } from '@mysten/sui/bcs';
import { fromBase64 } from '@mysten/sui/utils';
import { startServer, gql, rpc, post } from '../testing.mjs';
import { buildAttestationDocument, loadNitroChain } from '../../nautilus-master/lib/attestation.mjs';
import { makePki, removeDir } from '../../nautilus-master/support/helpers.mjs';

let srv;
let info;
let pki;
before(async () => {
	srv = await startServer();
	info = srv.info;
	pki = makePki();
});
after(async () => {
	await srv?.stop();
	if (pki) removeDir(pki);
});

const Pcrs = bcs.struct('Pcrs', { pos0: bcs.byteVector(), pos1: bcs.byteVector(), pos2: bcs.byteVector() });
const EnclaveConfig = bcs.struct('EnclaveConfig', { id: bcs.Address, name: bcs.string(), pcrs: Pcrs, capability_id: bcs.Address, version: bcs.u64() });
const Enclave = bcs.struct('Enclave', { id: bcs.Address, pk: bcs.byteVector(), config_version: bcs.u64(), owner: bcs.Address });

const hex = (b) => Buffer.from(b).toString('hex');
const rnd = (n) => crypto.randomBytes(n).toString('hex');
const adminPost = (route, body) => post(`${info.admin}${route}`, body);
const ok = async (route, body) => {
	const r = await adminPost(route, body);
	assert.equal(r.status, 200, `${route}: ${r.text}`);
	return r.json;
};

const Q = `query($id: SuiAddress!) { object(address: $id) { address version digest previousTransaction { digest }
  owner { __typename ... on Shared { initialSharedVersion } } asMoveObject { contents { type { repr abilities } bcs json } } } }`;

async function read(id) {
	const g = (await gql(info.graphql, Q, { id })).data.object;
	const j = (await rpc(info.jsonrpc, 'sui_getObject', [id, { showType: true, showOwner: true, showBcs: true, showContent: true, showPreviousTransaction: true }])).result;
	return { g, j };
}

function doc(pcrs, publicKey) {
	const chain = loadNitroChain(pki);
	const m = new Map();
	for (let i = 0; i < 16; i++) m.set(i, i < 3 ? Buffer.from(pcrs[i], 'hex') : Buffer.alloc(48));
	return buildAttestationDocument({ chain, moduleId: 'i-test-enc', pcrs: m, publicKey, nonce: null, timestampMs: Date.now() }).toString('hex');
}

test('publish, config, register (document and explicit key), update_pcrs, destroy', async () => {
	const pub = await ok('/enclave/publish', {});
	const other = await ok('/enclave/publish', {});
	assert.match(pub.package_id, /^0x[0-9a-f]{64}$/);
	assert.notEqual(pub.package_id, other.package_id);
	const appType = `${pub.package_id}::my_app::MY_APP`;
	const pcrs = [rnd(48), rnd(48), rnd(48)];
	const cfg = await ok('/enclave/config', { package_id: pub.package_id, name: 'k3s-master', pcr0: pcrs[0], pcr1: pcrs[1], pcr2: pcrs[2], app_type: appType });
	assert.equal(cfg.version, 0); // as the Nautilus module starts it
	assert.equal(cfg.type, `${pub.package_id}::enclave::EnclaveConfig<${appType}>`);

	let { g, j } = await read(cfg.config_id);
	assert.equal(g.owner.__typename, 'Shared');
	assert.equal(g.owner.initialSharedVersion, cfg.initial_shared_version);
	assert.equal(g.asMoveObject.contents.type.repr, cfg.type);
	assert.deepEqual(g.asMoveObject.contents.type.abilities, ['KEY']);
	assert.equal(g.previousTransaction.digest, cfg.digest);
	assert.equal(j.data.type, cfg.type); // user packages print with full 64-hex addresses
	assert.equal(j.data.owner.Shared.initial_shared_version, cfg.initial_shared_version);
	assert.equal(j.data.bcs.bcsBytes, g.asMoveObject.contents.bcs);
	let c = EnclaveConfig.parse(fromBase64(g.asMoveObject.contents.bcs));
	assert.equal(c.id, cfg.config_id);
	assert.equal(c.name, 'k3s-master');
	assert.deepEqual([hex(c.pcrs.pos0), hex(c.pcrs.pos1), hex(c.pcrs.pos2)], pcrs);
	assert.equal(c.capability_id, cfg.cap_id);
	assert.equal(c.version, '0');
	assert.equal(g.asMoveObject.contents.json.pcrs.pos0, Buffer.from(pcrs[0], 'hex').toString('base64'));
	assert.deepEqual(j.data.content.fields.pcrs.fields.pos0, [...Buffer.from(pcrs[0], 'hex')]);
	assert.equal(j.data.content.fields.version, '0');

	// register_enclave from an attestation document: its PCRs must match, its key is taken.
	const key = crypto.randomBytes(32);
	const e1 = await ok('/enclave/register', { config_id: cfg.config_id, attestation_hex: doc(pcrs, key) });
	assert.equal(e1.pk, hex(key));
	assert.equal(e1.config_version, 0);
	assert.equal(e1.owner, info.admin_address);
	({ g, j } = await read(e1.enclave_id));
	assert.equal(g.asMoveObject.contents.type.repr, `${pub.package_id}::enclave::Enclave<${appType}>`);
	assert.equal(g.owner.initialSharedVersion, e1.initial_shared_version);
	let e = Enclave.parse(fromBase64(j.data.bcs.bcsBytes));
	assert.deepEqual({ ...e, pk: hex(e.pk) }, { id: e1.enclave_id, pk: hex(key), config_version: '0', owner: info.admin_address });

	// A document with other PCRs aborts on chain with EInvalidPCRs (0).
	const bad = await adminPost('/enclave/register', { config_id: cfg.config_id, attestation_hex: doc([rnd(48), pcrs[1], pcrs[2]], key) });
	assert.equal(bad.status, 409, bad.text);
	assert.equal(bad.json.abort_code, 0);
	assert.match(bad.json.error, /Identifier\("enclave"\).*register_enclave.*, 0\)/);
	// A document whose COSE signature is broken is refused.
	const broken = doc(pcrs, key);
	const flipped = broken.slice(0, -2) + (parseInt(broken.slice(-2), 16) ^ 1).toString(16).padStart(2, '0');
	assert.equal((await adminPost('/enclave/register', { config_id: cfg.config_id, attestation_hex: flipped })).status, 400);

	// update_pcrs bumps the version; the old Enclave stays and falls behind.
	const pcrs2 = [rnd(48), rnd(48), rnd(48)];
	const up = await ok('/enclave/update-pcrs', { config_id: cfg.config_id, pcr0: pcrs2[0], pcr1: pcrs2[1], pcr2: pcrs2[2] });
	assert.equal(up.version, 1);
	c = EnclaveConfig.parse(fromBase64((await read(cfg.config_id)).g.asMoveObject.contents.bcs));
	assert.equal(c.version, '1');
	assert.equal(hex(c.pcrs.pos2), pcrs2[2]);
	const key2 = crypto.randomBytes(32);
	const e2 = await ok('/enclave/register', { config_id: cfg.config_id, pk_hex: hex(key2) });
	assert.equal(e2.config_version, 1);
	assert.equal(Enclave.parse(fromBase64((await read(e2.enclave_id)).g.asMoveObject.contents.bcs)).config_version, '1');
	assert.equal(Enclave.parse(fromBase64((await read(e1.enclave_id)).g.asMoveObject.contents.bcs)).config_version, '0');

	// The current enclave cannot be destroyed (EInvalidConfigVersion 1); the old one can.
	const keep = await adminPost('/enclave/destroy', { enclave_id: e2.enclave_id, config_id: cfg.config_id });
	assert.equal(keep.status, 409);
	assert.equal(keep.json.abort_code, 1);
	await ok('/enclave/destroy', { enclave_id: e1.enclave_id });
	assert.equal((await read(e1.enclave_id)).g, null);

	// A look-alike package: same struct names, different type.
	const lookalike = await ok('/enclave/config', { package_id: other.package_id, name: 'k3s-master', pcr0: pcrs[0], pcr1: pcrs[1], pcr2: pcrs[2], app_type: appType });
	assert.equal(lookalike.type, `${other.package_id}::enclave::EnclaveConfig<${appType}>`);
	assert.notEqual(lookalike.type, cfg.type);

	// Bad input: wrong PCR length, unknown config.
	assert.equal((await adminPost('/enclave/config', { package_id: pub.package_id, pcr0: 'ab', pcr1: pcrs[1], pcr2: pcrs[2], app_type: appType })).status, 400);
	assert.equal((await adminPost('/enclave/register', { config_id: info.staking_pool_id, pk_hex: hex(key) })).status, 400);
});
