// Key custody across processes on the running local stack: each FastCGI process holds the
// released key after first use.  The vault's Contoso key is rotated and released again: then
// every skr process that answers /encrypt and /decrypt uses the new key (ciphertexts open
// with the key in custody, the old key's do not), and no such process still has the old
// key's private exponent anywhere in its memory.  Each release used its own wrapping key.
// The vault's original key is put back and released again at the end, so the suites after
// this one see the key they always see.  Needs DEMO_STATE_DIR (and root for the memory scan).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt,
} from 'node:crypto';
import {
  closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, readlinkSync,
  realpathSync, statSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { URLS, STATE, call } from './lib.mjs';

const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
const KEY = 'contoso-secret-key';
const post = (path, body) => call(URLS.contoso, path, { method: 'POST', body });
const skip = !STATE || !existsSync(join(STATE, 'azure', 'kv-contoso'));
const vaultKeys = STATE && join(STATE, 'azure', 'kv-contoso', 'keys');
const appLog = STATE && join(STATE, 'contoso', 'log', 'app.log');
const custodyFile = STATE && join(STATE, 'contoso', 'run', 'released-key');

function heldKey() {
  const key = createPrivateKey({ key: readFileSync(custodyFile), format: 'der', type: 'pkcs8' });
  return { key, pub: createPublicKey(key), jwk: key.export({ format: 'jwk' }) };
}

// The log from byte offset on, and its length now.
const logSize = () => statSync(appLog).size;
function logSince(offset) {
  const fd = openSync(appLog, 'r');
  const n = logSize() - offset;
  const buf = Buffer.alloc(Math.max(n, 0));
  if (n > 0) readSync(fd, buf, 0, n, offset);
  closeSync(fd);
  return buf.toString('utf8');
}

// skr pids that answered path with 200 in text.
function answeredBy(text, path) {
  const re = new RegExp(`skr\\[(\\d+)\\] INFO POST ${path} -> 200`, 'g');
  return new Set([...text.matchAll(re)].map((m) => Number(m[1])));
}

// The wrapping keys' thumbprints of the releases logged in text.
const wrappingKids = (text) =>
  [...text.matchAll(/released key \S+ from \S+ \(native path, wrapping key ([A-Za-z0-9_-]+)\)/g)]
    .map((m) => m[1]);

// The vault's record and key file for KEY, to put back afterwards.
function vaultSnapshot() {
  const rec = readFileSync(join(vaultKeys, `${KEY}.json`));
  const version = JSON.parse(rec).version;
  const keyName = `${KEY}.${version}.key`;
  return { rec, keyName, keyBytes: readFileSync(join(vaultKeys, keyName)) };
}

// A new key version in the vault, as `keyvault init --force` makes one.
function rotateVaultKey() {
  const emu = join(dirname(realpathSync(join(STATE, 'app', 'fcgi-bin'))), 'emulator');
  execFileSync(join(emu, 'keyvault'), ['init', join(STATE, 'azure', 'kv-contoso'), '--key', KEY,
    '--size', '2048', '--policy', join(STATE, 'azure', 'release-policy-contoso.json'),
    '--host', '127.0.0.1', '--force'], { stdio: 'pipe' });
}

let snapshot = null;
function restoreVault() {
  if (!snapshot) return;
  for (const f of readdirSync(vaultKeys)) {
    if (f.startsWith(`${KEY}.`) && f.endsWith('.key') && f !== snapshot.keyName) {
      unlinkSync(join(vaultKeys, f));
    }
  }
  writeFileSync(join(vaultKeys, snapshot.keyName), snapshot.keyBytes, { mode: 0o600 });
  writeFileSync(join(vaultKeys, `${KEY}.json`), snapshot.rec, { mode: 0o600 });
  snapshot = null;
}

after(async () => {
  if (skip || !snapshot) return;
  restoreVault();
  await post('/skr/release', {});
});

// Two rounds of n requests at once: enough for lighttpd to hand them to every skr process.
async function burst(path, bodyOf, n = 24) {
  const results = [];
  for (let round = 0; round < 2; round++) {
    results.push(...await Promise.all(Array.from({ length: n }, (_, i) => post(path, bodyOf(i)))));
  }
  return results;
}

// Byte runs of a private JWK's d as memory holds it: BIGNUM limbs (little-endian) and DER.
function patterns(jwk) {
  const be = Buffer.from(jwk.d, 'base64url');
  const le = Buffer.from(be).reverse();
  return [be.subarray(32, 64), le.subarray(32, 64)];
}

// How many times any pattern occurs in the writable memory of pid (root reads it).
function memoryHits(pid, pats) {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n');
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  let hits = 0;
  try {
    for (const line of maps) {
      const [range, perms, , , , path = ''] = line.split(/\s+/);
      if (!perms.startsWith('rw') || path.startsWith('/dev/')) continue;
      const [lo, hi] = range.split('-').map((x) => parseInt(x, 16));
      if (hi - lo > 256 * 1024 * 1024) continue;
      const buf = Buffer.alloc(hi - lo);
      let got = 0;
      try { got = readSync(fd, buf, 0, buf.length, lo); } catch { continue; }
      const mem = buf.subarray(0, got);
      for (const p of pats) for (let i = mem.indexOf(p); i >= 0; i = mem.indexOf(p, i + 1)) hits++;
    }
  } finally {
    closeSync(fd);
  }
  return hits;
}

const state = {};

test('custody: a key replaced in the vault and released again is what every skr process uses', { skip }, async () => {
  const off0 = logSize();
  const r1 = await post('/skr/release', {});
  assert.equal(r1.status, 200, r1.text);
  const k1 = heldKey();
  state.k1 = k1;
  // Every skr process holds the first key: concurrent /encrypt reaches each of them.  Lighttpd
  // starts its second process under sustained load, so keep it up for a few seconds at most.
  let warm, before;
  for (const t0 = Date.now(); Date.now() - t0 < 10000;) {
    warm = await burst('/encrypt', (i) => ({ plaintext: `warm ${i}` }));
    for (const w of warm) assert.equal(w.status, 200, w.text);
    before = answeredBy(logSince(off0), '/encrypt');
    if (before.size >= 2) break;
  }
  assert.ok(before.size >= 2, `two skr processes answered /encrypt (pids ${[...before]}): ` +
    'the test needs lighttpd to run at least two');
  const ct1 = warm[0].json.ciphertext;
  assert.equal(privateDecrypt({ key: k1.key, ...OAEP }, Buffer.from(ct1, 'base64')).toString(),
    'warm 0');

  snapshot = vaultSnapshot();
  rotateVaultKey();
  const off = logSize();
  const r2 = await post('/skr/release', {});
  assert.equal(r2.status, 200, r2.text);
  assert.notEqual(r2.json.key.thumbprint, r1.json.key.thumbprint, 'the vault released a new key');
  const k2 = heldKey();
  state.k2 = k2;
  state.after = off;

  // Load until every process that held the first key has answered each path (10 s at most);
  // every answer is checked.
  const alive = [...before].filter((pid) => existsSync(`/proc/${pid}`));
  async function everyProcess(path, bodyOf, check) {
    for (const t0 = Date.now(); Date.now() - t0 < 10000;) {
      const rs = await burst(path, bodyOf);
      rs.forEach((r, i) => check(r, i % 24));
      const by = answeredBy(logSince(off), path);
      if (alive.every((pid) => by.has(pid))) return by;
    }
    return answeredBy(logSince(off), path);
  }
  // /encrypt from every process: each ciphertext opens with the new key only.
  const enc2 = await everyProcess('/encrypt', (i) => ({ plaintext: `after ${i}` }), (e, i) => {
    assert.equal(e.status, 200, e.text);
    const ct = Buffer.from(e.json.ciphertext, 'base64');
    assert.equal(privateDecrypt({ key: k2.key, ...OAEP }, ct).toString(), `after ${i}`);
    assert.throws(() => privateDecrypt({ key: k1.key, ...OAEP }, ct));
  });
  // /decrypt from every process: the new key's ciphertext opens, the old key's does not.
  const mine = publicEncrypt({ key: k2.pub, ...OAEP }, Buffer.from('for the new key')).toString('base64');
  const dec2 = await everyProcess('/decrypt', () => ({ ciphertext: mine }), (d) => {
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.plaintext, 'for the new key');
  });
  const old = await burst('/decrypt', () => ({ ciphertext: ct1 }));
  for (const d of old) assert.equal(d.status, 400, `the old key's ciphertext: ${d.text}`);
  for (const pid of alive) {
    assert.ok(enc2.has(pid) && dec2.has(pid), `skr[${pid}], which held the first key, answered after the release`);
  }
  state.pids = [...new Set([...enc2, ...dec2])].filter((p) => existsSync(`/proc/${p}`));
});

