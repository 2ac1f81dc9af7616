// Issue 4 on the running local stack: both companies release their key and import their CSV into
// the one shared record store (idempotently: a second import adds nothing); each decrypts only its
// own rows (per field, and a page with decrypt=own); the blob (read from disk and through the
// snooper) holds no plaintext; concurrent saves lose nothing, also 2x16 writers for 10 s across
// segment boundaries; paging returns every record once, also while another writer appends; a clear
// removes exactly one company's rows; blob names cannot escape the store; bad input is a 400.
// Suites run one file at a time; this one starts and ends by clearing both companies' records, so
// the suites after it find a small store.  Rows are recognised by what they decrypt to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
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

async function list(inst, query = '') {
  const r = await call(URLS[inst], `/company/list${query}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'success');
  return r.json;
}

// Every record of the store, page by page; `seen` checks what each page says.
async function listAll(inst, { limit = 500, decryptOwn = false } = {}) {
  const records = [];
  let after = null, first, pages = 0;
  do {
    const q = `?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}${decryptOwn ? '&decrypt=own' : ''}`;
    const page = await list(inst, q);
    first ??= page;
    assert.equal(page.limit, limit);
    assert.ok(page.records.length <= limit);
    assert.equal(page.record_count, page.records.filter((r) => r.company === inst || r.company === page.company).length);
    records.push(...page.records);
    after = page.next;
    assert.ok(++pages < 10000, 'paging ends');
  } while (after);
  return { ...first, records, pages };
}

const total = async (inst) => (await list(inst, '?limit=1')).total_records_in_file;

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
const LOAD_SECONDS = Number(process.env.COMPANY_LOAD_SECONDS || 10);

async function clear(inst) {
  const r = await post(inst, '/company/clear', {});
  assert.equal(r.status, 200, `${inst} /company/clear: ${r.text}`);
  assert.equal(r.json.status, 'success');
  assert.equal(r.json.company, inst);
  assert.ok(Number.isInteger(r.json.records_removed) && r.json.records_removed >= 0);
  assert.ok(Number.isInteger(r.json.total_records));
  return r.json;
}

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
  // Earlier runs against this stack may have imported: start from no rows of either company.
  await clear('contoso');
  await clear('fabrikam');
});

test('both companies populate 9 records each, each row tagged with its source line', async () => {
  before = await total('contoso');
  const rs = await Promise.all(['contoso', 'fabrikam'].map((inst) => post(inst, '/company/populate', {})));
  for (const [i, inst] of ['contoso', 'fabrikam'].entries()) {
    const r = rs[i];
    assert.equal(r.status, 200, `${inst}: ${r.text}`);
    assert.equal(r.json.status, 'success');
    assert.equal(r.json.company, inst);
    assert.equal(r.json.records_added, 9);
    assert.equal(r.json.already_imported, 0);
    assert.equal(r.json.import_complete, true);
    assert.equal(r.json.message, `Populated 9 records from ${inst}-data.csv`);
    assert.equal(r.json.source_file, `${inst}-data.csv`);
    assert.ok(r.json.total_records >= before + 9, 'total_records counts the whole store');
    assert.ok(r.json.destination && r.json.note && r.json.blob_name === BLOB);
  }
  const after = await listAll('contoso');
  assert.equal(after.total_records_in_file, before + 18);
  for (const inst of ['contoso', 'fabrikam']) {
    const src = after.records.filter((r) => r.company === inst && r.source).map((r) => r.source);
    assert.deepEqual(src.sort(), [2, 3, 4, 5, 6, 7, 8, 9, 10].map((l) => `${inst}-data.csv:${l}`).sort());
  }
});

test('importing the same CSV again adds nothing', async () => {
  const start = await total('contoso');
  for (const inst of ['contoso', 'fabrikam', 'contoso']) {
    const r = await post(inst, '/company/populate', {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.records_added, 0);
    assert.equal(r.json.already_imported, 9);
    assert.equal(r.json.import_complete, true);
    assert.match(r.json.message, /[Nn]othing new/);
    assert.equal(r.json.total_records, start);
  }
  assert.equal(await total('contoso'), start, 'the store did not grow');
});

test("contoso's rows decrypt to its CSV; fabrikam's do not decrypt with contoso's key", async () => {
  const mine = await listAll('contoso');
  assert.equal(mine.company, 'contoso');
  assert.equal(mine.blob_name, BLOB);
  assert.equal(mine.key_released, true);
  assert.doesNotMatch(mine.full_blob_url, /sig=|sv=|AccountKey/i, 'no SAS in full_blob_url');
  assert.equal(mine.records.length, mine.total_records_in_file, 'every row of the store is listed');
  const ownRows = mine.records.filter((r) => r.company === 'contoso');
  assert.ok(mine.records.some((r) => r.company === 'fabrikam'), 'the other company\'s rows are listed too');
  const lines = mine.records.map((r) => r.line_number);
  assert.ok(lines.every((l, i) => Number.isInteger(l) && (i === 0 || l > lines[i - 1])),
    'line_number is the position in the store, ascending');
  const fresh = ownRows.filter((r) => r.line_number > before);
  assert.ok(fresh.length >= 9, `at least 9 new contoso rows, got ${fresh.length}`);
  const rows = await decryptRows('contoso', fresh);
  assert.ok(rows.every((r) => r.nameStatus === 200), 'every contoso row decrypts with contoso key');
  const at = findRun(rows, csv.contoso);
  assert.ok(at >= 0, `a contiguous run of the 9 CSV rows: ${JSON.stringify(rows.slice(0, 12))}`);
  assert.deepEqual(rows.slice(at, at + 9).map(({ name, phone }) => ({ name, phone })), csv.contoso);

  const theirs = await listAll('fabrikam');
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
  const own = await decryptRows('fabrikam', theirFresh);
  assert.ok(findRun(own, csv.fabrikam) >= 0, 'fabrikam reads its 9 rows with its own key');
});

test('decrypt=own: plaintext for own rows only, in one request per page', async () => {
  for (const inst of ['contoso', 'fabrikam']) {
    const page = await listAll(inst, { decryptOwn: true, limit: 7 });
    const own = page.records.filter((r) => r.company === inst);
    const other = page.records.filter((r) => r.company !== inst);
    assert.ok(own.length >= 9 && other.length >= 9);
    for (const r of own) {
      assert.equal(r.decrypted, true, JSON.stringify(r).slice(0, 300));
      assert.equal(typeof r.name, 'string');
    }
    for (const r of other) {
      assert.equal(r.decrypted, false);
      assert.equal(r.reason, 'not_ours');
      assert.equal(r.name, undefined);
      assert.equal(r.phone, undefined);
    }
    const names = own.map((r) => ({ name: r.name, phone: r.phone }));
    const at = names.findIndex((n) => n.name === csv[inst][0].name);
    assert.deepEqual(names.slice(at, at + 9), csv[inst], `${inst}'s CSV rows decrypt in order`);
    const otherNames = csv[inst === 'contoso' ? 'fabrikam' : 'contoso'].map((r) => r.name);
    const text = JSON.stringify(page.records);
    assert.ok(otherNames.every((n) => !text.includes(n)), 'no other company\'s plaintext');
  }
  // The snooper is configured as Contoso but holds no key: its "own" rows stay sealed.
  const snoop = await list('snooper', '?decrypt=own&limit=50');
  assert.ok(snoop.records.length > 0);
  for (const r of snoop.records) {
    assert.equal(r.decrypted, false);
    assert.equal(r.reason, r.company === snoop.company ? 'no_key' : 'not_ours');
  }
  assertNoPlaintext(JSON.stringify(snoop), "the snooper's decrypt=own page");
});

