// Issue 3 on the running local stack: secure key release, key custody, /encrypt and /decrypt.
// Contoso releases its key (public facts only) and round-trips short and long plaintext; Fabrikam
// cannot decrypt Contoso's ciphertext; /skr/release-other and the snooper are refused; a body
// naming another key or endpoint releases nothing; and finally no response body and no log file
// holds private key material.  Other suites may share the stack: every release of a company's key
// yields the same vault key, so checks compare thumbprints, never timestamps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createHash, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, constants,
} from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { URLS, STATE, PORT, call, seenBodies, filesUnder } from './lib.mjs';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];
const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
const post = (inst, path, body) => call(URLS[inst], path, { method: 'POST', body });

// Every member name anywhere in a JSON value.
function memberNames(v, out = new Set()) {
  if (Array.isArray(v)) v.forEach((x) => memberNames(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) { out.add(k); memberNames(x, out); }
  }
  return out;
}

function thumbprint(jwk) {
  const canon = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  return createHash('sha256').update(canon).digest('base64url');
}

// The key an instance holds, read from its custody file (only here, to know what to search for).
function heldKey(inst) {
  const p = join(STATE, inst, 'run', 'released-key');
  if (!STATE || !existsSync(p)) return null;
  const st = statSync(p);
  assert.equal(st.mode & 0o077, 0, `${p} is private to its owner`);
  const key = createPrivateKey({ key: readFileSync(p), format: 'der', type: 'pkcs8' });
  return { key, jwk: key.export({ format: 'jwk' }), pub: createPublicKey(key) };
}

const state = {};

test('contoso: /skr/config names its own and the other company', async () => {
  const r = await call(URLS.contoso, '/skr/config');
  assert.equal(r.status, 200);
  assert.equal(r.json.company_name, 'Contoso');
  assert.equal(r.json.key_name, 'contoso-secret-key');
  assert.equal(r.json.configured, true);
  assert.equal(r.json.is_confidential, true);
  assert.equal(r.json.emulated, true);
  assert.equal(r.json.akv_endpoint, `127.0.0.1:${PORT + 21}`);
  assert.deepEqual(r.json.other_company, {
    name: 'Fabrikam', key_name: 'fabrikam-secret-key', akv_endpoint: `127.0.0.1:${PORT + 22}`,
  });
  const s = await call(URLS.snooper, '/skr/config');
  assert.equal(s.json.is_confidential, false, 'the snooper has no TEE');
});

