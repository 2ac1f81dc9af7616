// Remote attestation on the running local stack: every attest endpoint on all three instances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { URLS, PORT, call, sha256hex, b64, decodeJwt } from './lib.mjs';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const policyDigest = (inst) => sha256hex(readFileSync(`${repo}/emulator/policies/${inst}.rego`));

// Verify a JWT independently of the C code: only `<iss>/certs` and node's crypto.  MAA's keys carry
// only kid, kty and x5c, so the key comes from the x5c[0] certificate, as it must on Azure.
async function independentVerify(jwt) {
  const { header, payload, signingInput, signature } = decodeJwt(jwt);
  assert.equal(header.alg, 'RS256');
  assert.equal(payload.iss, URLS.maa, 'issuer is the local attestation service');
  assert.equal(header.jku, `${payload.iss}/certs`);
  const jwks = await (await fetch(`${payload.iss}/certs`)).json();
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is in ${payload.iss}/certs`);
  assert.ok(Array.isArray(jwk.x5c) && jwk.x5c.length >= 1, 'the key has an x5c chain');
  const cert = new X509Certificate(Buffer.from(jwk.x5c[0], 'base64'));
  const key = cert.publicKey;
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.ok(key.asymmetricKeyDetails.modulusLength >= 2048, 'RSA key of at least 2048 bits');
  assert.ok(verify('RSA-SHA256', Buffer.from(signingInput), key, signature), 'signature verifies with x5c[0]');
  const forged = Buffer.from(signature);
  forged[forged.length - 1] ^= 1;
  assert.ok(!verify('RSA-SHA256', Buffer.from(signingInput), key, forged), 'and a changed signature does not');
  assert.ok(!verify('RSA-SHA256', Buffer.from(signingInput + 'x'), key, signature), 'nor changed content');
  const now = Date.now() / 1000;
  assert.ok(payload.nbf <= now + 60 && payload.exp > now, 'token in date');
  return payload;
}

for (const inst of ['contoso', 'fabrikam', 'snooper']) {
  test(`${inst}: /health`, async () => {
    const r = await call(URLS[inst], '/health');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'healthy', service: 'confidential-aci-attestation-demo' });
    assert.match(r.headers.get('content-type'), /application\/json/);
  });

  test(`${inst}: /sidecar/status says no sidecar runs locally`, async () => {
    const r = await call(URLS[inst], '/sidecar/status');
    assert.equal(r.status, 503);
    assert.equal(r.json.status, 'unavailable');
    assert.match(r.json.message, /sidecar|connect/i);
  });

  test(`${inst}: /container/info reports real facts`, async () => {
    const r = await call(URLS[inst], '/container/info');
    assert.equal(r.status, 200);
    const j = r.json;
    assert.equal(typeof j.hostname, 'string');
    assert.ok(j.app_checksums['fcgi-bin/attest'], 'digest of the attest program');
    assert.match(j.app_checksums['fcgi-bin/attest'].sha256, /^[0-9a-f]{64}$/);
    assert.ok(j.os.pretty_name);
    assert.equal(typeof j.sev_device.available, 'boolean');
    const tee = inst !== 'snooper';
    assert.equal(j.sev_device.available, tee);
    assert.equal(j.attestation_backend.selected, tee ? 'native' : 'sidecar');
    assert.equal(j.tee_device, tee ? 'virtual' : 'none');
  });
}

const runtime = JSON.stringify({ test: 'attest', nonce: Math.random().toString(36).slice(2) });

test('contoso: /attest/maa returns a token an independent verifier accepts', async () => {
  const r = await call(URLS.contoso, '/attest/maa', { method: 'POST', body: { runtime_data: b64(runtime) } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'success');
  const jwt = r.json.attestation_token;
  assert.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'attestation_token is the compact JWT itself');
  const claims = await independentVerify(jwt);
  assert.ok(claims['x-ms-sevsnpvm-reportdata'].startsWith(sha256hex(runtime)),
    'reportdata starts with sha256 of the runtime data');
  assert.match(claims['x-ms-sevsnpvm-reportdata'], /^[0-9a-f]{64}0{64}$/);
  assert.equal(claims['x-ms-attestation-type'], 'sevsnpvm');
  assert.equal(claims['x-ms-compliance-status'], 'azure-compliant-uvm');
  assert.equal(claims['x-ms-sevsnpvm-is-debuggable'], false);
  assert.equal(claims['x-ms-sevsnpvm-vmpl'], 0);
  assert.equal(claims['x-demo-emulated'], true, 'local tokens say they are emulated');
  assert.deepEqual(claims['x-ms-runtime'], JSON.parse(runtime));
  assert.equal(claims['x-ms-sevsnpvm-hostdata'], policyDigest('contoso'));
  assert.match(claims['x-ms-sevsnpvm-launchmeasurement'], /^[0-9a-f]{96}$/);
  assert.match(claims.jti, /^[0-9a-f]{64}$/);
  assert.equal(r.json.token_verified, true);
  assert.equal(r.json.signature_verified, true);
  assert.equal(r.json.runtime_data_bound, true);
  assert.equal(r.json.emulated, true);
  assert.deepEqual(r.json.claims, claims, 'the server shows exactly the verified claims');
  assert.equal(r.json.attestation_backend, 'native');
  assert.equal(r.json.evidence_source, 'virtual');
  for (const k of ['report', 'certificates', 'attestation_service', 'verification', 'total'])
    assert.equal(typeof r.json.timing_ms[k], 'number');
});

test('contoso and fabrikam attest with different host_data, each its own policy digest', async () => {
  const hd = {};
  for (const inst of ['contoso', 'fabrikam']) {
    const r = await call(URLS[inst], '/attest/maa', { method: 'POST', body: {} });
    assert.equal(r.status, 200, r.text);
    const claims = await independentVerify(r.json.attestation_token);
    hd[inst] = claims['x-ms-sevsnpvm-hostdata'];
    assert.equal(hd[inst], policyDigest(inst));
  }
  assert.notEqual(hd.contoso, hd.fabrikam);
});

test('snooper: /attest/maa fails with a diagnosis and logs', async () => {
  const r = await call(URLS.snooper, '/attest/maa', { method: 'POST', body: { runtime_data: b64('x') } });
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.status, 'error');
  assert.match(r.json.message, /attestation failed/i);
  assert.ok(r.json.failure_reason);
  assert.ok(r.json.diagnosis.likely_cause && r.json.diagnosis.solution);
  assert.equal(r.json.logs.sev_device.available, false);
  assert.equal(typeof r.json.logs.app, 'string');
});

test('snooper: /info says attestation does not work; contoso: it works', async () => {
  const s = await call(URLS.snooper, '/info');
  assert.equal(s.status, 200);
  assert.equal(s.json.status.attestation_works, false);
  assert.equal(s.json.status.platform_status, 'sidecar_unavailable');
  assert.ok(s.json.features.some((f) => /NOT|FAILED/.test(f)));
  const c = await call(URLS.contoso, '/info');
  assert.equal(c.json.status.attestation_works, true);
  assert.equal(c.json.status.platform_status, 'running_in_tee');
  assert.equal(c.json.status.emulated, true);
  assert.ok(!c.json.features.some((f) => /NOT|FAILED/.test(f)));
});

test('contoso: /attest/raw returns the hex report, decoded and verified', async () => {
  const rt = 'Raw Report - ' + new Date().toISOString();
  const r = await call(URLS.contoso, '/attest/raw', { method: 'POST', body: { runtime_data: b64(rt) } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.attestation_report, /^[0-9a-f]{2368}$/);
  const raw = Buffer.from(r.json.attestation_report, 'hex');
  assert.equal(raw.readUInt32LE(0), r.json.report.version);
  assert.equal(raw.subarray(0x50, 0x70).toString('hex'), sha256hex(rt));
  assert.equal(raw.subarray(0xc0, 0xe0).toString('hex'), policyDigest('contoso'));
  assert.equal(r.json.report.host_data, policyDigest('contoso'));
  assert.equal(r.json.report_data_bound, true);
  assert.equal(r.json.verification.verified, true, JSON.stringify(r.json.verification));
  assert.equal(r.json.verification.emulated_root, true);
  assert.equal(r.json.emulated, true);
});

test('snooper: /attest/raw fails: no TEE', async () => {
  const r = await call(URLS.snooper, '/attest/raw', { method: 'POST', body: { runtime_data: b64('x') } });
  assert.equal(r.status, 503);
  assert.equal(r.json.status, 'error');
  assert.ok(r.json.diagnosis);
});

test('bad input gets a 4xx JSON error', async () => {
  const cases = [
    [{ method: 'POST', raw: '{"runtime_data": ', headers: { 'content-type': 'application/json' } }, 400, /malformed JSON/],
    [{ method: 'POST', raw: '[1,2]', headers: { 'content-type': 'application/json' } }, 400, /JSON object/],
    [{ method: 'POST', body: { runtime_data: '%%%not base64' } }, 400, /base64/],
    [{ method: 'POST', body: { runtime_data: 42 } }, 400, /must be a string/],
    [{ method: 'POST', body: { maa_endpoint: 'https://evil.example.com/path' } }, 400, /maa_endpoint/],
    [{ method: 'POST', raw: 'x'.repeat(70000), headers: { 'content-type': 'application/json' } }, 413, /limit/],
    [{ method: 'GET' }, 405, /not allowed/],
  ];
  for (const [init, status, msg] of cases) {
    const r = await call(URLS.contoso, '/attest/maa', init);
    assert.equal(r.status, status, `${JSON.stringify(init).slice(0, 80)} -> ${r.text.slice(0, 200)}`);
    assert.equal(r.json.status, 'error');
    assert.match(r.json.message, msg);
  }
  const nf = await call(URLS.contoso, '/attest/nope', { method: 'POST', body: {} });
  assert.equal(nf.status, 404);
  assert.equal(nf.json.status, 'error');
});

test("the original page's maa_endpoint is ignored: the configured service attests, and the answer says so", async () => {
  const r = await call(URLS.contoso, '/attest/maa', {
    method: 'POST', body: { maa_endpoint: 'sharedeus.eus.attest.azure.net', runtime_data: b64('{"demo":1}') },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.token_verified, true);
  assert.equal(r.json.maa_endpoint, `127.0.0.1:${PORT + 10}`);
  assert.equal(r.json.claims.iss, `http://127.0.0.1:${PORT + 10}`, 'issued by the configured service');
  assert.equal(r.json.maa_endpoint_requested, 'sharedeus.eus.attest.azure.net');
  assert.match(r.json.configuration_notes[0], /ignored.*SKR_MAA_ENDPOINT/);
});

