// Scan files for private key material, as tests/http/skr.test.mjs scans the stack's logs:
// PEM private key headers, private JWK members, and the held keys' own private numbers (d, p, q)
// in base64url, base64 and hex.
//   node scan-keys.mjs KEY.der... -- FILE...
// KEY.der are PKCS#8 DER private keys (custody's released-key files).  Prints one line per
// finding and exits 1 if there is any; exits 2 if no key or no file was given.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const keys = sep < 0 ? [] : args.slice(0, sep);
const files = sep < 0 ? args : args.slice(sep + 1);
if (!keys.length || !files.length) {
  console.error('usage: node scan-keys.mjs KEY.der... -- FILE...');
  process.exit(2);
}
const needles = [];
for (const k of keys) {
  const jwk = createPrivateKey({ key: readFileSync(k), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  for (const m of ['d', 'p', 'q']) {
    const raw = Buffer.from(jwk[m], 'base64url');
    needles.push([`${k} ${m} (base64url)`, jwk[m].slice(0, 40)]);
    needles.push([`${k} ${m} (base64)`, raw.toString('base64').slice(0, 40)]);
    needles.push([`${k} ${m} (hex)`, raw.toString('hex').slice(0, 48)]);
    needles.push([`${k} ${m} (HEX)`, raw.toString('hex').slice(0, 48).toUpperCase()]);
  }
}
const patterns = [/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/, /"(d|dp|dq|qi|p|q)"\s*:\s*"[A-Za-z0-9_-]{20,}/];
let found = 0;
for (const f of files) {
  const text = readFileSync(f).toString('latin1');
  for (const re of patterns) if (re.test(text)) { console.log(`${f}: matches ${re}`); found++; }
  for (const [what, s] of needles) if (text.includes(s)) { console.log(`${f}: holds ${what}`); found++; }
}
console.log(`scanned ${files.length} files for ${keys.length} keys: ${found} findings`);
process.exit(found ? 1 : 0);
