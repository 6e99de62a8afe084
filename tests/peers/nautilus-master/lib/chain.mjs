// On-chain part of the seal-token check (protocol.md section 2): the StakeRecord read through a
// Sui GraphQL endpoint. Owns: one query and its judgement. A transport or GraphQL error is
// reported as `unavailable` (the caller answers 503), never as a token rejection.
import http from 'node:http';
import https from 'node:https';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { REASONS, reject } from './seal-token.mjs';

const OBJECT_QUERY = `query StakeRecord($address: SuiAddress!) {
  object(address: $address) {
    address
    version
    asMoveObject { contents { type { repr } json } }
  }
}`;

export class ChainUnavailable extends Error {}

function postJson(url, body, { ca, timeoutMs }) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject_) => {
    const req = mod.request(u, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': data.length },
      ca, timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject_(new ChainUnavailable(`GraphQL HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        try { resolve(JSON.parse(text)); } catch { reject_(new ChainUnavailable('GraphQL answer is not JSON')); }
      });
    });
    req.on('timeout', () => req.destroy(new ChainUnavailable('GraphQL request timed out')));
    req.on('error', (e) => reject_(e instanceof ChainUnavailable ? e : new ChainUnavailable(`GraphQL request failed: ${e.message}`)));
    req.end(data);
  });
}

/** Splits "0x…::module::Name" (or with type parameters) into a normalized package and the rest. */
function parseTypeRepr(repr) {
  const m = /^(0x[0-9a-fA-F]+)::([A-Za-z_][A-Za-z0-9_]*)::([A-Za-z_][A-Za-z0-9_]*)$/.exec(repr ?? '');
  return m ? { pkg: normalizeSuiAddress(m[1]), module: m[2], name: m[3] } : null;
}

function toBigInt(v) {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v);
  return null;
}

/**
 * Reads StakeRecord `token.stake_id` and checks it against the token. Returns
 * {version, amount, status}; throws a Rejection (with .reason) or ChainUnavailable.
 * @param statusRule 'active' (register, heartbeat) or 'any' (deregister after an unstake)
 */
export async function checkStakeOnChain(token, { graphqlUrl, packageId, module = 'staking', minStake,
  ca, timeoutMs = 10_000, statusRule = 'active' }) {
  const answer = await postJson(graphqlUrl, { query: OBJECT_QUERY, variables: { address: token.stake_id } }, { ca, timeoutMs });
  if (answer.errors?.length) throw new ChainUnavailable(`GraphQL error: ${answer.errors[0].message}`);
  const obj = answer.data?.object;
  if (!obj) reject(REASONS.stakeNotFound, token.stake_id);
  const contents = obj.asMoveObject?.contents;
  const type = parseTypeRepr(contents?.type?.repr);
  if (!type || type.pkg !== normalizeSuiAddress(packageId) || type.module !== module || type.name !== 'StakeRecord') {
    reject(REASONS.stakeWrongType, contents?.type?.repr ?? 'not a Move object');
  }
  const f = contents.json ?? {};
  let staker = null;
  try { staker = normalizeSuiAddress(String(f.staker)); } catch { /* reported below */ }
  if (staker !== token.staker) reject(REASONS.stakeStaker, `record staker ${f.staker}`);
  if (f.node_id !== token.node_id) reject(REASONS.stakeNode, `record node_id ${JSON.stringify(f.node_id)}`);
  const status = toBigInt(f.status);
  const amount = toBigInt(f.amount);
  if (statusRule === 'active') {
    if (status !== 1n) reject(REASONS.stakeNotActive, `status ${f.status}`);
    if (amount === null || amount < BigInt(minStake)) reject(REASONS.stakeBelowMin, `amount ${f.amount} < ${minStake}`);
  }
  return { version: obj.version ?? null, amount: amount?.toString() ?? null, status: status === null ? null : Number(status) };
}
