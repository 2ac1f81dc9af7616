// Issue 4 on the running local stack: both companies release their key and import their CSV into
// the one shared record blob; each decrypts only its own rows; the blob (read from disk and through
// the snooper) holds no plaintext; concurrent saves lose nothing; blob names cannot escape the
// store; bad input is a 400.  The stack may be shared with other suites running at the same time:
// every count is relative, and rows are recognised by what they decrypt to, never by position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { URLS, STATE, PORT, call } from './lib.mjs';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const BLOB = 'consolidated-records-local-demo.json';
const nonce = `${process.pid}-${Date.now().toString(36)}`;

// name,phone CSV as the project ships it (quoted fields allowed).
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [header, ...data] = rows;
  const ni = header.indexOf('name'), pi = header.indexOf('phone');
  return data.map((r) => ({ name: r[ni], phone: r[pi] }));
}
const csv = {
  contoso: parseCsv(readFileSync(`${repo}/data/contoso-data.csv`, 'utf8')),
  fabrikam: parseCsv(readFileSync(`${repo}/data/fabrikam-data.csv`, 'utf8')),
};

const post = (inst, path, body) => call(URLS[inst], path, { method: 'POST', body });

async function list(inst) {
  const r = await call(URLS[inst], '/company/list');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'success');
  return r.json;
}

async function decrypt(inst, ciphertext) {
  const r = await post(inst, '/decrypt', { ciphertext });
  return r;
}

// Decrypt the name and phone of each record with inst's key; rows that fail are reported as such.
async function decryptRows(inst, records) {
  return Promise.all(records.map(async (rec) => {
    const n = await decrypt(inst, rec.name_encrypted);
    const p = rec.phone_encrypted ? await decrypt(inst, rec.phone_encrypted) : null;
    return {
      line: rec.line_number,
      nameStatus: n.status,
      name: n.status === 200 ? n.json.plaintext : undefined,
      phone: p && p.status === 200 ? p.json.plaintext : p ? undefined : null,
    };
  }));
}

// Index of the first run of rows (in file order) equal to want, or -1.
function findRun(rows, want) {
  for (let i = 0; i + want.length <= rows.length; i++) {
    if (want.every((w, k) => rows[i + k].name === w.name && rows[i + k].phone === w.phone
        && rows[i + k].line === rows[i].line + k)) return i;
  }
  return -1;
}

// GET with the path sent byte for byte (fetch would normalise "../" and "%2e%2e").
function rawGet(base, path) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const rq = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    rq.on('error', reject);
    rq.end();
  });
}

let before; // total_records_in_file before this suite wrote anything

test('both companies release their key', async () => {
  for (const inst of ['contoso', 'fabrikam']) {
    const r = await post(inst, '/skr/release', {});
    assert.equal(r.status, 200, `${inst} /skr/release: ${r.text}`);
    assert.equal(r.json.status, 'success');
    const info = await call(URLS[inst], '/company/info');
    assert.equal(info.status, 200, info.text);
    assert.equal(info.json.company, inst);
    assert.equal(info.json.key_released, true);
    assert.equal(info.json.data_file, `${inst}-data.json`);
  }
});

test('both companies populate 9 records each, in one write each', async () => {
  before = (await list('contoso')).total_records_in_file;
  const rs = await Promise.all(['contoso', 'fabrikam'].map((inst) => post(inst, '/company/populate', {})));
  for (const [i, inst] of ['contoso', 'fabrikam'].entries()) {
    const r = rs[i];
    assert.equal(r.status, 200, `${inst}: ${r.text}`);
    assert.equal(r.json.status, 'success');
    assert.equal(r.json.company, inst);
    assert.equal(r.json.records_added, 9);
    assert.equal(r.json.message, `Populated 9 records from ${inst}-data.csv`);
    assert.match(r.json.source_file, new RegExp(`${inst}-data\\.csv$`));
    assert.ok(r.json.total_records >= before + 9, 'total_records counts the whole file');
    assert.ok(r.json.destination && r.json.note);
  }
  const after = await list('contoso');
  assert.ok(after.total_records_in_file >= before + 18, `${before} + 18 <= ${after.total_records_in_file}`);
});