test('the local attestation service rejects forged evidence MAA-style', async () => {
  const ok = await call(URLS.contoso, '/attest/raw', { method: 'POST', body: { runtime_data: b64('forge') } });
  const raw = Buffer.from(ok.json.attestation_report, 'hex');
  raw[0xc0] ^= 1; // host_data changed after signing
  const thim = JSON.parse(readFileSync(`${process.env.DEMO_STATE_DIR}/azure/vsnp-contoso/thim.json`, 'utf8'));
  const b64u = (b) => Buffer.from(b).toString('base64url');
  const report = b64u(JSON.stringify({ SnpReport: b64u(raw), VcekCertChain: b64u(thim.vcekCert + thim.certificateChain) }));
  const res = await fetch(`${URLS.maa}/attest/SevSnpVm?api-version=2022-08-01`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ report, runtimeData: { data: b64u('forge'), dataType: 'Binary' } }),
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.ok(body.error && body.error.code && body.error.message, JSON.stringify(body));
});

// The published shapes (REST spec 2022-08-01 examples): /certs keys are kid, kty and x5c only.
test('the local attestation service serves /certs in MAA\'s shape: kid, kty, x5c only', async () => {
  const r = await call(URLS.maa, '/certs');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  assert.deepEqual(Object.keys(r.json), ['keys']);
  assert.ok(r.json.keys.length >= 1);
  for (const k of r.json.keys) {
    assert.deepEqual(Object.keys(k).sort(), ['kid', 'kty', 'x5c'], JSON.stringify(k).slice(0, 200));
    assert.equal(k.kty, 'RSA');
    for (const c of k.x5c) assert.ok(new X509Certificate(Buffer.from(c, 'base64')).subject);
  }
  const meta = await call(URLS.maa, '/.well-known/openid-configuration');
  assert.equal(meta.json.jwks_uri, `${URLS.maa}/certs`);
  assert.ok(meta.json.claims_supported.includes('nonce'));
});

