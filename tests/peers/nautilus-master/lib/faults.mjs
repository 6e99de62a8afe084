// Test fault injection for the Nautilus-master stand-in. Owns: the table of fault kinds, where
// each applies, and the pending queue. The server decides how a taken fault changes an answer.

export const ENDPOINTS = ['health', 'attestation', 'register', 'heartbeat', 'deregister'];
const SIGNED = ['register', 'heartbeat', 'deregister'];

// kind -> { endpoints it can act on, default endpoint, stage }
// stage "transport": acts before the request is processed (no state change);
// stage "answer": the request is processed (state changes), then the answer is altered.
export const FAULT_KINDS = Object.freeze({
  http500: { endpoints: ENDPOINTS, stage: 'transport' },
  http503: { endpoints: ENDPOINTS, stage: 'transport' },
  slow: { endpoints: ENDPOINTS, stage: 'transport' },
  malformed: { endpoints: ENDPOINTS, stage: 'transport' },
  reset: { endpoints: ENDPOINTS, stage: 'transport' },
  hang: { endpoints: ENDPOINTS, stage: 'transport' },
  // before any endpoint is known: TCP accepted, TLS never completed (endpoint must be "any")
  tls_hang: { endpoints: [], stage: 'connection' },
  bad_signature: { endpoints: SIGNED, stage: 'answer' },
  wrong_key: { endpoints: SIGNED, stage: 'answer' },
  replay: { endpoints: [...SIGNED, 'attestation'], stage: 'answer' },
  stale_timestamp: { endpoints: SIGNED, stage: 'answer' },
  future_timestamp: { endpoints: SIGNED, stage: 'answer' },
  wrong_intent: { endpoints: SIGNED, stage: 'answer' },
  wrong_seq: { endpoints: ['heartbeat'], stage: 'answer', defaultEndpoint: 'heartbeat' },
  wrong_nonce: { endpoints: ['register'], stage: 'answer', defaultEndpoint: 'register' },
  bad_attestation_sig: { endpoints: ['attestation'], stage: 'answer', defaultEndpoint: 'attestation' },
  attestation_wrong_nonce: { endpoints: ['attestation'], stage: 'answer', defaultEndpoint: 'attestation' },
  attestation_no_pubkey: { endpoints: ['attestation'], stage: 'answer', defaultEndpoint: 'attestation' },
  attestation_no_nonce: { endpoints: ['attestation'], stage: 'answer', defaultEndpoint: 'attestation' },
});

export const DEFAULT_SLOW_MS = 2000;

export class FaultQueue {
  constructor() { this.pending = []; this.nextId = 1; this.fired = {}; }

  /** Validates and queues an admin request; returns the queued fault or throws with a message. */
  add({ kind, count = 1, endpoint, ms } = {}) {
    const spec = FAULT_KINDS[kind];
    if (!spec) throw new Error(`unknown fault kind ${JSON.stringify(kind)}; known: ${Object.keys(FAULT_KINDS).join(', ')}`);
    const ep = endpoint ?? spec.defaultEndpoint ?? 'any';
    if (ep !== 'any' && !ENDPOINTS.includes(ep)) throw new Error(`unknown endpoint ${JSON.stringify(ep)}; known: any, ${ENDPOINTS.join(', ')}`);
    if (spec.stage === 'connection' && ep !== 'any') throw new Error(`fault ${kind} acts on connections, before any endpoint: use endpoint "any"`);
    if (ep !== 'any' && !spec.endpoints.includes(ep)) throw new Error(`fault ${kind} cannot act on endpoint ${ep}; it acts on ${spec.endpoints.join(', ')}`);
    if (!Number.isInteger(count) || (count < 1 && count !== -1)) throw new Error('count must be a positive integer or -1 (until cleared)');
    if (ms !== undefined && !(Number.isInteger(ms) && ms >= 0)) throw new Error('ms must be a non-negative integer');
    const fault = { id: this.nextId++, kind, endpoint: ep, count, ms: kind === 'slow' ? (ms ?? DEFAULT_SLOW_MS) : ms ?? null };
    this.pending.push(fault);
    return fault;
  }

  /**
   * Takes (consumes one use of) the first pending fault that acts on `endpoint` at `stage`,
   * and whose kind passes `accept` (used to skip a replay with nothing to replay).
   */
  take(endpoint, stage, accept = () => true) {
    const i = this.pending.findIndex((f) => FAULT_KINDS[f.kind].stage === stage
      && (stage === 'connection' || f.endpoint === endpoint || (f.endpoint === 'any' && FAULT_KINDS[f.kind].endpoints.includes(endpoint)))
      && accept(f.kind));
    if (i < 0) return null;
    const fault = this.pending[i];
    if (fault.count > 0 && --fault.count === 0) this.pending.splice(i, 1);
    this.fired[fault.kind] = (this.fired[fault.kind] ?? 0) + 1;
    return { ...fault };
  }

  clear() { this.pending = []; }
}
