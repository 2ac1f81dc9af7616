// "Request Attestation Token" and "Get Raw Attestation Report" exactly as the original page sends
// them, on all three instances: the page's own token decoding works, its security-feature rules
// find the claims they test, and the snooper's failure panels find every field they show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INSTANCES, TEE, PAGE_MAA, page, shape, nonEmpty, logsSpec, tokenRuntime, rawRuntime, pageDecodeToken,
} from './lib.mjs';

const config = {};
async function configured(inst) {
  config[inst] ??= (await page(inst, '/skr/config')).data;
  return config[inst];
}

for (const inst of INSTANCES) {
  test(`${inst}: POST /attest/maa with the page's body`, async () => {
    const runtime = tokenRuntime();
    const { ok, status, data } = await page(inst, '/attest/maa', {
      method: 'POST', body: { maa_endpoint: PAGE_MAA, runtime_data: runtime },
    });
    const cfg = await configured(inst);
    // The page's default attestation service is never followed: the configured one answers,
    // and the answer says the request's value was ignored (success and failure alike).
    assert.equal(data.maa_endpoint, cfg.maa_endpoint);
    if (cfg.maa_endpoint !== PAGE_MAA) {
      assert.equal(data.maa_endpoint_requested, PAGE_MAA);
      assert.ok(Array.isArray(data.configuration_notes) && data.configuration_notes.some((n) => n.includes(PAGE_MAA)));
    }
    if (TEE[inst]) {
      assert.equal(status, 200, JSON.stringify(data).slice(0, 400));
      assert.equal(data.status, 'success');
      // The page: data.attestation_token.split('.') then JSON.parse(atob(parts[1])).
      const payload = pageDecodeToken(data.attestation_token);
      // updateSecurityFeatures(true, payload) tests these claims.
      assert.equal(payload['x-ms-sevsnpvm-is-debuggable'], false, 'tee and protection: ✓');
      assert.notEqual(payload['x-ms-sevsnpvm-vmpl'], undefined, 'memory: ✓');
      assert.notEqual(payload['x-ms-sevsnpvm-hostdata'], undefined, 'policy: ✓');
      assert.equal(payload['x-ms-attestation-type'], 'sevsnpvm');
      // Meaning: the page's own runtime data is what the token is bound to.
      assert.deepEqual(payload['x-ms-runtime'], JSON.parse(atob(runtime)));
      assert.equal(data.runtime_data_bound, true);
      return;
    }
    // The snooper: the red header, "Live Attestation Status: FAILED" and the failure panel.
    assert.equal(ok, false);
    assert.equal(status, 503);
    assert.equal(data.status, 'error');
    shape(data, {
      message: nonEmpty,
      failure_reason: nonEmpty,
      diagnosis: { likely_cause: nonEmpty, solution: nonEmpty, command: nonEmpty },
      note: nonEmpty,
      logs: logsSpec,
    }, `${inst} /attest/maa failure`);
    assert.match(data.failure_reason, /SEV-SNP|TEE/, 'the reason says there is no TEE');
    assert.equal(data.logs.sev_device.available, false);
    assert.equal(data.logs.sev_device.device_path, null);
    assert.ok(Array.isArray(data.logs.sev_device.dev_listing), 'the page joins dev_listing when no device');
    // The page shows the sidecar's answer only when there is one; when present it is text.
    if ('sidecar_response' in data) {
      assert.equal(typeof data.sidecar_response, 'string');
      assert.equal(typeof data.sidecar_status_code, 'number');
    } else {
      assert.equal(data.sidecar_status_code, undefined);
    }
    // Our names for the same logs, beside the original's.
    assert.equal(data.logs.app, data.logs.flask);
    assert.equal(data.logs.lighttpd_error, data.logs.flask_error);
  });

  test(`${inst}: POST /attest/raw with the page's body`, async () => {
    const runtime = rawRuntime();
    const { ok, data } = await page(inst, '/attest/raw', { method: 'POST', body: { runtime_data: runtime } });
    if (TEE[inst]) {
      assert.ok(ok);
      assert.equal(data.status, 'success');
      // Shown as text in the output box: the report itself, 1184 bytes in hex.
      assert.match(data.attestation_report, /^[0-9a-f]{2368}$/);
      assert.equal(data.report_data_bound, true, 'bound to the page\'s runtime data');
      return;
    }
    assert.equal(ok, false);
    assert.equal(data.status, 'error');
    shape(data, {
      message: nonEmpty,
      failure_reason: nonEmpty,
      diagnosis: { likely_cause: nonEmpty, detail: nonEmpty, solution: nonEmpty },
      note: nonEmpty,
    }, `${inst} /attest/raw failure`);
  });

  test(`${inst}: /health and /sidecar/status keep the original's answers`, async () => {
    const h = await page(inst, '/health');
    assert.deepEqual(h.data, { status: 'healthy', service: 'confidential-aci-attestation-demo' });
    // No SKR sidecar runs locally: the original's 503 {status: "unavailable", message}.
    const s = await page(inst, '/sidecar/status');
    assert.equal(s.status, 503);
    shape(s.data, { status: (v) => assert.equal(v, 'unavailable'), message: nonEmpty }, `${inst} /sidecar/status`);
  });
}

test('a malformed maa_endpoint is refused, not followed', async () => {
  const { status, data } = await page('contoso', '/attest/maa', {
    method: 'POST', body: { maa_endpoint: 'https://attacker.example/x?y', runtime_data: tokenRuntime() },
  });
  assert.equal(status, 400);
  assert.equal(data.status, 'error');
  nonEmpty(data.message, 'message');
});

test('a script\'s bare POST /attest/maa (no runtime data) still attests', async () => {
  const { status, data } = await page('contoso', '/attest/maa', { method: 'POST', body: {} });
  assert.equal(status, 200, JSON.stringify(data).slice(0, 300));
  assert.equal(data.status, 'success');
  assert.ok(pageDecodeToken(data.attestation_token).iss);
});
