// Shared helpers for the HTTP suites: base URLs of the running local stack and small checks.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const PORT = Number(process.env.DEMO_PORT || 8000);
export const STATE = process.env.DEMO_STATE_DIR || '';
export const URLS = {
  landing: `http://127.0.0.1:${PORT}`,
  contoso: `http://127.0.0.1:${PORT + 1}`,
  fabrikam: `http://127.0.0.1:${PORT + 2}`,
  snooper: `http://127.0.0.1:${PORT + 3}`,
  maa: `http://127.0.0.1:${PORT + 10}`,
};

// Every response body seen by any suite, for the private-key scans.
export const seenBodies = [];

export async function call(base, path, { method = 'GET', body, headers = {}, raw } = {}) {
  const init = { method, headers: { ...headers } };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  seenBodies.push(text);
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

export const sha256hex = (buf) => createHash('sha256').update(buf).digest('hex');
export const b64 = (s) => Buffer.from(s).toString('base64');

export function b64urlDecode(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function decodeJwt(jwt) {
  const [h, p, s] = jwt.split('.');
  return {
    header: JSON.parse(b64urlDecode(h)),
    payload: JSON.parse(b64urlDecode(p)),
    signingInput: `${h}.${p}`,
    signature: b64urlDecode(s),
  };
}

// Files under dir (recursive), for log scans.
export function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

export function readText(p) {
  return readFileSync(p, 'utf8');
}