// An AttestSevSnpVm request as the spec writes it, its nonce member given as raw JSON text (a
// u64 like the sidecar's is beyond a JS number's precision), or none.
async function attestWithNonce(nonceJson) {
  const rt = 'nonce test ' + Math.random().toString(36).slice(2);
  const raw = await call(URLS.contoso, '/attest/raw', { method: 'POST', body: { runtime_data: b64(rt) } });
  assert.equal(raw.status, 200, raw.text);
  const thim = JSON.parse(readFileSync(`${process.env.DEMO_STATE_DIR}/azure/vsnp-contoso/thim.json`, 'utf8'));
  const b64u = (b) => Buffer.from(b).toString('base64url');
  const body = {
    report: b64u(JSON.stringify({
      SnpReport: b64u(Buffer.from(raw.json.attestation_report, 'hex')),
      VcekCertChain: b64u(thim.vcekCert + thim.certificateChain),
    })),
    runtimeData: { data: b64u(rt), dataType: 'Binary' },
  };
  let text = JSON.stringify(body);
  if (nonceJson !== undefined) text = text.slice(0, -1) + `,"nonce":${nonceJson}}`;
  const res = await fetch(`${URLS.maa}/attest/SevSnpVm?api-version=2022-08-01`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: text,
  });
  const answer = await res.text();
  return { status: res.status, text: answer, json: JSON.parse(answer) };
}

