// Shape and type checks of the master API request bodies (protocol.md section 4). Each failure
// names the field by its dotted path. Owns: body shapes only, never token or state rules.

export class FieldError extends Error {
  constructor(field, expected, found) {
    super(`field ${field}: expected ${expected}, found ${describe(found)}`);
    this.field = field;
  }
}

function describe(v) {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 40 ? `${s.slice(0, 40)}…` : s}`;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

const RULES = {
  string: [(v) => typeof v === 'string', 'a string'],
  nonEmptyString: [(v) => typeof v === 'string' && v.length > 0, 'a non-empty string'],
  stringOrNull: [(v) => v === null || typeof v === 'string', 'a string or null'],
  uint: [(v) => Number.isSafeInteger(v) && v >= 0, 'an unsigned integer'],
  uintOrNull: [(v) => v === null || (Number.isSafeInteger(v) && v >= 0), 'an unsigned integer or null'],
  // u64 values may travel as JSON numbers or, beyond 2^53, as decimal strings
  u64: [(v) => (Number.isSafeInteger(v) && v >= 0) || (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)
    && BigInt(v) < 2n ** 64n), 'an unsigned 64-bit integer (number or decimal string)'],
  number: [(v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, 'a non-negative number'],
  hex32: [(v) => typeof v === 'string' && /^[0-9a-fA-F]{64}$/.test(v), '64 hex digits (32 bytes)'],
};

function check(body, schema, prefix = '') {
  if (!isObject(body)) throw new FieldError(prefix.slice(0, -1) || 'body', 'a JSON object', body);
  for (const [key, rule] of Object.entries(schema)) {
    const path = prefix + key;
    const v = body[key];
    if (isObject(rule)) {
      if (!isObject(v)) throw new FieldError(path, 'an object', v);
      check(v, rule, `${path}.`);
      continue;
    }
    const [ok, expected] = RULES[rule];
    if (!ok(v)) throw new FieldError(path, expected, v);
  }
}

const REGISTER = {
  node_id: 'nonEmptyString',
  seal_token: 'nonEmptyString',
  nonce: 'hex32',
  agent_version: 'string',
  node: { hostname: 'string', instance_id: 'string', arch: 'string', cpus: 'uint', memory_bytes: 'u64' },
};

const HEARTBEAT = {
  node_id: 'nonEmptyString',
  seq: 'uint',
  timestamp_ms: 'uint',
  stake: { stake_id: 'string', amount: 'u64', status: 'uint' },
  k3s: { state: 'string', restarts: 'uint', pid: 'uintOrNull' },
  runtime: { type: 'string', state: 'string', version: 'stringOrNull' },
  resources: { cpu_percent: 'number', memory_percent: 'number', disk_percent: 'number', load1: 'number' },
  running_containers: 'uint',
};

const DEREGISTER = {
  node_id: 'nonEmptyString',
  seal_token: 'nonEmptyString',
  reason: 'string',
};

export const validateRegister = (b) => check(b, REGISTER);
export const validateHeartbeat = (b) => check(b, HEARTBEAT);
export const validateDeregister = (b) => check(b, DEREGISTER);
