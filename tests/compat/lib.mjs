// Drop-in compatibility: helpers that send requests in the shapes the original Flask demo's page
// (multi-party templates/index.html) sends them, and check answers the way that page reads them.
// Written from reading the page's script (PROTOCOLS.md §8); none of its code is here.
//
// How the original page talks to the server, which is all these helpers reproduce:
//   - fetch() with 'Content-Type: application/json'; a POST without a body (/skr/release,
//     /skr/release-other, /company/populate) therefore goes out with Content-Length: 0;
//   - every answer, 2xx or not, is read with response.json() and judged by data.status;
//   - it never looks at the HTTP status except to fall back to "Server returned error: N".
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PORT = Number(process.env.DEMO_PORT || 8000);
export const URLS = {
  contoso: `http://127.0.0.1:${PORT + 1}`,
  fabrikam: `http://127.0.0.1:${PORT + 2}`,
  snooper: `http://127.0.0.1:${PORT + 3}`,
};
export const INSTANCES = ['contoso', 'fabrikam', 'snooper'];
export const TEE = { contoso: true, fabrikam: true, snooper: false };
// Whose key each instance is configured with: the snooper carries Contoso's, as in the original.
export const COMPANY = { contoso: 'contoso', fabrikam: 'fabrikam', snooper: 'contoso' };
export const OTHER = { contoso: 'fabrikam', fabrikam: 'contoso', snooper: 'fabrikam' };
export const title = (s) => s[0].toUpperCase() + s.slice(1);

const repo = fileURLToPath(new URL('../..', import.meta.url));
export const repoPath = (p) => `${repo}/${p}`;

// The first column of each data row of a company's CSV (the names the page will decrypt to).
export function csvNames(company) {
  const lines = readFileSync(repoPath(`data/${company}-data.csv`), 'utf8').split(/\r?\n/).filter(Boolean);
  return lines.slice(1).map((l) => (l.startsWith('"') ? l.slice(1, l.indexOf('"', 1)) : l.split(',')[0]));
}

// One page request: {ok, status, data} where data is what response.json() gives the page.
export async function page(inst, path, { method = 'GET', body, noBody = false } = {}) {
  const init = { method };
  if (method === 'POST') {
    init.headers = { 'Content-Type': 'application/json' };
    if (!noBody) init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(URLS[inst] + path, init);
  const text = await res.text();
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    assert.fail(`${inst} ${method} ${path}: the page's response.json() would throw on ${res.status} ${text.slice(0, 200)}`);
  }
  assert.match(res.headers.get('content-type') || '', /application\/json/, `${inst} ${path}: JSON content type`);
  return { ok: res.ok, status: res.status, data, text };
}

// The page's own runtime data for "Request Attestation Token" and "Get Raw Attestation Report".
export const tokenRuntime = () =>
  btoa(JSON.stringify({ timestamp: new Date().toISOString(), demo: 'Confidential ACI Attestation Demo' }));
export const rawRuntime = () => btoa('Raw Report - ' + new Date().toISOString());
export const PAGE_MAA = 'sharedeus.eus.attest.azure.net';

// The page decodes the token's payload with atob (standard base64, not base64url) and JSON.parse.
export function pageDecodeToken(token) {
  const parts = token.split('.');
  return JSON.parse(atob(parts[1]));
}

// A raw HTTP/1.1 request, byte for byte (fetch always adds Content-Length to a POST).
export function rawHttp(inst, head, body = '') {
  const u = new URL(URLS[inst]);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    const chunks = [];
    sock.setTimeout(30000, () => sock.destroy(new Error('raw request timed out')));
    sock.on('connect', () => sock.end(`${head.join('\r\n')}\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n${body}`));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [headPart, ...rest] = text.split('\r\n\r\n');
      const status = Number(headPart.split(' ')[1]);
      const payload = rest.join('\r\n\r\n');
      let data;
      try { data = JSON.parse(payload); } catch { data = undefined; }
      resolve({ status, head: headPart, data, text: payload });
    });
  });
}

// ---- shape checks ------------------------------------------------------------------------
// A spec maps a field to a type: 'string', 'number', 'integer', 'boolean', 'array', 'object',
// 'null', unions like 'string|null', a nested spec (an object that must be there), or a function
// (value, where) => void for anything more.  Fields are required unless the type includes
// 'undefined'.

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function shape(obj, spec, where) {
  assert.equal(typeOf(obj), 'object', `${where}: an object, got ${JSON.stringify(obj)?.slice(0, 200)}`);
  for (const [k, t] of Object.entries(spec)) {
    const v = obj[k];
    const at = `${where}.${k}`;
    if (typeof t === 'function') t(v, at);
    else if (typeof t === 'object') shape(v, t, at);
    else {
      const want = t.split('|');
      const got = typeOf(v);
      const ok = want.some((w) => w === got || (w === 'integer' && Number.isInteger(v)) || (w === 'number' && got === 'number'));
      assert.ok(ok, `${at}: ${t} expected, got ${got} ${JSON.stringify(v)?.slice(0, 200)}`);
    }
  }
}

export const nonEmpty = (v, at) => {
  assert.equal(typeof v, 'string', `${at}: a string`);
  assert.ok(v.trim().length > 0, `${at}: not empty`);
};
export const stringArray = (v, at) => {
  assert.ok(Array.isArray(v), `${at}: an array`);
  v.forEach((x, i) => assert.equal(typeof x, 'string', `${at}[${i}]: a string`));
};

// The page's rule for a feature string from /info: negative when it says NOT or FAILED.
export const negativeFeature = (f) => f.includes('NOT') || f.includes('FAILED');

// What the original page's "Service Logs" panel reads from data.logs.
export const logsSpec = {
  sev_device: {
    available: 'boolean',
    device_path: 'string|null',
    explanation: nonEmpty,
    dev_listing: 'array|undefined',
  },
  skr: 'string',
  skr_error: 'string',
  flask: 'string',
  flask_error: 'string',
  supervisord: 'string',
};

// No private RSA member may appear anywhere in an answer: the key never leaves the instance.
export function assertNoPrivateKey(text, where) {
  for (const m of ['"d"', '"p"', '"q"', '"dp"', '"dq"', '"qi"', '"k"'])
    assert.ok(!text.includes(`${m}:`) && !text.includes(`${m} :`), `${where}: no private JWK member ${m}`);
  assert.doesNotMatch(text, /PRIVATE KEY/, `${where}: no PEM private key`);
}
