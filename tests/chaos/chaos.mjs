// The fault campaign of tests/chaos/run.sh against a stack of its own (scripts/run-local.sh on
// CHAOS_PORT, state in CHAOS_STATE, HTTP_TIMEOUT_SECONDS short).  Under a light load on Contoso
// it kills -9 one process of every kind and measures how long the service takes to come back,
// checks that every FastCGI program is a child of the live lighttpd, SIGSTOPs every upstream and
// checks that /health stays fast while calls to it end in 504 with a clear message, sends the
// bad inputs, checks the record file, and last kills supervisord and checks nothing is left.
// Prints one line per check, a table of figures, and "N passed, N failed".
import { readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';

const P = Number(process.env.CHAOS_PORT);
const S = process.env.CHAOS_STATE;
const TIMEOUT_S = Number(process.env.HTTP_TIMEOUT_SECONDS || 2);
const port = { contoso: P + 1, fabrikam: P + 2, snooper: P + 3, maa: P + 10, imdsC: P + 11,
  imdsF: P + 12, kvC: P + 21, kvF: P + 22 };
const allPorts = [P, P + 1, P + 2, P + 3, P + 10, P + 11, P + 12, P + 13, P + 21, P + 22];
const url = (where, path) => `http://127.0.0.1:${port[where] ?? where}${path}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail ? `: ${String(detail).slice(0, 1500)}` : ''}`); }
  return ok;
}

async function call(where, path, { method = 'GET', body, raw, headers = {}, timeout = 15000 } = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(timeout) };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers['content-type'] = 'application/json'; }
  const t0 = now();
  try {
    const res = await fetch(url(where, path), init);
    const text = await res.text();
    let json; try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, text, json, ms: now() - t0, ctype: res.headers.get('content-type') || '' };
  } catch (e) {
    return { status: 0, text: String(e.cause?.code || e.name || e), ms: now() - t0 };
  }
}

