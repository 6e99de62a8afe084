// Fault injection: a list of armed faults, matched per request (transport, port, method text).

export const FAULT_KINDS = [
	'latency',
	'http500',
	'http429',
	'malformed',
	'truncated',
	'reset',
	'hang',
	'indexer_lag',
	'execute_then_reset',
	'graphql_error',
];

// Faults that decide how the HTTP answer looks (handled in the server before/after dispatch).
export const HTTP_KINDS = ['http500', 'http429', 'malformed', 'truncated', 'reset', 'hang', 'graphql_error'];

export class Faults {
	constructor() {
		this.list = [];
		this.nextId = 1;
		this.fired = [];
	}

	add(spec) {
		const kind = spec?.kind;
		if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind ${JSON.stringify(kind)}; expected one of ${FAULT_KINDS.join(', ')}`);
		const count = spec.count == null ? 1 : Number(spec.count);
		if (!Number.isInteger(count) || count === 0 || count < -1) throw new Error('count must be a positive integer or -1');
		const target = spec.target ?? 'any';
		if (!['graphql', 'jsonrpc', 'any'].includes(target)) throw new Error('target must be graphql, jsonrpc or any');
		const port = spec.port == null ? null : Number(spec.port);
		const ms = spec.ms == null ? (kind === 'latency' ? 1000 : 0) : Number(spec.ms);
		if (!Number.isFinite(ms) || ms < 0) throw new Error('ms must be a non-negative number');
		// `after: K` lets the first K matching requests through untouched (0: the first one fires).
		const after = spec.after == null ? 0 : Number(spec.after);
		if (!Number.isInteger(after) || after < 0) throw new Error('after must be a non-negative integer');
		const f = {
			id: this.nextId++,
			kind,
			remaining: count,
			target,
			port,
			ms,
			method: spec.method == null ? null : String(spec.method),
			after,
			skipped: 0,
			hits: 0,
		};
		this.list.push(f);
		return f;
	}

	/** Disarms every fault, or only those with this `id` and/or on this `port`; returns how many. */
	clear(filter = {}) {
		const id = filter?.id == null ? null : Number(filter.id);
		const port = filter?.port == null ? null : Number(filter.port);
		const keep = (f) => (id != null && f.id !== id) || (port != null && f.port !== port);
		const n = this.list.length;
		this.list = this.list.filter(keep);
		return n - this.list.length;
	}

	matches(f, req) {
		if (f.target !== 'any' && f.target !== req.transport) return false;
		if (f.port != null && f.port !== req.port) return false;
		if (f.method != null && !(req.text ?? '').includes(f.method)) return false;
		return true;
	}

	/**
	 * Finds the first armed fault of one of `kinds` that matches `req`, and consumes one use. A
	 * matching fault that still has requests to let through (`after`) counts this one as skipped
	 * and lets the search go on to the next fault.
	 */
	take(kinds, req) {
		const ks = Array.isArray(kinds) ? kinds : [kinds];
		const f = this.list.find((x) => {
			if (!ks.includes(x.kind) || x.remaining === 0 || !this.matches(x, req)) return false;
			if (x.skipped < x.after) {
				x.skipped++;
				return false;
			}
			return true;
		});
		if (!f) return null;
		f.hits++;
		if (f.remaining > 0) f.remaining--;
		if (f.remaining === 0) this.list = this.list.filter((x) => x !== f);
		this.fired.push({ id: f.id, kind: f.kind, port: req.port, transport: req.transport, at: Date.now() });
		if (this.fired.length > 1000) this.fired.shift();
		return f;
	}

	pending() {
		return this.list.map((f) => ({ ...f }));
	}
}
