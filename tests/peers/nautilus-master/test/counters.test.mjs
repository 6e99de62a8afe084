// GET /admin/counters: bytes on the wire of the master port (TCP: TLS included), requests per
// second per endpoint, and a short view of the nodes; the benchmarks read it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { admin, makePki, removeDir, request, startServer, tlsAgent } from '../support/helpers.mjs';

let pki;
let srv;
before(async () => {
  pki = makePki();
  srv = await startServer(pki);
});
after(async () => {
  await srv?.stop();
  removeDir(pki);
});

test('counters: wire bytes grow with each request, a new connection costs a TLS handshake, timeline per second', async () => {
  const c0 = await admin(srv.info, 'GET', '/admin/counters');
  const agent = tlsAgent(pki);
  const t0 = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 3; i++) {
    const r = await request(`${srv.info.url}/health_check`, { agent });
    assert.equal(r.status, 200);
  }
  const c1 = await admin(srv.info, 'GET', '/admin/counters');
  assert.equal(c1.wire.connections - c0.wire.connections, 1, 'one kept-alive connection');
  const kept = c1.wire.bytes_out - c0.wire.bytes_out;
  assert.ok(kept > 1000, `the server certificate alone is > 1 kB; got ${kept}`);
  assert.ok(c1.wire.bytes_in - c0.wire.bytes_in > 500, 'the client certificate was sent');
  // A fourth request on the same connection costs far less than the first three with the handshake.
  await request(`${srv.info.url}/health_check`, { agent });
  const c2 = await admin(srv.info, 'GET', '/admin/counters');
  const one = c2.wire.bytes_out - c1.wire.bytes_out;
  assert.ok(one > 50 && one < kept / 3, `one request on a kept-alive connection: ${one} B`);
  agent.destroy();
  const seconds = Object.entries(c2.timeline).filter(([s]) => Number(s) >= t0);
  assert.equal(seconds.reduce((n, [, row]) => n + (row.health_check ?? 0), 0), 4);
  assert.equal(c2.counters.requests.health_check, 4);
  assert.ok(Array.isArray(c2.nodes));
  assert.match(c2.enclave_public_key, /^[0-9a-f]{64}$/);
});