test("contoso's rows decrypt to its CSV; fabrikam's do not decrypt with contoso's key", async () => {
  const mine = await list('contoso');
  assert.equal(mine.company, 'contoso');
  assert.equal(mine.blob_name, BLOB);
  assert.equal(mine.key_released, true);
  assert.doesNotMatch(mine.full_blob_url, /sig=|sv=|AccountKey/i, 'no SAS in full_blob_url');
  assert.equal(mine.records.length, mine.total_records_in_file, 'every row of the shared file is listed');
  const ownRows = mine.records.filter((r) => r.company === 'contoso');
  assert.equal(mine.record_count, ownRows.length, 'record_count counts this company\'s rows');
  assert.ok(mine.records.some((r) => r.company === 'fabrikam'), 'the other company\'s rows are listed too');
  assert.deepEqual(mine.records.map((r) => r.line_number), mine.records.map((_, i) => i + 1),
    'line_number is the 1-based index in the file');
  const fresh = ownRows.filter((r) => r.line_number > before);
  assert.ok(fresh.length >= 9, `at least 9 new contoso rows, got ${fresh.length}`);
  const rows = await decryptRows('contoso', fresh);
  assert.ok(rows.every((r) => r.nameStatus === 200), 'every contoso row decrypts with contoso key');
  const at = findRun(rows, csv.contoso);
  assert.ok(at >= 0, `a contiguous run of the 9 CSV rows: ${JSON.stringify(rows.slice(0, 12))}`);
  assert.deepEqual(rows.slice(at, at + 9).map(({ name, phone }) => ({ name, phone })), csv.contoso);

  const theirs = await list('fabrikam');
  const theirFresh = theirs.records.filter((r) => r.company === 'fabrikam' && r.line_number > before);
  assert.ok(theirFresh.length >= 9);
  for (const rec of theirFresh.slice(0, 9)) {
    for (const ct of [rec.name_encrypted, rec.phone_encrypted]) {
      const r = await decrypt('contoso', ct);
      assert.ok(r.status >= 400 && r.status < 500, `fabrikam row via contoso /decrypt: ${r.status} ${r.text}`);
      assert.equal(r.json?.status, 'error');
      assert.equal(r.json.plaintext, undefined);
    }
  }
  // And with its own key each company reads its own rows.
  const own = await decryptRows('fabrikam', theirFresh);
  assert.ok(findRun(own, csv.fabrikam) >= 0, 'fabrikam reads its 9 rows with its own key');
});

function assertNoPlaintext(text, where) {
  for (const row of [...csv.contoso, ...csv.fabrikam]) {
    assert.ok(!text.includes(row.name), `${where} holds the plaintext name ${row.name}`);
    assert.ok(!text.includes(row.phone), `${where} holds the plaintext phone ${row.phone}`);
  }
}

