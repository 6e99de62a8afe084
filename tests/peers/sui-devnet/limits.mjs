// The query limits of Sui's GraphQL service (sui-indexer-alt-graphql), enforced the way the real
// server enforces them: same defaults, same order of checks, same messages, same error shape.
// See README.md ("GraphQL service limits") for what was taken from where.
import { getNamedType, getLocation, isObjectType, isInterfaceType, Kind } from 'graphql';

export const DEFAULT_LIMITS = Object.freeze({
	enabled: true,
	maxQueryDepth: 20,
	maxQueryNodes: 300,
	maxOutputNodes: 1_000_000,
	maxQueryPayloadSize: 5_000,
	// ceil(4/3 * 131072), the protocol's max transaction size with Base64 overhead.
	maxTxPayloadSize: 174_763,
	defaultPageSize: 20,
	maxPageSize: 50,
	maxMultiGetSize: 200,
	pageSizeOverrideFxObjectChanges: 1024,
	pageSizeOverridePackages: 200,
	maxRichQueries: 21,
});

// (parent type, field, argument) triples whose values count as transaction payload, not query.
const TX_PAYLOAD_ARGS = new Set([
	'Mutation.executeTransaction.transactionDataBcs',
	'Mutation.executeTransaction.signatures',
	'Query.simulateTransaction.transaction',
	'Query.verifySignature.message',
	'Query.verifySignature.signature',
	'Query.verifyZkLoginSignature.bytes',
	'Query.verifyZkLoginSignature.signature',
]);
const TX_PAYLOAD_FIELDS = new Set([...TX_PAYLOAD_ARGS].map((s) => s.split('.').slice(0, 2).join('.')));

const SNAKE = {
	enabled: 'enabled',
	max_query_depth: 'maxQueryDepth',
	max_query_nodes: 'maxQueryNodes',
	max_output_nodes: 'maxOutputNodes',
	max_query_payload_size: 'maxQueryPayloadSize',
	max_tx_payload_size: 'maxTxPayloadSize',
	default_page_size: 'defaultPageSize',
	max_page_size: 'maxPageSize',
	max_multi_get_size: 'maxMultiGetSize',
	page_size_override_fx_object_changes: 'pageSizeOverrideFxObjectChanges',
	page_size_override_packages: 'pageSizeOverridePackages',
};

/** Current limits of this process (one GraphQL service per process). */
let current = { ...DEFAULT_LIMITS };

export function limits() {
	return current;
}

/** Applies an admin/CLI change: {"enabled": false}, {"max_page_size": 100}, {"reset": true}. */
export function updateLimits(body = {}) {
	const next = body.reset ? { ...DEFAULT_LIMITS } : { ...current };
	for (const [k, v] of Object.entries(body)) {
		if (k === 'reset') continue;
		const key = SNAKE[k] ?? (k in DEFAULT_LIMITS ? k : null);
		if (!key) throw new Error(`unknown limit ${k}`);
		if (key === 'enabled') {
			if (typeof v !== 'boolean') throw new Error('enabled must be a boolean');
		} else if (!Number.isInteger(v) || v < 0 || v > 2 ** 32 - 1) throw new Error(`${k} must be a u32`);
		next[key] = v;
	}
	current = next;
	return limitsJson();
}

export function limitsJson(l = current) {
	const out = {};
	for (const [snake, camel] of Object.entries(SNAKE)) out[snake] = l[camel];
	return out;
}

/** Default and max page size of a connection field (`Type.field`), with Sui's overrides. */
export function pageLimits(type, field, l = current) {
	if (type === 'TransactionEffects' && field === 'objectChanges')
		return { default: l.pageSizeOverrideFxObjectChanges, max: l.pageSizeOverrideFxObjectChanges };
	if (type === 'Query' && field === 'packages') return { default: l.pageSizeOverridePackages, max: l.pageSizeOverridePackages };
	return { default: l.defaultPageSize, max: l.maxPageSize };
}

