// BCS layouts of protocol.md sections 2 and 4, and the Nautilus signed envelope.
// Owns: byte layouts and Ed25519 envelope signing. Never touches sockets or server state.
import crypto from 'node:crypto';
import { bcs } from '@mysten/sui/bcs';

export const INTENT = Object.freeze({ register: 1, heartbeat: 2, deregister: 3 });

export const SealTokenV1 = bcs.struct('SealTokenV1', {
  version: bcs.u8(),
  node_id: bcs.string(),
  staker: bcs.Address,
  stake_id: bcs.Address,
  audience: bcs.byteVector(),
  issued_at_ms: bcs.u64(),
  expires_at_ms: bcs.u64(),
  nonce: bcs.byteVector(),
});

export const RegisterAck = bcs.struct('RegisterAck', {
  node_id: bcs.string(),
  nonce: bcs.byteVector(),
  k3s_server_url: bcs.string(),
  join_token: bcs.string(),
  heartbeat_interval_ms: bcs.u64(),
  token_expires_at_ms: bcs.u64(),
});

export const HeartbeatAck = bcs.struct('HeartbeatAck', {
  node_id: bcs.string(),
  seq: bcs.u64(),
  command: bcs.u8(),
  heartbeat_interval_ms: bcs.u64(),
});

export const DeregisterAck = bcs.struct('DeregisterAck', {
  node_id: bcs.string(),
});

export const DATA_TYPE_BY_INTENT = Object.freeze({
  [INTENT.register]: RegisterAck,
  [INTENT.heartbeat]: HeartbeatAck,
  [INTENT.deregister]: DeregisterAck,
});

// Fields of each message that are byte vectors: hex in JSON, bytes in BCS.
const BYTE_FIELDS = new Set(['nonce']);

/** BCS(IntentMessage{intent: u8, timestamp_ms: u64, data: T}). */
export function intentMessageBytes(dataType, intent, timestampMs, data) {
  const bcsData = {};
  for (const [k, v] of Object.entries(data)) {
    bcsData[k] = BYTE_FIELDS.has(k) ? Buffer.from(v, 'hex') : v;
  }
  const head = Buffer.alloc(9);
  head.writeUInt8(intent, 0);
  head.writeBigUInt64LE(BigInt(timestampMs), 1);
  return Buffer.concat([head, dataType.serialize(bcsData).toBytes()]);
}

export function newEnclaveKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  return { privateKey, publicKey, publicKeyRaw: raw, publicKeyHex: raw.toString('hex') };
}

/**
 * The Nautilus signed envelope over BCS(IntentMessage). `dataType` is the BCS type of `data`
 * (passed separately so a test fault can send a wrong intent with a correct signature).
 */
export function signedEnvelope({ intent, timestampMs, data, dataType, key }) {
  const msg = intentMessageBytes(dataType, intent, timestampMs, data);
  const signature = crypto.sign(null, msg, key);
  return {
    response: { intent, timestamp_ms: timestampMs, data },
    signature: signature.toString('hex'),
  };
}