// ---- the process table ----
function readProc(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid: Number(pid), ppid, argv, cmd: argv.join(' ') };
  } catch { return null; }
}
function procs() {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(readProc).filter((p) => p && p.argv.length);
}
function envOf(pid) {
  try { return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0'); } catch { return []; }
}
function descendants(root, table) {
  const kids = new Map();
  for (const p of table) { if (!kids.has(p.ppid)) kids.set(p.ppid, []); kids.get(p.ppid).push(p); }
  const out = [];
  const walk = (pid) => { for (const k of kids.get(pid) || []) { out.push(k); walk(k.pid); } };
  walk(root);
  return out;
}
const supervisordPid = () => Number(readFileSync(`${S}/supervisord.pid`, 'utf8').trim());
// The lighttpd of an instance (by its HTTP_PORT) or of the stand-ins.
function lighttpdOf(which, table = procs()) {
  const sup = supervisordPid();
  return table.find((p) => p.ppid === sup && p.argv[0].endsWith('lighttpd') && (which === 'azure'
    ? p.cmd.includes('lighttpd-local.conf')
    : envOf(p.pid).includes(`HTTP_PORT=${port[which]}`)));
}
// Listening Unix socket path of each FastCGI process (its fd 0), from /proc/net/unix.
function socketPaths() {
  const byInode = new Map();
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8) byInode.set(f[6], f[7]);
  }
  return byInode;
}
function fd0Socket(pid, byInode) {
  try {
    const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/0`));
    return m ? byInode.get(m[1]) || '' : '';
  } catch { return ''; }
}
// Processes of one pool: children of lighttpd `which` whose socket name starts with prefix.
function pool(which, prefix) {
  const table = procs(), l = lighttpdOf(which, table);
  if (!l) return [];
  const dir = which === 'azure' ? `${S}/azure/run/` : `${S}/${which}/run/`;
  const byInode = socketPaths();
  return table.filter((p) => p.ppid === l.pid).filter((p) => {
    const s = fd0Socket(p.pid, byInode);
    return s.startsWith(dir + prefix + '-') && /^-\d+\.sock-\d+$/.test(s.slice((dir + prefix).length));
  });
}
const kill = (pid, sig) => { try { process.kill(pid, sig); return true; } catch { return false; } };

// Every FastCGI program of the stack is a child of a live lighttpd of it, and none lives elsewhere.
function programsOwned() {
  const table = procs(), sup = supervisordPid();
  const lighttpds = new Set(table.filter((p) => p.ppid === sup && p.argv[0].endsWith('lighttpd')).map((p) => p.pid));
  const progs = table.filter((p) => p.argv[0].startsWith(`${S}/app/fcgi-bin/`) ||
    /\/emulator\/(maa|imds|identity|keyvault)$/.test(p.argv[0]) && envOf(p.pid).some((e) => e.startsWith(`EMU_STATE=${S}/`)));
  const strays = progs.filter((p) => !lighttpds.has(p.ppid));
  return { ok: strays.length === 0 && progs.length > 0, detail: strays.map((p) => `${p.pid}<-${p.ppid} ${p.argv[0]}`).join(', '), count: progs.length };
}

// ---- the load: light, steady, on Contoso ----
const load = { stop: false, log: [], saved: new Set(), unsure: new Set(), n: 0 };
async function lane(name, interval, fn) {
  while (!load.stop) {
    const t0 = now();
    const r = await fn();
    load.log.push({ lane: name, t0, t1: now(), status: r.status });
    await sleep(Math.max(0, interval - (now() - t0)));
  }
}
function startLoad() {
  return Promise.all([
    lane('health', 50, () => call('contoso', '/health', { timeout: 5000 })),
    lane('list', 250, () => call('contoso', '/company/list', { timeout: 10000 })),
    lane('attest', 300, () => call('contoso', '/attest/raw', { method: 'POST', body: {}, timeout: 10000 })),
    lane('save', 150, async () => {
      const name = `chaos-${++load.n}`;
      const r = await call('contoso', '/company/save', { method: 'POST', body: { name, phone: `555-${load.n}` }, timeout: 10000 });
      if (r.status === 200) load.saved.add(name);
      else load.unsure.add(name); // it may or may not have been written before the fault
      return r;
    }),
  ]);
}
const rate = () => { const l = load.log; return l.length ? l.length / ((l.at(-1).t1 - l[0].t0) / 1000) : 0; };

const figures = [];
// Kill, then poll probe until it passes; record the recovery time and the load's losses.
async function faultKill(kind, pids, probe, { limitMs = 2000, settle = 400, full } = {}) {
  if (!check(`${kind}: found its process`, pids.length > 0, 'no process to kill')) return;
  const mark = load.log.length, t0 = now();
  for (const pid of pids) kill(pid, 'SIGKILL');
  let back = -1;
  await sleep(30);
  while (now() - t0 < limitMs + 3000) {
    if (await probe() && (!full || full())) { back = now() - t0; break; }
    await sleep(25);
  }
  await sleep(settle);
  const window = load.log.slice(mark);
  const lost = window.filter((r) => r.status === 0 || r.status >= 500).length;
  figures.push({ kind, recovery: back < 0 ? 'never' : `${Math.round(back)} ms`, sent: window.length, lost });
  check(`${kind}: kill -9, service back in ${Math.round(back)} ms (limit ${limitMs})`, back >= 0 && back <= limitMs);
  const own = programsOwned();
  check(`${kind}: every FastCGI program is a child of the live lighttpd (${own.count})`, own.ok, own.detail);
}

const ok200 = (where, path, opts) => async () => (await call(where, path, { timeout: 1500, ...opts })).status === 200;
const answers = (where, path, opts) => async () => { const s = (await call(where, path, { timeout: 1500, ...opts })).status; return s > 0 && s < 500; };

async function healthFast(label) {
  const ms = [];
  for (let i = 0; i < 5; i++) { const r = await call('contoso', '/health', { timeout: 3000 }); ms.push(r.status === 200 ? r.ms : Infinity); await sleep(20); }
  ms.sort((a, b) => a - b);
  check(`${label}: /health answers 200 in under 100 ms (median ${ms[2].toFixed(1)} ms, max ${ms[4].toFixed(1)} ms)`,
    ms[2] < 100 && ms[4] < 1000, ms.join(' '));
  return ms[4];
}

// SIGSTOP pids; stuck calls pile up; /health stays fast; the call times out with 504.
async function faultStop(label, pids, where, path, body, stage, needle) {
  if (!check(`${label}: found its process`, pids.length > 0)) return;
  for (const pid of pids) kill(pid, 'SIGSTOP');
  try {
    const stuck = Array.from({ length: 5 }, () => call(where, path, { method: 'POST', body, timeout: 30000 }));
    await sleep(300);
    const worst = await healthFast(`${label} stopped, 5 calls waiting on it`);
    const rs = await Promise.all(stuck);
    const first = rs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const all504 = rs.every((r) => r.status === 504 && r.json?.status === 'error' && r.json?.error_code === 'timeout');
    check(`${label} stopped: ${path} answers 504 timeout JSON (${rs.map((r) => r.status).join(',')})`, all504, first.text);
    check(`${label} stopped: stage ${stage}, message names it ("${first.json?.message?.slice(0, 90)}")`,
      first.json?.stage === stage && needle.test(first.json?.message || ''), first.text);
    check(`${label} stopped: the quickest call ends within HTTP_TIMEOUT_SECONDS + 2 s (${(first.ms / 1000).toFixed(1)} s)`,
      first.ms < (TIMEOUT_S + 2) * 1000);
    figures.push({ kind: `${label} (SIGSTOP)`, recovery: `504 after ${(first.ms / 1000).toFixed(1)} s`, sent: 5, lost: `health max ${worst.toFixed(0)} ms` });
  } finally {
    for (const pid of pids) kill(pid, 'SIGCONT');
  }
}

// Every file of the record store (segments, import ledger, removed counts) must still parse.
function storeFiles() {
  const dir = `${S}/blobs`;
  return readdirSync(dir).filter((n) => n.startsWith('consolidated-records-')).map((n) => `${dir}/${n}`);
}

// Every record of the store, Contoso's decrypted, through the paged list (the store is segmented).
async function allRecords() {
  const out = [];
  let after = null;
  do {
    const q = `/company/list?limit=500&decrypt=own${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const r = await call('contoso', q, { timeout: 30000 });
    if (r.status !== 200 || !Array.isArray(r.json?.records)) return null;
    out.push(...r.json.records);
    after = r.json.next;
  } while (after);
  return out;
}

async function main() {
  console.log(`# chaos: stack on 127.0.0.1:${P}-${P + 22}, HTTP_TIMEOUT_SECONDS=${TIMEOUT_S}`);
  // Setup: Contoso holds its key and its 9 records.
  let r = await call('contoso', '/skr/release', { method: 'POST', body: {}, timeout: 30000 });
  check('setup: Contoso releases its key', r.status === 200, r.text);
  r = await call('contoso', '/company/populate', { method: 'POST', body: {}, timeout: 30000 });
  check('setup: Contoso imports its 9 records', r.status === 200 && r.json?.records_added === 9, r.text);
  const base = r.json?.total_records ?? 0;
  let own = programsOwned();
  check(`setup: every FastCGI program is a child of its lighttpd (${own.count})`, own.ok, own.detail);

  const loadDone = startLoad();
  await sleep(1000);

  // ---- kill -9 one process of every kind ----
  // supervisord restarts what it runs on its own loop (a poll of up to 1 s), so a process it
  // restarts is back 1-2 s after the kill (1.0-1.1 s in most runs, a tick later on a loaded
  // machine); lighttpd restarts its FastCGI programs at once.
  const bySupervisord = { limitMs: 3000 };
  await faultKill('instance lighttpd (Contoso)', [lighttpdOf('contoso')?.pid].filter(Boolean), ok200('contoso', '/company/list'), bySupervisord);
  for (const [prog, probe] of [
    ['attest', ok200('contoso', '/attest/raw', { method: 'POST', body: {} })],
    ['skr', ok200('contoso', '/skr/policy-check', { method: 'POST', body: {} })],
    ['storage', ok200('contoso', '/storage/list')],
    ['company', ok200('contoso', '/company/list')]]) {
    const members = pool('contoso', `fcgi-${prog}`);
    const n = members.length;
    await faultKill(`FastCGI ${prog} (Contoso, 1 of ${n})`, members.slice(0, 1).map((p) => p.pid), probe,
      { full: () => pool('contoso', `fcgi-${prog}`).length === n });
  }
  await faultKill('FastCGI attest-local (/health pool, 1 of 2)', pool('contoso', 'fcgi-attest-local').slice(0, 1).map((p) => p.pid),
    ok200('contoso', '/health'), { full: () => pool('contoso', 'fcgi-attest-local').length === 2 });
  await faultKill('stand-ins lighttpd', [lighttpdOf('azure')?.pid].filter(Boolean),
    async () => (await ok200('maa', '/.well-known/openid-configuration')()) && (await ok200('imdsC', '/metadata/THIM/amd/certification', { headers: { Metadata: 'true' } })()),
    bySupervisord);
  const azurePool = (prefix) => pool('azure', prefix);
  await faultKill('stand-in maa (1 of 4)', azurePool('maa').slice(0, 1).map((p) => p.pid), ok200('maa', '/.well-known/openid-configuration'),
    { full: () => azurePool('maa').length === 4 });
  await faultKill('stand-in imds (Contoso)', azurePool('imds-contoso').map((p) => p.pid),
    ok200('imdsC', '/metadata/THIM/amd/certification', { headers: { Metadata: 'true' } }));
  await faultKill('stand-in identity (Contoso)', azurePool('identity-contoso').map((p) => p.pid), answers('imdsC', '/metadata/identity/none', { headers: { Metadata: 'true' } }));
  await faultKill('stand-in keyvault (Contoso, 1 of 2)', azurePool('kv-contoso').slice(0, 1).map((p) => p.pid), answers('kvC', '/keys/contoso-secret-key'),
    { full: () => azurePool('kv-contoso').length === 2 });
  const vsnp = () => procs().filter((p) => p.ppid === supervisordPid() && p.cmd.includes(`--socket ${S}/contoso/run/sev-guest.sock`));
  await faultKill('virtual SEV-SNP host (Contoso)', vsnp().map((p) => p.pid), ok200('contoso', '/attest/raw', { method: 'POST', body: {} }),
    bySupervisord);
  r = await call('contoso', '/skr/release', { method: 'POST', body: {}, timeout: 30000 });
  check('after the kills: Contoso releases its key again (attestation, identity, vault all back)', r.status === 200, r.text);

  // ---- SIGSTOP every upstream: cheap endpoints keep answering, calls end in 504 ----
  await faultStop('attestation service', azurePool('maa').map((p) => p.pid), 'contoso', '/attest/maa', {}, 'attestation', /did not answer|no answer/i);
  await faultStop('key vault (Contoso)', azurePool('kv-contoso').map((p) => p.pid), 'contoso', '/skr/release', {}, 'release', /no answer|did not answer/i);
  await faultStop('identity endpoint (Fabrikam)', azurePool('identity-fabrikam').map((p) => p.pid), 'fabrikam', '/skr/release', {}, 'identity', /no answer|did not answer/i);
  await faultStop('virtual SEV-SNP host (Contoso)', vsnp().map((p) => p.pid), 'contoso', '/attest/raw', {}, 'evidence', /did not answer/i);
  r = await call('fabrikam', '/skr/release', { method: 'POST', body: {}, timeout: 30000 });
  check('after SIGCONT: Fabrikam releases its key (the identity endpoint answers again)', r.status === 200, r.text);
  await healthFast('after the stops');

  // ---- bad inputs: 4xx JSON, nothing released or imported ----
  await badInputs();

  load.stop = true;
  await loadDone;
  await recordChecks(base);

  // ---- supervisord: kill -9, nothing may stay ----
  const sup = supervisordPid();
  const tree = descendants(sup, procs()).map((p) => p.pid);
  const t0 = now();
  kill(sup, 'SIGKILL');
  let left = tree, open = allPorts;
  while (now() - t0 < 5000) {
    left = tree.filter((pid) => existsSync(`/proc/${pid}`) && readProc(pid));
    open = (await Promise.all(allPorts.map(isOpen))).flatMap((o, i) => (o ? [allPorts[i]] : []));
    if (!left.length && !open.length) break;
    await sleep(50);
  }
  const dt = now() - t0;
  figures.push({ kind: 'supervisord', recovery: `all ${tree.length} processes gone, ports free in ${Math.round(dt)} ms`, sent: '-', lost: '-' });
  check(`supervisord: kill -9, all ${tree.length} processes of its tree gone within 5 s (${Math.round(dt)} ms)`, !left.length,
    left.map((pid) => readProc(pid)?.cmd).join('\n'));
  check('supervisord: every port of the stack free within 5 s', !open.length, open.join(' '));

  const total = load.log.length, bad = load.log.filter((x) => x.status === 0 || x.status >= 500).length;
  console.log(`\n# load: ${total} requests at ${rate().toFixed(1)}/s on Contoso (health 20/s, save 6.7/s, list 4/s, attest/raw 3.3/s); ${bad} not answered or 5xx`);
  console.log('# kind | recovery | requests in its window | lost (no answer or 5xx)');
  for (const f of figures) console.log(`# ${f.kind} | ${f.recovery} | ${f.sent} | ${f.lost}`);
}

const isOpen = (p) => new Promise((resolve) => {
  const s = connect({ host: '127.0.0.1', port: p });
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

async function badInputs() {
  const is4xxJson = (r) => r.status >= 400 && r.status < 500 && r.ctype.startsWith('application/json') && r.json?.status === 'error';
  let r = await call('fabrikam', '/skr/key-status');
  const heldBefore = JSON.stringify(r.json?.key ?? r.json?.key_held ?? r.json);
  r = await call('fabrikam', '/skr/release', { method: 'POST', raw: '\0', headers: { 'content-type': 'application/json' } });
  check(`bad input: a NUL-only body to /skr/release is 400 JSON (${r.status})`, r.status === 400 && is4xxJson(r), r.text);
  r = await call('fabrikam', '/skr/key-status');
  check('bad input: ... and the key held is unchanged', JSON.stringify(r.json?.key ?? r.json?.key_held ?? r.json) === heldBefore, r.text);
  // Saves of the load go on meanwhile: count the imported records (they name their source row).
  const imported = async () => (await allRecords())?.filter((x) => x.source).length;
  const before = await imported();
  r = await call('contoso', '/company/populate', { method: 'POST', raw: '\0', headers: { 'content-type': 'application/json' } });
  check(`bad input: a NUL-only body to /company/populate is 400 JSON (${r.status})`, r.status === 400 && is4xxJson(r), r.text);
  const after = await imported();
  check(`bad input: ... and no imported record came or went (${before} before, ${after} after)`, before === after && before > 0);
  r = await call('contoso', '/skr/release-other', { method: 'POST', raw: '{', headers: { 'content-type': 'application/json' } });
  check(`bad input: /skr/release-other with body '{' is 400 JSON (${r.status})`, r.status === 400 && is4xxJson(r), r.text);
  r = await call('contoso', '/health', { method: 'FOO' });
  check(`bad input: an unknown method is 501 JSON (${r.status})`, r.status === 501 && r.json?.status === 'error', r.text);
  r = await rawHttp(port.contoso, 'POST /skr/release HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}');
  check(`bad input: Transfer-Encoding: gzip is 501 JSON (${r.status})`, r.status === 501 && /"status": *"error"/.test(r.text), r.text);
  // lighttpd 1.4.69 answers this itself, before any module runs (README: Errors).
  r = await rawHttp(port.contoso, 'POST /attest/raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  check(`bad input: a POST without Content-Length is 411 JSON naming the fix (${r.status})`,
    r.status === 411 && /application\/json/.test(r.text) && /Content-Length: 0/.test(r.text.split('\r\n\r\n')[1] || ''), r.text.slice(0, 300));
}

// One raw HTTP/1.1 exchange (for requests fetch() will not send).
function rawHttp(p, request) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: p });
    let data = '';
    s.setTimeout(10000, () => s.destroy());
    s.on('connect', () => s.write(request));
    s.on('data', (d) => { data += d; if (/\r\n\r\n/.test(data)) { const m = /content-length: *(\d+)/i.exec(data); if (m && data.length >= data.indexOf('\r\n\r\n') + 4 + Number(m[1])) s.end(); } });
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] || 0), text: data }));
    s.on('error', () => {});
  });
}

