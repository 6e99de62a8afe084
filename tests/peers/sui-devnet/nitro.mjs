// Reads an AWS Nitro attestation document (COSE_Sign1, optionally CBOR tag 18) the way Sui's
// `0x2::nitro_attestation::load_nitro_attestation` + Nautilus `enclave::load_pk` use it: PCR0-2
// and the public_key. The COSE signature is checked against the document's own leaf certificate
// (ES384); the certificate chain is not (the tests' root is not Sui's pinned AWS root).
import crypto from 'node:crypto';
import { Decoder, Encoder, Tag } from 'cbor-x';

const dec = new Decoder({ mapsAsObjects: false, useRecords: false });
const enc = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false, variableMapSize: true });

export class AttestationError extends Error {}

const get = (m, k) => (m instanceof Map ? m.get(k) : m?.[k]);

export function parseNitroDocument(hex) {
	if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new AttestationError('attestation_hex must be hex');
	let top;
	try {
		top = dec.decode(Buffer.from(hex, 'hex'));
	} catch (e) {
		throw new AttestationError(`attestation document is not CBOR: ${e.message}`);
	}
	if (top instanceof Tag) top = top.value;
	if (!Array.isArray(top) || top.length !== 4) throw new AttestationError('attestation document is not a COSE_Sign1 array');
	const [prot, , payloadBytes, signature] = top;
	let payload;
	try {
		payload = dec.decode(payloadBytes);
	} catch (e) {
		throw new AttestationError(`attestation payload is not CBOR: ${e.message}`);
	}
	const pcrMap = get(payload, 'pcrs');
	const pcrs = [0, 1, 2].map((i) => get(pcrMap, i) ?? get(pcrMap, String(i)));
	if (pcrs.some((p) => !(p instanceof Uint8Array) || ![32, 48, 64].includes(p.length))) throw new AttestationError('attestation document lacks PCR0-2');
	const pk = get(payload, 'public_key');
	if (!(pk instanceof Uint8Array)) throw new AttestationError('attestation document has no public_key');
	const certDer = get(payload, 'certificate');
	let signatureValid = false;
	try {
		const cert = new crypto.X509Certificate(Buffer.from(certDer));
		const sigStructure = enc.encode(['Signature1', Buffer.from(prot), Buffer.alloc(0), Buffer.from(payloadBytes)]);
		signatureValid = crypto.verify('sha384', sigStructure, { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature));
	} catch {
		signatureValid = false;
	}
	if (!signatureValid) throw new AttestationError('attestation document signature does not verify against its certificate');
	return { pcrs: pcrs.map((p) => Uint8Array.from(p)), publicKey: Uint8Array.from(pk), timestampMs: Number(get(payload, 'timestamp') ?? 0) };
}
