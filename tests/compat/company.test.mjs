// "Protect Data in a Multi-Party Environment" and "External Blob Storage Access" as the original
// page drives them: release, the automatic CSV import, a saved record, the record list with its
// storage URL, the decrypt toggle (one /decrypt per field), the blob list and viewer, and the
// snooper's intercepted-records table.  The stack may be shared: every count is relative.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { INSTANCES, TEE, COMPANY, URLS, page, shape, nonEmpty, csvNames } from './lib.mjs';

const SENTINEL = '(encrypted - no key available)';
const tag = `compat-${process.pid}-${Date.now().toString(36)}`;
let blobName;

before(async () => {
  blobName = (await page('contoso', '/storage/config')).data.consolidated_blob_name;
  for (const inst of ['contoso', 'fabrikam']) {
    const r = await page(inst, '/skr/release', { method: 'POST', noBody: true });
    assert.equal(r.data.status, 'success', `${inst} releases its key first, as on the page`);
  }
});

// The decrypt toggle: every non-null ciphertext in parallel; a failure becomes the sentinel.
async function decryptAll(inst, records) {
  const field = (ct) => (ct
    ? page(inst, '/decrypt', { method: 'POST', body: { ciphertext: ct } })
      .then(({ data }) => { if (data.status !== 'success') throw new Error(data.message); return data.plaintext; })
      .catch(() => SENTINEL)
    : Promise.resolve(''));
  return Promise.all(records.map(async (r) => ({
    record: r, name: await field(r.name_encrypted), phone: await field(r.phone_encrypted),
  })));
}

const listSpec = {
  status: (v) => assert.equal(v, 'success'),
  company: nonEmpty,
  blob_name: nonEmpty,
  full_blob_url: nonEmpty,
  record_count: 'integer',
  total_records_in_file: 'integer',
  records: 'array',
  note: nonEmpty,
};
const recordSpec = {
  company: nonEmpty,
  name_encrypted: 'string|null',
  phone_encrypted: 'string|null',
  line_number: 'integer',
  timestamp: (v, at) => assert.match(v, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, at),
};

for (const inst of ['contoso', 'fabrikam']) {
  test(`${inst}: POST /company/populate with no body, as opening the section sends it`, async () => {
    // Importing is idempotent here (the original added the CSV again each time): start from none of
    // this company's rows, so the first import adds them all and a second adds nothing.
    const cleared = await page(inst, '/company/clear', { method: 'POST', noBody: true });
    assert.ok(cleared.ok, JSON.stringify(cleared.data).slice(0, 300));
    const had = (await page(inst, '/company/list')).data.total_records_in_file;
    const { ok, data } = await page(inst, '/company/populate', { method: 'POST', noBody: true });
    assert.ok(ok, JSON.stringify(data).slice(0, 300));
    assert.equal(data.status, 'success');
    shape(data, {
      message: nonEmpty, source_file: nonEmpty, records_added: 'integer', total_records: 'integer',
      destination: nonEmpty, note: nonEmpty,
    }, `${inst} /company/populate`);
    assert.equal(data.source_file, `${COMPANY[inst]}-data.csv`, 'the file name, as the original');
    assert.equal(data.records_added, csvNames(COMPANY[inst]).length);
    assert.equal(data.message, `Populated ${data.records_added} records from ${data.source_file}`);
    assert.ok(data.total_records >= had + data.records_added);
    // "Destination": the consolidated blob's name, as the original; its URL beside it.
    assert.equal(data.destination, blobName);
    assert.ok(data.destination_url.endsWith(`/${blobName}`), data.destination_url);
    const again = await page(inst, '/company/populate', { method: 'POST', noBody: true });
    assert.equal(again.data.status, 'success');
    assert.equal(again.data.records_added, 0, 'a second import adds nothing');
    assert.equal(again.data.already_imported, data.records_added);
  });

  test(`${inst}: POST /company/save {name, phone}, with and without a phone`, async () => {
    for (const phone of ['+1 555-0100', '']) {
      const { ok, data } = await page(inst, '/company/save', { method: 'POST', body: { name: `${tag}-${inst}${phone ? '' : '-nophone'}`, phone } });
      assert.ok(ok, JSON.stringify(data).slice(0, 300));
      assert.equal(data.status, 'success');
      shape(data, { message: nonEmpty, company: nonEmpty, record_count: 'integer', note: nonEmpty }, `${inst} /company/save`);
      assert.equal(data.company, COMPANY[inst]);
      assert.equal(data.message, `Data saved to ${blobName}`);
    }
    const empty = await page(inst, '/company/save', { method: 'POST', body: { name: '', phone: '' } });
    assert.notEqual(empty.data.status, 'success');
    nonEmpty(empty.data.message, 'the page shows data.message');
  });

  test(`${inst}: GET /company/list and the decrypt toggle, one POST /decrypt per field`, async () => {
    const { ok, data } = await page(inst, '/company/list');
    assert.ok(ok);
    shape(data, listSpec, `${inst} /company/list`);
    assert.equal(data.blob_name, blobName);
    // The list is paged (the original answered the whole file): the page the original page reads is
    // the first, all of the store when it fits.
    assert.ok(data.records.length <= data.limit);
    if (data.next === null) assert.equal(data.total_records_in_file, data.records.length);
    data.records.forEach((r, i) => {
      shape(r, recordSpec, `${inst} records[${i}]`);
      assert.ok(r.line_number >= 1 && (i === 0 || r.line_number > data.records[i - 1].line_number),
        'line numbers count the store from 1, in order');
    });
    // The page marks its own rows by a case-insensitive company match.
    const own = data.records.filter((r) => r.company.toLowerCase() === data.company.toLowerCase());
    assert.equal(data.record_count, own.length);
    // "Storage URL" is a link: it opens the blob (relative to the instance for the local store).
    const url = new URL(data.full_blob_url, URLS[inst]);
    assert.doesNotMatch(url.href, /sig=|sv=|AccountKey|^file:/i);
    assert.ok(url.pathname.endsWith(`/${blobName}`), url.href);
    if (url.origin === new URL(URLS[inst]).origin) {
      const viaLink = await (await fetch(url)).json();
      assert.equal(viaLink.status, 'success');
      assert.ok(Array.isArray(JSON.parse(viaLink.content)), 'the link opens the record file');
    }
    const rows = await decryptAll(inst, data.records);
    const names = new Set(csvNames(COMPANY[inst]));
    let mineSeen = 0;
    for (const { record, name, phone } of rows) {
      if (record.company === COMPANY[inst]) {
        assert.notEqual(name, SENTINEL, `own line ${record.line_number} decrypts`);
        assert.notEqual(phone, SENTINEL, `own line ${record.line_number} phone decrypts`);
        if (names.has(name)) mineSeen++;
        if (name === `${tag}-${inst}-nophone`) assert.equal(record.phone_encrypted, null, 'no phone: null, as the original');
      } else {
        // The page's single red "Unable to Decrypt Contents" cell.
        assert.ok(name === SENTINEL || phone === SENTINEL, `line ${record.line_number} of ${record.company} stays sealed`);
      }
    }
    assert.ok(mineSeen >= names.size, 'the imported CSV rows decrypt to the CSV');
    assert.ok(rows.some((r) => r.name === `${tag}-${inst}`), 'the saved record decrypts');
  });
}