async function recordChecks(base) {
  const bad = storeFiles().filter((f) => { try { JSON.parse(readFileSync(f, 'utf8')); return false; } catch { return true; } });
  check(`records: every file of the store is valid JSON (${storeFiles().length} files)`, !bad.length, bad.join(' '));
  const records = await allRecords();
  check('records: the paged list reads the whole store', Array.isArray(records));
  if (!records) return;
  const mine = records.filter((x) => x.company === 'contoso');
  const names = mine.map((x) => (x.decrypted ? x.name : null));
  check(`records: every one of Contoso's ${mine.length} records decrypts with its key`, names.every((n) => typeof n === 'string'));
  const chaos = names.filter((n) => typeof n === 'string' && n.startsWith('chaos-'));
  const counts = new Map();
  for (const n of chaos) counts.set(n, (counts.get(n) || 0) + 1);
  const missing = [...load.saved].filter((n) => !counts.has(n));
  const dup = [...counts].filter(([, c]) => c > 1).map(([n]) => n);
  const strange = [...counts.keys()].filter((n) => !load.saved.has(n) && !load.unsure.has(n));
  const landed = [...load.unsure].filter((n) => counts.has(n)).length;
  check(`records: every acknowledged save is there exactly once (${load.saved.size} acknowledged, ${load.unsure.size} unanswered of which ${landed} landed)`,
    !missing.length && !dup.length && !strange.length, `missing ${missing} duplicated ${dup} unknown ${strange}`);
  check(`records: the count is exact (${records.length} = ${base} before the load + ${load.saved.size} + ${landed})`,
    records.length === base + load.saved.size + landed);
}

main().then(() => { console.log(`\n${passed} passed, ${failed} failed`); process.exit(failed ? 1 : 0); },
  (e) => { console.log(`FAIL chaos driver: ${e.stack}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