test('the stored blob holds no plaintext, on disk and through the snooper', async () => {
  const path = `${STATE}/blobs/${BLOB}`;
  assert.ok(STATE && existsSync(path), `record file at ${path}`);
  const disk = readFileSync(path, 'utf8');
  assertNoPlaintext(disk, 'the record file');
  const arr = JSON.parse(disk);
  assert.ok(Array.isArray(arr) && arr.length >= before + 18);
  for (const r of arr) {
    assert.deepEqual(Object.keys(r).sort(), ['company', 'name_encrypted', 'phone_encrypted', 'timestamp']);
    assert.match(r.name_encrypted, /^([A-Za-z0-9+/]{342}==|env1:[A-Za-z0-9+/=]+)$/);
  }
  assert.match(disk, /^\[\n {2}\{\n {4}"/, 'indented like json.dumps(indent=2)');

  const r = await call(URLS.snooper, `/storage/download/${BLOB}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'success');
  assert.equal(r.json.blob_name, BLOB);
  assert.equal(typeof r.json.content, 'string');
  assertNoPlaintext(r.text, "the snooper's download");
  const seen = JSON.parse(r.json.content);
  assert.ok(seen.length >= before + 18, 'the snooper sees every record, as ciphertext');
});

test('15 concurrent saves from each company (30 in parallel) add exactly 30 records', async () => {
  const tag = `conc-${nonce}`;
  const start = (await list('contoso')).total_records_in_file;
  const jobs = [];
  for (const inst of ['contoso', 'fabrikam']) {
    for (let i = 0; i < 15; i++) {
      jobs.push(post(inst, '/company/save', { name: `${tag}-${inst}-${i}`, phone: `+1 555 ${i}` }));
    }
  }
  const rs = await Promise.all(jobs);
  for (const r of rs) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'success');
    assert.equal(r.json.blob_name, BLOB);
  }
  const end = (await list('contoso')).total_records_in_file;
  // The suites run one file at a time, so nothing else writes meanwhile.
  assert.equal(end - start, 30, `file grew by ${end - start}, expected exactly 30`);
  // Exactly 30: each company finds its 15 names, once each, among the rows written since.
  for (const inst of ['contoso', 'fabrikam']) {
    const recs = (await list(inst)).records.filter((r) => r.line_number > start);
    const rows = await decryptRows(inst, recs);
    const names = rows.map((r) => r.name).filter((n) => n && n.startsWith(`${tag}-`));
    assert.equal(names.length, 15, `${inst}: ${names.length} of 15 saves are in the file`);
    assert.equal(new Set(names).size, 15, `${inst}: no save was stored twice`);
    assert.ok(names.every((n) => n.startsWith(`${tag}-${inst}-`)));
  }
});

test('traversal attempts on /storage/download/ get a 4xx and read nothing outside the store', async () => {
  // A canary beside the blob directory: no answer may ever contain it.
  const canary = `canary-${nonce}`;
  const canaryFile = `${STATE}/h9-canary.json`;
  writeFileSync(canaryFile, JSON.stringify({ canary }), { mode: 0o644 });
  try {
    // Reach the storage program, which must answer a JSON 4xx.
    const attempts = [
      '../h9-canary.json',
      '..%2fh9-canary.json',
      '..%2Fh9-canary.json',
      '%2e%2e/h9-canary.json',
      '%2e%2e%2fh9-canary.json',
      '%252e%252e%252fh9-canary.json',
      '..%252fh9-canary.json',
      '..\\h9-canary.json',
      '..%5ch9-canary.json',
      '%2fetc%2fpasswd',
      '/etc/passwd',
      '....//h9-canary.json',
      '.blobstore/x.info',
      `${'a'.repeat(4000)}.json`,
      `${'a/'.repeat(300)}b`,
    ];
    // lighttpd refuses these itself (control bytes, overlong UTF-8) or resolves them out of
    // /storage/ before any program runs: its own 4xx page, never a file.
    const serverRefused = [
      `${BLOB}%00.txt`,
      'x%00/../h9-canary.json',
      'a%0d%0ab',
      '%c0%ae%c0%ae/h9-canary.json',
      '../../../../../../etc/passwd',
      '../../h9-canary.json',
    ];
    for (const [list, json] of [[attempts, true], [serverRefused, false]]) {
      for (const a of list) {
        for (const inst of ['snooper', 'contoso']) {
          const r = await rawGet(URLS[inst], `/storage/download/${a}`);
          const what = `${inst} /storage/download/${a.slice(0, 60)} -> ${r.status} ${r.text.slice(0, 200)}`;
          assert.ok(r.status >= 400 && r.status < 500, what);
          assert.ok(!r.text.includes(canary), `canary leaked: ${what}`);
          assert.ok(!/root:.*:0:0:/.test(r.text), `/etc/passwd leaked: ${what}`);
          if (json || /application\/json/.test(r.headers['content-type'] || '')) {
            assert.equal(r.json?.status, 'error', `a JSON error: ${what}`);
            assert.match(r.headers['content-type'] || '', /application\/json/, what);
          }
        }
      }
    }
  } finally {
    rmSync(canaryFile, { force: true });
  }
});

test('bad input to /company/save is a 400 JSON error and writes nothing', async () => {
  const start = (await list('contoso')).total_records_in_file;
  const cases = [
    ['malformed JSON', { raw: '{"name":', headers: { 'content-type': 'application/json' } }],
    ['a 10 KB name', { body: { name: 'x'.repeat(10240), phone: '1' } }],
    ['both empty', { body: { name: '', phone: '' } }],
    ['no fields', { body: {} }],
    ['a non-string name', { body: { name: 12345, phone: '1' } }],
    ['a non-string phone', { body: { name: 'x', phone: { a: 1 } } }],
    ['a control character', { body: { name: 'a\u0007b', phone: '1' } }],
    ['an array body', { raw: '[]', headers: { 'content-type': 'application/json' } }],
  ];
  for (const [what, opts] of cases) {
    const r = await call(URLS.contoso, '/company/save', { method: 'POST', ...opts });
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
    assert.equal(r.json?.status, 'error', what);
    assert.ok(r.json.message.length > 0);
  }
  const end = (await list('contoso')).total_records_in_file;
  assert.equal(end, start, 'bad input wrote nothing');
  assert.ok(end >= start);
});

test('wrong methods are 405 JSON', async () => {
  for (const [m, p] of [['GET', '/company/save'], ['GET', '/company/populate'], ['POST', '/company/list']]) {
    const r = await call(URLS.contoso, p, { method: m });
    assert.equal(r.status, 405, `${m} ${p}: ${r.text}`);
    assert.equal(r.json?.status, 'error');
  }
  assert.ok(PORT > 0);
});
