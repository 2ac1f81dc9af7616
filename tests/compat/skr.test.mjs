// "Test Secure Key Release", "Attempt to Access Other Company's Key" and the live encryption box,
// as the original page sends them (a POST with no body), on all three instances; and the request
// overrides a script written against the original server may send.  The deliberate differences
// hold: no private key member ever comes back, and configuration decides vault, key and service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INSTANCES, TEE, COMPANY, OTHER, title, page, shape, nonEmpty, logsSpec, assertNoPrivateKey,
} from './lib.mjs';

const config = {};
async function configured(inst) {
  config[inst] ??= (await page(inst, '/skr/config')).data;
  return config[inst];
}

for (const inst of INSTANCES) {
  test(`${inst}: POST /skr/release with no body, as the page sends it`, async () => {
    const { ok, data, text } = await page(inst, '/skr/release', { method: 'POST', noBody: true });
    const cfg = await configured(inst);
    assertNoPrivateKey(text, `${inst} /skr/release`);
    // Both panels show the vault, key and attestation service: the configured ones.
    shape(data, { akv_endpoint: nonEmpty, key_name: nonEmpty, maa_endpoint: nonEmpty }, `${inst} /skr/release`);
    assert.equal(data.akv_endpoint, cfg.akv_endpoint);
    assert.equal(data.key_name, cfg.key_name);
    assert.equal(data.maa_endpoint, cfg.maa_endpoint);
    if (TEE[inst]) {
      assert.ok(ok, text.slice(0, 300));
      assert.equal(data.status, 'success');
      // "Released Key (JWK format)": the public facts only.
      shape(data.key, { kid: nonEmpty, kty: (v) => assert.match(v, /^RSA/) }, `${inst} key`);
      assert.ok(JSON.stringify(data.key, null, 2).length > 2);
      for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(data.key[m], undefined, `no ${m}`);
      assert.equal(data.encryption_enabled, true);
      const ks = await page(inst, '/skr/key-status');
      assert.equal(ks.data.released, true, 'a reload re-enables encryption');
      const ci = await page(inst, '/company/info');
      assert.equal(ci.data.key_released, true);
      assert.equal(ci.data.company.toUpperCase(), COMPANY[inst].toUpperCase());
      return;
    }
    assert.equal(ok, false);
    assert.equal(data.status, 'error');
    shape(data, {
      message: nonEmpty,
      failure_reason: nonEmpty,
      diagnosis: { likely_cause: nonEmpty, solution: nonEmpty },
      logs: { sev_device: logsSpec.sev_device, skr: 'string', skr_error: 'string' },
    }, `${inst} /skr/release failure`);
    assert.equal(data.logs.sev_device.available, false);
    assert.equal((await page(inst, '/skr/key-status')).data.released, false);
  });

  test(`${inst}: POST /skr/release-other as the cross-company box reads it`, async () => {
    const { data, text } = await page(inst, '/skr/release-other', { method: 'POST', noBody: true });
    const cfg = await configured(inst);
    assertNoPrivateKey(text, `${inst} /skr/release-other`);
    assert.notEqual(data.status, 'unexpected_success', 'the other company\'s key is never released');
    // Who tried what, in the page's names and the original server's, whatever the outcome.
    shape(data, {
      our_company: (v) => assert.equal(v, title(COMPANY[inst])),
      other_company: (v) => assert.equal(v, title(OTHER[inst])),
      attempted_key: (v) => assert.equal(v, cfg.other_company.key_name),
      attempted_akv: (v) => assert.equal(v, cfg.other_company.akv_endpoint),
      attempted_keyvault: (v) => assert.equal(v, cfg.other_company.akv_endpoint),
      message: nonEmpty,
    }, `${inst} /skr/release-other`);
    if (TEE[inst]) {
      // "Access Correctly Denied": the vault's refusal in data.error.
      assert.equal(data.status, 'access_denied');
      shape(data, {
        error: nonEmpty, error_detail: nonEmpty, http_status: 'integer', explanation: nonEmpty,
      }, `${inst} access_denied`);
      assert.equal(data.error, data.error_detail);
      assert.equal(data.http_status, 403, 'the other vault refused');
    } else {
      // No TEE: an error the page shows with data.message.
      assert.equal(data.status, 'error');
      nonEmpty(data.failure_reason, 'failure_reason');
    }
  });

  test(`${inst}: POST /encrypt {plaintext} as the live encryption box reads it`, async () => {
    const { data } = await page(inst, '/encrypt', { method: 'POST', body: { plaintext: 'Hello from the original page' } });
    if (!TEE[inst]) {
      assert.notEqual(data.status, 'success');
      nonEmpty(data.message, 'the box shows "Error: " + message');
      return;
    }
    assert.equal(data.status, 'success');
    shape(data, { ciphertext: nonEmpty, ciphertext_length: 'integer' }, `${inst} /encrypt`);
    assert.match(data.ciphertext, /^[A-Za-z0-9+/]+={0,2}$/, 'standard base64, as the original');
    assert.equal(data.ciphertext_length, 256, 'bytes of RSA-2048 ciphertext');
    assert.equal(Buffer.from(data.ciphertext, 'base64').length, data.ciphertext_length);
    assert.equal(data.ciphertext_base64_length, data.ciphertext.length, 'the other number, 344');
    const d = await page(inst, '/decrypt', { method: 'POST', body: { ciphertext: data.ciphertext } });
    assert.equal(d.data.status, 'success');
    assert.equal(d.data.plaintext, 'Hello from the original page');
    assert.equal(d.data.ciphertext_length, 256);
  });
}

test('a script\'s overrides of maa_endpoint, akv_endpoint and kid are reported, never followed', async () => {
  const cfg = await configured('contoso');
  const asked = { maa_endpoint: 'sharedeus.eus.attest.azure.net', akv_endpoint: 'kvattacker.vault.azure.net', kid: 'fabrikam-secret-key' };
  const { ok, data, text } = await page('contoso', '/skr/release', { method: 'POST', body: asked });
  assert.ok(ok, text.slice(0, 300));
  assert.equal(data.status, 'success');
  assertNoPrivateKey(text, '/skr/release with overrides');
  assert.equal(data.akv_endpoint, cfg.akv_endpoint);
  assert.equal(data.key_name, cfg.key_name);
  assert.match(data.key.kid, /contoso-secret-key/, 'the configured key, not the requested one');
  assert.equal(data.akv_endpoint_requested, asked.akv_endpoint);
  assert.equal(data.kid_requested, asked.kid);
  assert.equal(data.maa_endpoint_requested, asked.maa_endpoint);
  assert.equal(data.configuration_notes.length, 3);
  for (const v of Object.values(asked))
    assert.ok(data.configuration_notes.some((n) => n.includes(v) && /ignored/.test(n)), v);
});

test('the snooper\'s failed release also reports a request override it ignored', async () => {
  const { data } = await page('snooper', '/skr/release', { method: 'POST', body: { kid: 'fabrikam-secret-key' } });
  assert.equal(data.status, 'error');
  assert.equal(data.kid_requested, 'fabrikam-secret-key');
  assert.equal(data.key_name, 'contoso-secret-key');
});