function assertNoPlaintext(text, where) {
  for (const row of [...csv.contoso, ...csv.fabrikam]) {
    assert.ok(!text.includes(row.name), `${where} holds the plaintext name ${row.name}`);
    assert.ok(!text.includes(row.phone), `${where} holds the plaintext phone ${row.phone}`);
  }
}

// The record blobs on disk: the current segment and the sealed ones, each a valid record file.
function storeFiles() {
  const dir = `${STATE}/blobs`;
  const stem = BLOB.replace(/\.json$/, '');
  const segs = readdirSync(dir).filter((n) => n.startsWith(`${stem}.seg-`)).sort();
  return [...segs, BLOB].map((n) => ({ name: n, text: readFileSync(`${dir}/${n}`, 'utf8') }));
}

test('the stored blob holds no plaintext, on disk and through the snooper', async () => {
  const path = `${STATE}/blobs/${BLOB}`;
  assert.ok(STATE && existsSync(path), `record file at ${path}`);
  for (const { name, text } of storeFiles()) {
    assertNoPlaintext(text, name);
    const arr = JSON.parse(text);
    assert.ok(Array.isArray(arr), `${name} is a JSON array`);
    for (const r of arr) {
      for (const k of ['company', 'name_encrypted', 'phone_encrypted', 'timestamp']) assert.ok(k in r, `${name}: ${k}`);
      assert.ok(Object.keys(r).every((k) => ['company', 'name_encrypted', 'phone_encrypted', 'timestamp', 'seq', 'source'].includes(k)));
      assert.match(r.name_encrypted, /^([A-Za-z0-9+/]{342}==|env1:[A-Za-z0-9+/=]+)$/);
      if (r.source) assert.match(r.source, /^[a-z]+-data\.csv:\d+$/, 'a source is a file and a line, nothing of the plaintext');
    }
    if (arr.length) assert.match(text, /^\[\n {2}\{\n {4}"/, 'indented like json.dumps(indent=2)');
  }

  const r = await call(URLS.snooper, `/storage/download/${BLOB}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'success');
  assert.equal(r.json.blob_name, BLOB);
  assert.equal(typeof r.json.content, 'string');
  assertNoPlaintext(r.text, "the snooper's download");
  const seen = JSON.parse(r.json.content);
  assert.ok(seen.length >= 18, 'the snooper sees the current segment, as ciphertext');
});

test('15 concurrent saves from each company (30 in parallel) add exactly 30 records', async () => {
  const tag = `conc-${nonce}`;
  const start = await total('contoso');
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
  const end = await total('contoso');
  assert.equal(end - start, 30, `the store grew by ${end - start}, expected exactly 30`);
  for (const inst of ['contoso', 'fabrikam']) {
    const recs = (await listAll(inst, { decryptOwn: true })).records;
    const names = recs.filter((r) => r.decrypted && r.name.startsWith(`${tag}-`)).map((r) => r.name);
    assert.equal(names.length, 15, `${inst}: ${names.length} of 15 saves are in the store`);
    assert.equal(new Set(names).size, 15, `${inst}: no save was stored twice`);
    assert.ok(names.every((n) => n.startsWith(`${tag}-${inst}-`)));
  }
});

// 16 concurrent writers per company saving for `seconds`: every answer, and the tag of each 200.
async function hammer(tag, seconds) {
  const stop = Date.now() + seconds * 1000;
  const out = { ok: [], bad: [] };
  const worker = async (inst, w) => {
    for (let i = 0; Date.now() < stop; i++) {
      const name = `${tag}-${inst}-${w}-${i}`;
      const r = await post(inst, '/company/save', { name, phone: '1' });
      if (r.status === 200) out.ok.push(name); else out.bad.push(`${r.status} ${r.text.slice(0, 200)}`);
    }
  };
  const jobs = [];
  for (const inst of ['contoso', 'fabrikam']) for (let w = 0; w < 16; w++) jobs.push(worker(inst, w));
  await Promise.all(jobs);
  return out;
}

test(`2x16 concurrent writers for ${LOAD_SECONDS} s: no 409, no record lost or stored twice`, async () => {
  const tag = `load-${nonce}`;
  const start = await total('contoso');
  const { ok, bad } = await hammer(tag, LOAD_SECONDS);
  assert.deepEqual(bad, [], `every save is a 200 (${bad.length} were not)`);
  assert.ok(ok.length > 100, `enough load: ${ok.length} saves`);
  const all = await listAll('contoso', { decryptOwn: true });
  assert.equal(all.total_records_in_file, start + ok.length, 'the store grew by exactly the saves answered 200');
  assert.equal(all.records.length, all.total_records_in_file);
  const theirs = await listAll('fabrikam', { decryptOwn: true });
  const seen = [...all.records, ...theirs.records].filter((r) => r.decrypted && r.name.startsWith(`${tag}-`)).map((r) => r.name);
  assert.equal(seen.length, ok.length, 'every saved record is in the store once');
  assert.equal(new Set(seen).size, seen.length, 'no record is stored twice');
  assert.deepEqual([...seen].sort(), [...ok].sort());
  const files = storeFiles();
  assert.ok(files.length >= 2, `the load crossed a segment boundary (${files.length} files)`);
  for (const { name, text } of files) assert.ok(Array.isArray(JSON.parse(text)), `${name} is valid`);
  console.log(`# ${ok.length} saves in ${LOAD_SECONDS} s, ${files.length} segment files`);
});

test('paging returns every record exactly once, also while another writer appends', async () => {
  const base = (await listAll('contoso')).records;
  const key = (r) => `${r.line_number}|${r.name_encrypted}`;
  assert.equal(new Set(base.map(key)).size, base.length);
  const tag = `page-${nonce}`;
  let writing = true;
  const writer = (async () => {
    let n = 0;
    while (writing) {
      const r = await post('fabrikam', '/company/save', { name: `${tag}-${n++}`, phone: '2' });
      assert.equal(r.status, 200, r.text);
    }
    return n;
  })();
  const got = [];
  let after = null, pages = 0;
  do {
    const page = await list('contoso', `?limit=37${after ? `&after=${after}` : ''}`);
    got.push(...page.records);
    after = page.next;
    pages++;
  } while (after);
  writing = false;
  const written = await writer;
  assert.ok(pages > 2 && written > 0, `${pages} pages, ${written} appended meanwhile`);
  const keys = got.map(key);
  assert.equal(new Set(keys).size, keys.length, 'no record twice');
  const have = new Set(keys);
  assert.ok(base.every((r) => have.has(key(r))), 'every record that was there is on some page');
  assert.ok(got.every((r, i) => i === 0 || r.line_number > got[i - 1].line_number), 'in store order');
});

test('bad limit or cursor values are 400 JSON errors', async () => {
  const bad = ['limit=0', 'limit=501', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=', 'limit=10&limit=20',
    'after=xyz', 'after=r0', 'after=r-1', 'after=', 'after=r99999999999999999999', 'after=%zz',
    'decrypt=all', 'decrypt='];
  for (const q of bad) {
    const r = await call(URLS.contoso, `/company/list?${q}`);
    assert.equal(r.status, 400, `?${q}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(r.json?.status, 'error', q);
    assert.ok(r.json.message.length > 0);
  }
  const ok = await list('contoso', '?limit=500&unknown=1');
  assert.ok(ok.records.length <= 500);
  const dflt = await list('contoso');
  assert.equal(dflt.limit, 100);
  assert.ok(dflt.records.length === Math.min(100, dflt.total_records_in_file));
});

test('clear removes exactly the company\'s rows; the other company\'s stay as they were', async () => {
  const all = (await listAll('contoso')).records;
  const ours = all.filter((r) => r.company === 'contoso');
  const theirs = all.filter((r) => r.company !== 'contoso');
  assert.ok(ours.length > 0 && theirs.length > 0);
  const c = await clear('contoso');
  assert.equal(c.records_removed, ours.length);
  assert.equal(c.total_records, theirs.length);
  const left = (await listAll('fabrikam')).records;
  assert.deepEqual(left.map((r) => r.name_encrypted), theirs.map((r) => r.name_encrypted),
    'fabrikam rows unchanged, in the same order');
  // Sealed segments keep their numbers; the current segment's rows are renumbered after a clear.
  assert.ok(left.every((r, i) => i === 0 || r.line_number > left[i - 1].line_number));
  assert.equal((await clear('contoso')).records_removed, 0, 'a second clear removes nothing');
  for (const { name, text } of storeFiles()) {
    assert.ok(JSON.parse(text).every((r) => r.company !== 'contoso'), `${name} holds no contoso row`);
  }
  // The import state went with the records: the CSV imports again.
  const r = await post('contoso', '/company/populate', {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.records_added, 9);
  assert.equal(r.json.total_records, theirs.length + 9);
  const g = await call(URLS.contoso, '/company/clear');
  assert.equal(g.status, 405);
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

test('finally: both companies clear their records (later suites start from a small store)', async () => {
  await clear('contoso');
  await clear('fabrikam');
  assert.equal(await total('contoso'), 0);
});