/** A limit violation, rendered like async-graphql renders Sui's query-limit errors. */
export class LimitError extends Error {
	constructor(message, { source, node, offset, path } = {}) {
		super(message);
		this.locations = [];
		const off = offset ?? node?.loc?.start;
		if (source && off != null) {
			const { line, column } = getLocation(source, off);
			this.locations.push({ line, column });
		}
		this.path = path ?? [];
	}
	toJSON() {
		const e = { message: this.message };
		if (this.locations.length) e.locations = this.locations;
		if (this.path.length) e.path = this.path;
		e.extensions = { code: 'GRAPHQL_VALIDATION_FAILED' };
		return e;
	}
}

/** The check that runs before the request is parsed (Content-Length against both budgets). */
export function checkRequestSize(contentLength, l = current) {
	if (!l.enabled) return;
	const max = l.maxQueryPayloadSize + l.maxTxPayloadSize;
	if (contentLength > max) throw new LimitError(`Request too large ${contentLength}B > ${max}B`);
}

// ---- input: depth and number of nodes over the AST (fragments inlined) ------------------------

function checkInput(doc, fragments, source, l) {
	let nodeBudget = l.maxQueryNodes;
	let depthBudget = l.maxQueryDepth;
	let next = [];
	for (const op of doc.definitions) {
		if (op.kind !== Kind.OPERATION_DEFINITION) continue;
		for (const sel of op.selectionSet.selections) next.push({ path: [], sel });
	}
	while (next.length) {
		if (depthBudget === 0) throw new LimitError(`Query nesting is over ${l.maxQueryDepth}`, { source, node: next[0].sel, path: next[0].path });
		depthBudget--;
		const cur = next;
		next = [];
		for (const { path, sel } of cur) {
			if (nodeBudget === 0) throw new LimitError(`Query has over ${l.maxQueryNodes} nodes`, { source, node: sel, path });
			nodeBudget--;
			if (sel.kind === Kind.FIELD) {
				const p = [...path, (sel.alias ?? sel.name).value];
				for (const s of sel.selectionSet?.selections ?? []) next.push({ path: p, sel: s });
			} else if (sel.kind === Kind.INLINE_FRAGMENT) {
				for (const s of sel.selectionSet.selections) next.push({ path, sel: s });
			} else if (sel.kind === Kind.FRAGMENT_SPREAD) {
				const def = fragments.get(sel.name.value);
				if (!def) throw new LimitError(`Fragment ${sel.name.value} referred to but not found in document`, { source, node: sel, path });
				for (const s of def.selectionSet.selections) next.push({ path, sel: s });
			}
		}
	}
	return { nodes: l.maxQueryNodes - nodeBudget, depth: l.maxQueryDepth - depthBudget };
}

// ---- a visitor over fields with their parent types (fragments inlined) -------------------------

function visitDocument(schema, doc, fragments, visitField) {
	for (const op of doc.definitions) {
		if (op.kind !== Kind.OPERATION_DEFINITION) continue;
		const root = op.operation === 'mutation' ? schema.getMutationType() : op.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
		if (!root) throw new LimitError(`${op.operation} not supported`);
		visitSelectionSet(schema, root, [], op.selectionSet, fragments, visitField, undefined);
	}
}

function visitSelectionSet(schema, type, path, selectionSet, fragments, visitField, state) {
	for (const sel of selectionSet.selections) {
		if (sel.kind === Kind.FIELD) {
			const name = sel.name.value;
			let def = null;
			if (name === '__typename') def = { name, type: 'String!', args: [] };
			else if (isObjectType(type) || isInterfaceType(type)) def = type.getFields()[name] ?? null;
			if (!def && name !== '__schema' && name !== '__type') continue; // schema validation already rejected it
			const p = [...path, (sel.alias ?? sel.name).value];
			const recurse = (childState) => {
				if (!sel.selectionSet || !def?.type || typeof def.type === 'string') return;
				visitSelectionSet(schema, getNamedType(def.type), p, sel.selectionSet, fragments, visitField, childState);
			};
			visitField({ parent: type, def, field: sel, path: p, state, recurse });
		} else if (sel.kind === Kind.INLINE_FRAGMENT) {
			const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
			visitSelectionSet(schema, t, path, sel.selectionSet, fragments, visitField, state);
		} else if (sel.kind === Kind.FRAGMENT_SPREAD) {
			const def = fragments.get(sel.name.value);
			if (!def) continue;
			visitSelectionSet(schema, schema.getType(def.typeCondition.name.value), path, def.selectionSet, fragments, visitField, state);
		}
	}
}