for (const inst of INSTANCES) {
  test(`${inst}: GET /storage/list and every row's "View" (/storage/download/<encodeURIComponent(name)>)`, async () => {
    const { ok, data } = await page(inst, '/storage/list');
    assert.ok(ok);
    shape(data, { status: (v) => assert.equal(v, 'success'), security_note: nonEmpty, blob_count: 'integer', blobs: 'array' }, `${inst} /storage/list`);
    assert.equal(data.blob_count, data.blobs.length);
    for (const b of data.blobs) {
      shape(b, { name: nonEmpty, content_type: nonEmpty }, `${inst} blob`);
      assert.ok(Number.isInteger(parseInt(b.size || 0, 10)) && parseInt(b.size, 10) >= 0, 'the page parseInt()s size');
      assert.ok(!/^file:/.test(b.url || ''), 'no file:// path');
    }
    assert.ok(data.blobs.some((b) => b.name === blobName), 'the consolidated file is listed');
    for (const b of data.blobs.filter((x) => !x.name.includes('/'))) {
      const v = await page(inst, '/storage/download/' + encodeURIComponent(b.name));
      assert.equal(v.data.status, 'success', `${b.name}: ${JSON.stringify(v.data).slice(0, 200)}`);
      shape(v.data, { blob_name: nonEmpty, size: 'integer', security_note: nonEmpty, content: 'string' }, `${inst} download`);
      assert.equal(v.data.blob_name, b.name);
    }
    const missing = await page(inst, '/storage/download/' + encodeURIComponent(`${tag}-missing.json`));
    assert.notEqual(missing.data.status, 'success');
    nonEmpty(missing.data.message, 'the viewer shows "Error: " + message');
  });
}

test('snooper: the intercepted-records table (download every 5 s) and a list it cannot decrypt', async () => {
  const cfgName = (await page('snooper', '/storage/config')).data.consolidated_blob_name;
  const { data } = await page('snooper', '/storage/download/' + encodeURIComponent(cfgName));
  assert.equal(data.status, 'success');
  let records = JSON.parse(data.content);
  if (!Array.isArray(records)) records = [records];
  assert.ok(records.length > 0);
  for (const r of records) {
    assert.equal(typeof r.name_encrypted, 'string');
    assert.equal(typeof r.timestamp, 'string');
  }
  assert.ok(!data.content.includes(csvNames('contoso')[0]) && !data.content.includes(csvNames('fabrikam')[0]), 'ciphertext only');
  const list = await page('snooper', '/company/list');
  shape(list.data, listSpec, 'snooper /company/list');
  const sample = list.data.records.slice(-4);
  for (const { name } of await decryptAll('snooper', sample)) assert.equal(name, SENTINEL, 'nothing decrypts on the snooper');
  const pop = await page('snooper', '/company/populate', { method: 'POST', noBody: true });
  assert.notEqual(pop.data.status, 'success');
  nonEmpty(pop.data.message, 'the page shows data.message');
  assert.equal(TEE.snooper, false);
});