test('contoso: /skr/release answers public facts only', async () => {
  const r = await post('contoso', '/skr/release', {});
  assert.equal(r.status, 200, r.text);
  const j = r.json;
  assert.equal(j.status, 'success');
  assert.equal(j.encryption_enabled, true);
  assert.equal(j.key_name, 'contoso-secret-key');
  assert.equal(j.akv_endpoint, `127.0.0.1:${PORT + 21}`);
  assert.equal(j.key.name, 'contoso-secret-key');
  assert.match(j.key.kid, /\/keys\/contoso-secret-key(\/|$)/);
  assert.match(j.key.kty, /^RSA(-HSM)?$/);
  assert.ok(j.key.size >= 2048);
  assert.match(j.key.thumbprint, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(Array.isArray(j.key.key_ops));
  assert.equal(j.enc, 'RSA_AES_KEY_WRAP_256', 'the key came wrapped with SHA-256 OAEP, not the SHA-1 default');
  assert.ok(j.max_plaintext >= 3000, `max_plaintext ${j.max_plaintext}`);
  assert.equal(j.claims['x-ms-attestation-type'], 'sevsnpvm');
  assert.ok(j.timing_ms && typeof j.timing_ms.total === 'number');
  const names = memberNames(j);
  for (const m of PRIVATE_MEMBERS) assert.ok(!names.has(m), `no "${m}" member in the answer`);
  assert.ok(!/PRIVATE KEY/.test(r.text), 'no PEM private key');
  state.contosoThumb = j.key.thumbprint;

  const held = heldKey('contoso');
  if (held) assert.equal(thumbprint(held.jwk), j.key.thumbprint, 'the held key is the one described');

  const ks = await call(URLS.contoso, '/skr/key-status');
  assert.equal(ks.json.released, true);
  assert.equal(ks.json.thumbprint, j.key.thumbprint);
  assert.equal(ks.json.key_name, 'contoso-secret-key');
});

test('contoso: a short and a 3000-byte plaintext round-trip', async () => {
  const short = 'Alice Example, +1 555 0100 — ünïcødé';
  const e1 = await post('contoso', '/encrypt', { plaintext: short });
  assert.equal(e1.status, 200, e1.text);
  assert.equal(e1.json.algorithm, 'RSA-OAEP-SHA256');
  assert.equal(e1.json.ciphertext.length, 344, 'one RSA-2048 block in base64');
  assert.equal(e1.json.plaintext_length, Buffer.byteLength(short));
  const d1 = await post('contoso', '/decrypt', { ciphertext: e1.json.ciphertext });
  assert.equal(d1.status, 200, d1.text);
  assert.equal(d1.json.plaintext, short);

  const long = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  const e2 = await post('contoso', '/encrypt', { plaintext: long });
  assert.equal(e2.status, 200, e2.text);
  assert.notEqual(e2.json.algorithm, 'RSA-OAEP-SHA256');
  assert.match(e2.json.ciphertext, /^env1:/);
  const d2 = await post('contoso', '/decrypt', { ciphertext: e2.json.ciphertext });
  assert.equal(d2.status, 200, d2.text);
  assert.equal(d2.json.plaintext, long);
  state.short = e1.json.ciphertext;
  state.long = e2.json.ciphertext;

  const tooLong = await post('contoso', '/encrypt', { plaintext: 'x'.repeat(e1.json.max_length + 1) });
  assert.ok(tooLong.status === 400 || tooLong.status === 413, tooLong.text);
});

test("contoso: the original record format is interchangeable with node's RSA-OAEP-SHA256", async (t) => {
  const held = heldKey('contoso');
  if (!held) return t.skip('DEMO_STATE_DIR not set');
  const mine = publicEncrypt({ key: held.pub, ...OAEP }, Buffer.from('from the original demo'));
  const d = await post('contoso', '/decrypt', { ciphertext: mine.toString('base64') });
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json.plaintext, 'from the original demo');
  const theirs = privateDecrypt({ key: held.key, ...OAEP }, Buffer.from(state.short, 'base64'));
  assert.match(theirs.toString('utf8'), /^Alice Example/);
});

test('contoso: tampered ciphertext is a 4xx that tells nothing', async () => {
  const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (const bad of [flip(state.short, 10), flip(state.long, 30), flip(state.long, 2000),
    state.long.slice(0, -8), 'env1:AAAA', 'not base64 at all']) {
    const r = await post('contoso', '/decrypt', { ciphertext: bad });
    assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
    assert.equal(r.json.status, 'error');
  }
});

