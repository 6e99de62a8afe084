// The server's BCS (via @mysten/sui/bcs, lib/wire.mjs) and this suite's hand-rolled BCS both
// reproduce the real Nautilus signed responses in shared/testdata, and those signatures verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { bcs } from '@mysten/sui/bcs';
import { intentMessageBytes, signedEnvelope, newEnclaveKey, RegisterAck } from '../lib/wire.mjs';
import { SHARED_DIR, ed25519PublicKey, envelopeBytes, envelopeVerifies } from '../support/helpers.mjs';

const VECTORS = path.join(SHARED_DIR, 'testdata/attestation/nautilus/signed-response-vectors.json');
const missing = fs.existsSync(VECTORS) ? false : `shared test data not found at ${VECTORS}`;

const Weather = bcs.struct('WeatherResponse', { location: bcs.string(), temperature: bcs.u64() });
const Twitter = bcs.struct('TwitterResponse', { twitter_name: bcs.byteVector(), sui_address: bcs.byteVector() });

test('BCS of IntentMessage matches the Nautilus vectors and their signatures verify', { skip: missing }, () => {
  const { vectors } = JSON.parse(fs.readFileSync(VECTORS, 'utf8'));
  assert.ok(vectors.length >= 3);
  for (const v of vectors) {
    const r = v.json_response?.response ?? { intent: v.intent, timestamp_ms: v.timestamp_ms, data: v.data };
    const type = 'location' in r.data ? Weather : Twitter;
    const data = type === Twitter
      ? { twitter_name: Uint8Array.from(r.data.twitter_name), sui_address: Uint8Array.from(r.data.sui_address) }
      : r.data;
    const bytes = intentMessageBytes(type, r.intent, r.timestamp_ms, data);
    assert.equal(bytes.toString('hex'), v.bcs_hex, `${v.name}: BCS`);
    if (v.json_response) {
      const ok = crypto.verify(null, bytes, ed25519PublicKey(v.enclave_pk_ed25519_hex),
        Buffer.from(v.json_response.signature, 'hex'));
      assert.equal(ok, v.ed25519_valid, `${v.name}: signature`);
      const flipped = Buffer.from(v.json_response.signature, 'hex');
      flipped[5] ^= 1;
      assert.equal(crypto.verify(null, bytes, ed25519PublicKey(v.enclave_pk_ed25519_hex), flipped), false);
    }
  }
});

test('the server BCS and the hand-rolled BCS of this suite agree on RegisterAck', () => {
  const key = newEnclaveKey();
  const data = {
    node_id: 'worker-1', nonce: 'ab'.repeat(32), k3s_server_url: 'https://127.0.0.1:6443',
    join_token: `K10${'c'.repeat(64)}::node:${'d'.repeat(32)}`, heartbeat_interval_ms: 30000,
    token_expires_at_ms: 1900000000000,
  };
  const env = signedEnvelope({ intent: 1, timestampMs: 1744683300000, data, dataType: RegisterAck, key: key.privateKey });
  assert.equal(intentMessageBytes(RegisterAck, 1, 1744683300000, data).toString('hex'),
    envelopeBytes(1, 1744683300000, data).toString('hex'));
  assert.ok(envelopeVerifies(env, key.publicKeyHex));
  // a long string needs a two-byte ULEB128 length
  const long = { ...data, k3s_server_url: `https://${'x'.repeat(200)}` };
  assert.equal(intentMessageBytes(RegisterAck, 1, 5, long).toString('hex'), envelopeBytes(1, 5, long).toString('hex'));
});