function argNode(field, name) {
	return field.arguments?.find((a) => a.name.value === name) ?? null;
}

/** Resolves an AST value with the request's variables (missing variables are null). */
function resolveValue(node, variables) {
	switch (node.kind) {
		case Kind.VARIABLE:
			return variables?.[node.name.value] ?? null;
		case Kind.INT:
		case Kind.FLOAT:
			return Number(node.value);
		case Kind.STRING:
		case Kind.ENUM:
			return node.value;
		case Kind.BOOLEAN:
			return node.value;
		case Kind.NULL:
			return null;
		case Kind.LIST:
			return node.values.map((v) => resolveValue(v, variables));
		case Kind.OBJECT:
			return Object.fromEntries(node.fields.map((f) => [f.name.value, resolveValue(f.value, variables)]));
	}
	return null;
}

// ---- payload: transaction payload arguments are excluded from the query budget -----------------

const utf8Len = (s) => Buffer.byteLength(s, 'utf8');

function checkPayload(schema, doc, fragments, variables, contentLength, source, l) {
	let budget = l.maxTxPayloadSize;
	const usedVars = new Set();
	const debit = (n, field, valueNode, path) => {
		if (n > budget) throw new LimitError(`Transaction payload exceeded limit of ${l.maxTxPayloadSize}B`, { source, node: valueNode, path });
		budget -= n;
	};
	const chargeJson = (value, field, valueNode, path) => {
		const stack = [value];
		while (stack.length) {
			const v = stack.pop();
			if (typeof v === 'string') debit(2 + utf8Len(v), field, valueNode, path);
			else if (Array.isArray(v)) {
				debit(2 + Math.max(v.length - 1, 0), field, valueNode, path);
				stack.push(...v);
			} else if (v === null || v === undefined) debit(4, field, valueNode, path);
			else if (typeof v === 'boolean') debit(v ? 4 : 5, field, valueNode, path);
			else if (typeof v === 'number') debit(String(v).length, field, valueNode, path);
			else if (typeof v === 'object') {
				const keys = Object.keys(v);
				debit(2 + Math.max(keys.length - 1, 0) + keys.reduce((s, k) => s + utf8Len(k) + 3, 0), field, valueNode, path);
				stack.push(...Object.values(v));
			}
		}
	};
	visitDocument(schema, doc, fragments, ({ parent, field, path, recurse }) => {
		const key = `${parent.name}.${field.name.value}`;
		if (TX_PAYLOAD_FIELDS.has(key)) {
			for (const arg of field.arguments ?? []) {
				if (!TX_PAYLOAD_ARGS.has(`${key}.${arg.name.value}`)) continue;
				const stack = [arg.value];
				while (stack.length) {
					const v = stack.pop();
					switch (v.kind) {
						case Kind.VARIABLE: {
							const name = v.name.value;
							if (usedVars.has(name)) break;
							usedVars.add(name);
							if (!variables || !(name in variables)) break;
							chargeJson(variables[name], field, arg.value, path);
							break;
						}
						case Kind.STRING:
							debit(2 + utf8Len(v.value), field, arg.value, path);
							break;
						case Kind.LIST:
							debit(2 + Math.max(v.values.length - 1, 0), field, arg.value, path);
							stack.push(...v.values);
							break;
						case Kind.OBJECT:
							debit(2 + Math.max(v.fields.length - 1, 0) + v.fields.reduce((s, f) => s + utf8Len(f.name.value) + 1, 0), field, arg.value, path);
							stack.push(...v.fields.map((f) => f.value));
							break;
						case Kind.INT:
						case Kind.FLOAT:
							debit(String(Number(v.value)).length, field, arg.value, path);
							break;
						case Kind.BOOLEAN:
							debit(v.value ? 4 : 5, field, arg.value, path);
							break;
						case Kind.ENUM:
							debit(v.value.length, field, arg.value, path);
							break;
						case Kind.NULL:
							debit(4, field, arg.value, path);
							break;
					}
				}
			}
		}
		recurse();
	});
	const txPayloadSize = l.maxTxPayloadSize - budget;
	const queryPayloadSize = contentLength - txPayloadSize;
	if (queryPayloadSize > l.maxQueryPayloadSize)
		throw new LimitError(`Query payload too large: ${queryPayloadSize}B > ${l.maxQueryPayloadSize}B`);
	return { query_payload_size: queryPayloadSize, tx_payload_size: txPayloadSize };
}