test('custody: no skr process that answered after the release still has the old key in memory', { skip }, async (t) => {
  if (!state.pids) return t.skip('the previous test did not get this far');
  try {
    readFileSync(`/proc/${state.pids[0]}/maps`);
    closeSync(openSync(`/proc/${state.pids[0]}/mem`, 'r'));
  } catch (e) {
    return t.skip(`cannot read another process's memory here (${e.code})`);
  }
  const oldPats = patterns(state.k1.jwk), newPats = patterns(state.k2.jwk);
  for (const pid of state.pids) {
    const exe = readlinkSync(`/proc/${pid}/exe`);
    assert.match(exe, /\/skr$/);
    assert.ok(memoryHits(pid, newPats) > 0, `skr[${pid}] holds the new key (the scan sees it)`);
    assert.equal(memoryHits(pid, oldPats), 0, `skr[${pid}] has no trace of the old key's d`);
  }
});

test('custody: every release used a wrapping key of its own', { skip }, async () => {
  const off = logSize();
  for (let i = 0; i < 3; i++) {
    const r = await post('/skr/release', {});
    assert.equal(r.status, 200, r.text);
  }
  const kids = wrappingKids(logSince(state.after ?? off));
  assert.ok(kids.length >= 4, `wrapping keys logged: ${kids.length}`);
  assert.equal(new Set(kids).size, kids.length, `no wrapping key twice: ${kids.join(' ')}`);
});

test('custody: the original vault key is back in custody', { skip }, async () => {
  if (!snapshot) return;
  const want = state.k1 && state.k1.jwk.n;
  restoreVault();
  const r = await post('/skr/release', {});
  assert.equal(r.status, 200, r.text);
  assert.equal(heldKey().jwk.n, want, 'the key held before this suite');
  const e = await post('/encrypt', { plaintext: 'back' });
  assert.equal(privateDecrypt({ key: state.k1.key, ...OAEP }, Buffer.from(e.json.ciphertext, 'base64')).toString(), 'back');
});
