// Seal-token verification, protocol.md section 2 (off-chain part). The on-chain StakeRecord check
// lives in chain.mjs. Owns: parsing and the off-chain rules; every rejection has its own reason.
import { verifyPersonalMessageSignature } from '@mysten/sui/verify';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { SealTokenV1 } from './wire.mjs';

export const PREFIX = 'sealv1.';
export const MAX_FUTURE_ISSUE_MS = 60_000;
export const MAX_LIFETIME_MS = 24 * 3600 * 1000;

// Rejection reasons (stable strings: tests and the README refer to them).
export const REASONS = Object.freeze({
  missing: 'missing_token',
  headerBodyMismatch: 'header_body_mismatch',
  prefix: 'bad_prefix',
  encoding: 'bad_encoding',
  payload: 'bad_payload',
  version: 'bad_version',
  signatureEncoding: 'bad_signature_encoding',
  signature: 'bad_signature',
  stakerMismatch: 'staker_mismatch',
  issuedInFuture: 'issued_in_future',
  expired: 'expired',
  lifetime: 'lifetime_too_long',
  window: 'expires_before_issued',
  audience: 'wrong_audience',
  nodeId: 'node_id_mismatch',
  nonce: 'bad_nonce_length',
  // chain (chain.mjs)
  stakeNotFound: 'stake_not_found',
  stakeWrongType: 'stake_wrong_type',
  stakeStaker: 'stake_staker_mismatch',
  stakeNode: 'stake_node_id_mismatch',
  stakeNotActive: 'stake_not_active',
  stakeBelowMin: 'stake_below_minimum',
});

class Rejection extends Error {
  constructor(reason, detail) { super(detail ? `${reason}: ${detail}` : reason); this.reason = reason; }
}
export const reject = (reason, detail) => { throw new Rejection(reason, detail); };

function strictB64url(part) {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return null;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : null;
}

/**
 * Verifies everything the token says by itself. Returns the decoded token
 * ({version, node_id, staker, stake_id, audience (Uint8Array), issued_at_ms, expires_at_ms (BigInt), nonce})
 * or throws a Rejection with `.reason`.
 * @param expectNodeId the node_id of the request body
 * @param audienceKey  the enclave's raw 32-byte Ed25519 public key
 */
export async function verifySealTokenOffChain(token, { expectNodeId, audienceKey, nowMs = Date.now() }) {
  if (typeof token !== 'string' || token.length === 0) reject(REASONS.missing);
  if (!token.startsWith(PREFIX)) reject(REASONS.prefix, 'token must start with "sealv1."');
  const parts = token.slice(PREFIX.length).split('.');
  if (parts.length !== 2) reject(REASONS.encoding, 'expected sealv1.<payload>.<signature>');
  const payload = strictB64url(parts[0]);
  const signature = strictB64url(parts[1]);
  if (!payload || !signature) reject(REASONS.encoding, 'parts must be base64url without padding');

  let t;
  try {
    t = SealTokenV1.parse(payload);
  } catch (e) {
    reject(REASONS.payload, `BCS decode failed (${e.message})`);
  }
  // BCS is canonical: a payload that does not re-encode to itself has trailing or odd bytes.
  if (!Buffer.from(SealTokenV1.serialize(t).toBytes()).equals(payload)) {
    reject(REASONS.payload, 'payload has trailing bytes');
  }
  if (t.version !== 1) reject(REASONS.version, `version ${t.version}`);

  if (signature.length !== 97 || signature[0] !== 0x00) {
    reject(REASONS.signatureEncoding, `expected 97 bytes 0x00||sig||pk (Ed25519), got ${signature.length} bytes flag ${signature[0]}`);
  }
  let publicKey;
  try {
    publicKey = await verifyPersonalMessageSignature(payload, signature.toString('base64'));
  } catch (e) {
    reject(REASONS.signature, 'personal-message signature does not verify');
  }
  if (normalizeSuiAddress(publicKey.toSuiAddress()) !== normalizeSuiAddress(t.staker)) {
    reject(REASONS.stakerMismatch, 'signer address differs from staker');
  }

  const issued = BigInt(t.issued_at_ms);
  const expires = BigInt(t.expires_at_ms);
  const now = BigInt(nowMs);
  if (issued > now + BigInt(MAX_FUTURE_ISSUE_MS)) reject(REASONS.issuedInFuture);
  if (expires <= now) reject(REASONS.expired);
  if (expires <= issued) reject(REASONS.window);
  if (expires - issued > BigInt(MAX_LIFETIME_MS)) reject(REASONS.lifetime, 'expires more than 24 h after issue');

  const audience = Buffer.from(t.audience);
  if (audience.length !== 0 && !audience.equals(audienceKey)) reject(REASONS.audience);
  if (t.node_id !== expectNodeId) reject(REASONS.nodeId, `token is for "${t.node_id}"`);
  if (t.nonce.length !== 16) reject(REASONS.nonce, `nonce is ${t.nonce.length} bytes, expected 16`);

  return {
    version: t.version,
    node_id: t.node_id,
    staker: normalizeSuiAddress(t.staker),
    stake_id: normalizeSuiAddress(t.stake_id),
    audience,
    issued_at_ms: issued,
    expires_at_ms: expires,
    nonce: Buffer.from(t.nonce),
  };
}

export function isRejection(e) { return e instanceof Rejection; }