// ---- output: estimated output nodes from page sizes and multi-get keys -------------------------

function isConnection(def) {
	const t = String(def.type);
	return t.endsWith('Connection') || t.endsWith('Connection!');
}

function checkOutput(schema, doc, fragments, variables, source, l) {
	let budget = l.maxOutputNodes;
	visitDocument(schema, doc, fragments, ({ parent, def, field, path, state, recurse }) => {
		const { multiplicity: mult, pageSize } = state ?? { multiplicity: 1, pageSize: null };
		const err = (message) => new LimitError(message, { source, node: field, path });
		const deduct = (n) => {
			if (n > budget)
				throw err(
					`Query is estimated to produce over ${l.maxOutputNodes} output nodes. Try fetching fewer fields or fetching fewer items per page in paginated or multi-get fields.`,
				);
			budget -= n;
		};
		deduct(mult);
		let multiplicity = mult;
		let size = pageSize;
		const name = field.name.value;
		const keysNode = name.startsWith('multiGet') ? argNode(field, 'keys') : null;
		const keys = keysNode ? resolveValue(keysNode.value, variables) : null;
		if ((name === 'nodes' || name === 'edges') && pageSize != null) {
			multiplicity = Math.min(mult * pageSize, 2 ** 32 - 1);
			size = null;
			deduct(multiplicity);
		} else if (Array.isArray(keys)) {
			if (keys.length > l.maxMultiGetSize) throw err(`Too many keys supplied to multi-get: ${keys.length} > ${l.maxMultiGetSize}`);
			multiplicity = Math.min(mult * keys.length, 2 ** 32 - 1);
			size = null;
			deduct(multiplicity);
		} else if (def && typeof def.type !== 'string' && isConnection(def)) {
			const num = (a) => {
				const n = argNode(field, a);
				const v = n ? resolveValue(n.value, variables) : null;
				return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
			};
			const first = num('first');
			const last = num('last');
			const lim = pageLimits(parent.name, name, l);
			const s = first != null && last != null ? Math.max(first, last) : first ?? last ?? lim.default;
			if (s > lim.max) throw err(`Page size is too large: ${s} > ${lim.max}`);
			size = s;
		}
		recurse({ multiplicity, pageSize: size });
	});
	return { nodes: l.maxOutputNodes - budget };
}

/**
 * Runs the checks the real service runs after schema validation: input (depth, nodes), payload
 * (query vs transaction bytes), output (estimated nodes, page sizes, multi-get sizes).
 * Returns the usage report (`x-sui-rpc-show-usage`), throws LimitError on the first violation.
 */
export function checkDocument({ schema, doc, source, variables, contentLength }, l = current) {
	const fragments = new Map();
	for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
	const input = checkInput(doc, fragments, source, l);
	const payload = checkPayload(schema, doc, fragments, variables, contentLength, source, l);
	const output = checkOutput(schema, doc, fragments, variables, source, l);
	return { input, payload, output };
}