test('AttestSevSnpVm takes a string nonce (REST spec) and echoes it in the nonce claim', async () => {
  const nonce = 'c3RyaW5nIG5vbmNl-' + Date.now();
  const r = await attestWithNonce(JSON.stringify(nonce));
  assert.equal(r.status, 200, r.text);
  const claims = await independentVerify(r.json.token);
  assert.equal(claims.nonce, nonce);
});

test('AttestSevSnpVm takes a number nonce (what the SKR sidecar sends) and echoes its text', async () => {
  for (const n of ['18446744073709551614', '1234567890123', '0']) {
    const r = await attestWithNonce(n);
    assert.equal(r.status, 200, `${n}: ${r.text}`);
    assert.equal((await independentVerify(r.json.token)).nonce, n);
  }
  const none = await attestWithNonce(undefined);
  assert.equal(none.status, 200, none.text);
  assert.ok(!('nonce' in (await independentVerify(none.json.token))), 'no nonce, no nonce claim');
  for (const bad of ['{"a":1}', '[1]', 'true', '123456789012345678901234567890']) {
    const b = await attestWithNonce(bad);
    assert.equal(b.status, 400, `${bad}: ${b.text}`);
    assert.equal(b.json.error.code, 'InvalidParameter');
    assert.match(b.json.error.message, /nonce/);
  }
});