test("fabrikam: after releasing its own key it cannot decrypt contoso's ciphertext", async () => {
  const r = await post('fabrikam', '/skr/release', {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.key.name, 'fabrikam-secret-key');
  assert.notEqual(r.json.key.thumbprint, state.contosoThumb);
  state.fabrikamThumb = r.json.key.thumbprint;
  for (const ct of [state.short, state.long]) {
    const d = await post('fabrikam', '/decrypt', { ciphertext: ct });
    assert.ok(d.status >= 400 && d.status < 500, `${d.status} ${d.text}`);
    assert.ok(!('plaintext' in d.json));
    assert.match(d.json.message, /not produced with this key or was modified/);
  }
});

test("contoso: /skr/release-other is access_denied with the vault's reason", async () => {
  const r = await post('contoso', '/skr/release-other', {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'access_denied', r.text);
  assert.equal(r.json.our_company, 'Contoso');
  assert.equal(r.json.other_company, 'Fabrikam');
  assert.equal(r.json.attempted_key, 'fabrikam-secret-key');
  assert.equal(r.json.attempted_keyvault, `127.0.0.1:${PORT + 22}`);
  assert.equal(r.json.attempted_akv, r.json.attempted_keyvault);
  assert.ok([401, 403].includes(r.json.http_status), `http_status ${r.json.http_status}`);
  assert.ok(r.json.error_detail.length > 10, 'the vault said why');
  assert.equal(r.json.error, r.json.error_detail);
  assert.ok(r.json.explanation);
  const ks = await call(URLS.contoso, '/skr/key-status');
  assert.equal(ks.json.thumbprint, state.contosoThumb, 'contoso still holds its own key');
});

test('contoso: the release policy dry run says which condition holds', async () => {
  const own = await post('contoso', '/skr/policy-check', { key: 'own' });
  assert.equal(own.status, 200, own.text);
  if (own.json.policy_readable) {
    assert.equal(own.json.would_release, true, own.text);
    assert.ok(own.json.evaluation);
  }
  const other = await post('contoso', '/skr/policy-check', { key: 'other' });
  assert.equal(other.status, 200, other.text);
  assert.notEqual(other.json.would_release, true);
  assert.ok(other.json.first_failure, 'names the first unmet condition or the refusal');
  const bad = await post('contoso', '/skr/policy-check', { key: 'https://evil.example' });
  assert.equal(bad.status, 400);
});

test("the snooper's release is denied with a diagnosis", async () => {
  const r = await post('snooper', '/skr/release', {});
  assert.ok((r.status >= 400 && r.status < 500) || r.status === 503, `${r.status} ${r.text}`);
  assert.equal(r.json.status, 'error');
  assert.ok(r.json.failure_reason);
  assert.ok(r.json.diagnosis && r.json.diagnosis.likely_cause);
  assert.ok(r.json.logs, 'the logs panel has something to show');
  const ks = await call(URLS.snooper, '/skr/key-status');
  assert.equal(ks.json.released, false);
  if (STATE) assert.ok(!existsSync(join(STATE, 'snooper', 'run', 'released-key')));
  const e = await post('snooper', '/encrypt', { plaintext: 'hello' });
  assert.equal(e.status, 400);
  assert.match(e.json.message, /No key released/);
});

test('a body naming another key or endpoint is answered from the configuration and says so', async () => {
  // The original page always sends its defaults; the configuration decides, the request is
  // never followed, and the answer reports what it ignored (DESIGN.md invariant 2).
  const bodies = [
    [{ kid: 'fabrikam-secret-key' }, ['kid']],
    [{ akv_endpoint: `127.0.0.1:${PORT + 22}` }, ['akv_endpoint']],
    [{ akv_endpoint: `http://127.0.0.1:${PORT + 22}`, kid: 'fabrikam-secret-key' }, ['akv_endpoint', 'kid']],
    [{ akv_endpoint: 'attacker.example.com' }, ['akv_endpoint']],
    [{ maa_endpoint: 'attacker.example.com' }, ['maa_endpoint']],
    [{ maa_endpoint: `http://127.0.0.1:${PORT + 9}` }, ['maa_endpoint']],
  ];
  for (const [body, ignored] of bodies) {
    const r = await post('contoso', '/skr/release', body);
    assert.equal(r.status, 200, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.json.key.name, 'contoso-secret-key', 'the configured key, never the named one');
    assert.equal(r.json.akv_endpoint, `127.0.0.1:${PORT + 21}`);
    assert.equal(r.json.maa_endpoint, `127.0.0.1:${PORT + 10}`);
    for (const f of ignored) assert.equal(r.json[`${f}_requested`], body[f], `${f} is reported as ignored`);
    assert.equal(r.json.configuration_notes.length, ignored.length, r.text);
    assert.equal(r.json.key.thumbprint, state.contosoThumb, 'still contoso\'s own key');
  }
  // Malformed values are bad input.
  for (const body of [{ kid: 123 }, { kid: '../etc' }, { akv_endpoint: 'https://a.example/path' }]) {
    const r = await post('contoso', '/skr/release', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.json.status, 'error');
  }
  const ks = await call(URLS.contoso, '/skr/key-status');
  assert.equal(ks.json.thumbprint, state.contosoThumb, 'still contoso\'s own key');
  assert.notEqual(ks.json.thumbprint, state.fabrikamThumb);
  // Naming the configured values reports nothing.
  const ok = await post('contoso', '/skr/release', {
    kid: 'contoso-secret-key', akv_endpoint: `http://127.0.0.1:${PORT + 21}`,
  });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.configuration_notes, undefined);
});

test('request fields that are not UTF-8 get a 400; quotes of long fields never split a character', async () => {
  const cases = [
    ['/skr/release', 'kid'], ['/skr/release', 'akv_endpoint'], ['/skr/release', 'maa_endpoint'],
    ['/skr/policy-check', 'key'], ['/decrypt', 'ciphertext'],
  ];
  for (const [path, field] of cases) {
    const raw = Buffer.concat([Buffer.from(`{"${field}":"ab`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const r = await call(URLS.contoso, path, { method: 'POST', raw, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, `${path} ${field}: ${r.status} ${r.text}`);
    assert.equal(r.json.status, 'error');
    assert.match(r.json.message, /UTF-8/);
  }
  // A long multi-byte kid is quoted cut at a character boundary, so the answer stays UTF-8.
  const res = await fetch(URLS.contoso + '/skr/release', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kid: 'x' + '\u00e9'.repeat(60) }),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 400);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  assert.equal(JSON.parse(text).status, 'error');
  const ks = await call(URLS.contoso, '/skr/key-status');
  if (state.contosoThumb) assert.equal(ks.json.thumbprint, state.contosoThumb);
});

test('no response body and no log file holds private key material', async (t) => {
  const needles = [];
  for (const inst of ['contoso', 'fabrikam']) {
    const held = heldKey(inst);
    if (!held) continue;
    for (const m of ['d', 'p', 'q']) {
      const raw = Buffer.from(held.jwk[m], 'base64url');
      needles.push({ what: `${inst} ${m} (b64url)`, s: held.jwk[m].slice(0, 40) });
      needles.push({ what: `${inst} ${m} (base64)`, s: raw.toString('base64').slice(0, 40) });
      needles.push({ what: `${inst} ${m} (hex)`, s: raw.toString('hex').slice(0, 48) });
      needles.push({ what: `${inst} ${m} (HEX)`, s: raw.toString('hex').slice(0, 48).toUpperCase() });
    }
  }
  const patterns = [/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/, /"(d|dp|dq|qi|p|q)"\s*:\s*"[A-Za-z0-9_-]{20,}/];
  const scan = (what, text) => {
    for (const re of patterns) assert.ok(!re.test(text), `${what} matches ${re}`);
    for (const n of needles) assert.ok(!text.includes(n.s), `${what} holds ${n.what}`);
  };
  assert.ok(seenBodies.length > 20, 'bodies were collected');
  seenBodies.forEach((b, i) => scan(`response body #${i}`, b));
  if (!STATE) return t.skip('DEMO_STATE_DIR not set: log files not scanned');
  assert.ok(needles.length > 0, 'the held keys were found to search for');
  let files = 0;
  for (const inst of readdirSync(STATE)) {
    const dir = join(STATE, inst, 'log');
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    for (const f of filesUnder(dir)) {
      scan(f, readFileSync(f).toString('latin1'));
      files++;
    }
  }
  for (const f of readdirSync(STATE).filter((n) => n.endsWith('.log'))) { // supervisord.log
    scan(f, readFileSync(join(STATE, f)).toString('latin1'));
    files++;
  }
  assert.ok(files > 0, 'log files were scanned');
});
