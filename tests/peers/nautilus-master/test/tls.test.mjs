// Mutual TLS and connection reuse: clients without a certificate, or with one from an unrelated
// CA, are refused during the handshake; a client that does not trust the server CA refuses it;
// many requests over one keep-alive agent make one TLS handshake. Also the PKI script itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { PEER_DIR, admin, makePki, removeDir, request, startServer, tlsAgent } from '../support/helpers.mjs';

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

test('make-pki.sh: files, modes, chain shape, idempotent', () => {
  const names = ['tls-ca', 'server', 'client-ca', 'client', 'other-ca', 'other-client', 'nitro-root', 'nitro-inter', 'nitro-leaf'];
  const before_ = {};
  for (const n of names) {
    for (const ext of ['pem', 'key']) {
      const st = fs.statSync(path.join(pki, `${n}.${ext}`));
      if (ext === 'key') assert.equal(st.mode & 0o777, 0o600, `${n}.key is 0600`);
      before_[`${n}.${ext}`] = fs.readFileSync(path.join(pki, `${n}.${ext}`));
    }
  }
  const cert = (n) => new crypto.X509Certificate(fs.readFileSync(path.join(pki, `${n}.pem`)));
  assert.match(cert('server').subjectAltName, /DNS:localhost/);
  assert.match(cert('server').subjectAltName, /IP Address:127\.0\.0\.1/);
  assert.match(cert('client').subject, /CN=worker-1/);
  assert.ok(cert('client').checkIssued(cert('client-ca')));
  assert.ok(cert('other-client').checkIssued(cert('other-ca')));
  assert.match(cert('nitro-root').subject, /CN=aws\.nitro-enclaves-test/);
  for (const n of ['nitro-root', 'nitro-inter', 'nitro-leaf']) {
    assert.equal(cert(n).publicKey.asymmetricKeyDetails.namedCurve, 'secp384r1');
  }
  assert.ok(cert('nitro-leaf').verify(cert('nitro-inter').publicKey));
  assert.ok(cert('nitro-inter').verify(cert('nitro-root').publicKey));
  const leafYears = (Date.parse(cert('nitro-leaf').validTo) - Date.now()) / (365 * 86400_000);
  assert.ok(leafYears > 9, 'leaf lives ~10 years by default');
  for (const n of names) {
    assert.ok(Date.parse(cert(n).validFrom) < Date.now() - 86400_000, `${n} is back-dated (old documents and skewed clocks verify)`);
  }

  const out = execFileSync(path.join(PEER_DIR, 'make-pki.sh'), [pki], { encoding: 'utf8' });
  assert.equal(out, '', 'prints nothing');
  for (const [f, bytes] of Object.entries(before_)) assert.ok(fs.readFileSync(path.join(pki, f)).equals(bytes), `${f} unchanged`);
  assert.deepEqual(fs.readdirSync(pki).filter((f) => f.startsWith('.')), [], 'no temp files left');

  // --leaf-days: a short-lived leaf like AWS's
  fs.rmSync(path.join(pki, 'nitro-leaf.pem'));
  fs.rmSync(path.join(pki, 'nitro-leaf.key'));
  execFileSync(path.join(PEER_DIR, 'make-pki.sh'), ['--leaf-days', '1', pki]);
  const days = (Date.parse(cert('nitro-leaf').validTo) - Date.now()) / 86400_000;
  assert.ok(days > 0.9 && days < 1.1);
  assert.throws(() => execFileSync(path.join(PEER_DIR, 'make-pki.sh'), [], { stdio: 'pipe' }));
});

async function refusedInHandshake(client) {
  const before_ = (await admin(srv.info, 'GET', '/admin/state')).counters;
  const agent = tlsAgent(pki, { client });
  // TLS 1.3: the client finishes its side, then reads the server's alert or a reset
  await assert.rejects(request(`${srv.info.url}/health_check`, { agent }),
    (e) => /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE|alert|unknown ca/i.test(`${e.code} ${e.message}`));
  agent.destroy();
  const now = (await admin(srv.info, 'GET', '/admin/state')).counters;
  assert.equal(now.tls_errors, before_.tls_errors + 1, 'the server saw a TLS client error');
  assert.equal(now.tls_handshakes, before_.tls_handshakes, 'no handshake completed');
  assert.equal(now.requests.health_check, before_.requests.health_check, 'no request reached HTTP');
}

test('a client without a certificate is refused in the TLS handshake', () => refusedInHandshake(null));

test('a client certificate from an unrelated CA is refused in the TLS handshake', () => refusedInHandshake('other-client'));

test('a client that trusts another CA refuses the server', async () => {
  const agent = tlsAgent(pki, { ca: 'other-ca.pem' });
  await assert.rejects(request(`${srv.info.url}/health_check`, { agent }), (e) => e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || /verify|self.signed|issuer/i.test(e.message));
  agent.destroy();
});

test('many requests over one keep-alive agent make one TLS handshake', async () => {
  await admin(srv.info, 'POST', '/admin/reset-counters');
  const agent = tlsAgent(pki);
  for (let i = 0; i < 25; i++) {
    const r = await request(`${srv.info.url}/health_check`, { agent });
    assert.equal(r.status, 200);
    assert.equal(r.json.pk, srv.info.enclave_public_key);
  }
  const state = await admin(srv.info, 'GET', '/admin/state');
  assert.equal(state.counters.tls_handshakes, 1);
  assert.equal(state.counters.connections, 1);
  assert.equal(state.counters.requests.health_check, 25);
  assert.equal(state.counters.client_certs.authorized, 25);
  agent.destroy();
});

test('--require-client-cert false lets a client without a certificate in', async () => {
  const open = await startServer(pki, ['--no-chain-check', '--require-client-cert', 'false']);
  try {
    const agent = tlsAgent(pki, { client: null });
    const r = await request(`${open.info.url}/health_check`, { agent });
    assert.equal(r.status, 200);
    agent.destroy();
    const state = await admin(open.info, 'GET', '/admin/state');
    assert.equal(state.counters.client_certs.none, 1);
  } finally {
    await open.stop();
  }
});

test('SIGTERM stops the server promptly with exit 0, even with an idle keep-alive connection', async () => {
  const s = await startServer(pki);
  const agent = tlsAgent(pki);
  await request(`${s.info.url}/health_check`, { agent });
  const t0 = Date.now();
  assert.equal(await s.stop(), 0);
  assert.ok(Date.now() - t0 < 2000);
  agent.destroy();
});

test('bad command lines exit 2 with a message', () => {
  const run = (args) => {
    try {
      execFileSync(process.execPath, [path.join(PEER_DIR, 'server.mjs'), ...args], { stdio: 'pipe' });
      return { status: 0 };
    } catch (e) {
      return { status: e.status, stderr: e.stderr.toString() };
    }
  };
  let r = run([]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--pki/);
  r = run(['--pki', pki]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--sui-graphql/);
  r = run(['--pki', pki, '--no-chain-check', '--pcr0', 'abc']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--pcr0/);
});
