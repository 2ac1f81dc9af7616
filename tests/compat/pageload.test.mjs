// What the original page fetches when it loads, on all three instances, and every field it reads
// from those answers, with the type and meaning it relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INSTANCES, TEE, COMPANY, OTHER, title, page, shape, nonEmpty, stringArray, negativeFeature,
} from './lib.mjs';

for (const inst of INSTANCES) {
  test(`${inst}: /skr/config as the key box, the cross-company box and snooper mode read it`, async () => {
    const { ok, data } = await page(inst, '/skr/config');
    assert.ok(ok);
    shape(data, {
      configured: 'boolean',
      key_name: nonEmpty,
      akv_endpoint: nonEmpty,
      maa_endpoint: nonEmpty,
      company_name: nonEmpty,
      is_confidential: 'boolean',
      other_company: { name: nonEmpty, key_name: nonEmpty, akv_endpoint: nonEmpty },
    }, `${inst} /skr/config`);
    assert.equal(data.configured, true, 'the SKR button stays enabled');
    assert.equal(data.key_name, `${COMPANY[inst]}-secret-key`);
    assert.equal(data.company_name, title(COMPANY[inst]));
    // is_confidential false is what switches the original page into snooper mode.
    assert.equal(data.is_confidential, TEE[inst]);
    assert.equal(data.other_company.name, title(OTHER[inst]));
    assert.equal(data.other_company.key_name, `${OTHER[inst]}-secret-key`);
    assert.notEqual(data.other_company.akv_endpoint, data.akv_endpoint, 'the other company has its own vault');
  });

  test(`${inst}: /skr/key-status has the boolean the page re-enables encryption on`, async () => {
    const { ok, data } = await page(inst, '/skr/key-status');
    assert.ok(ok);
    shape(data, { released: 'boolean' }, `${inst} /skr/key-status`);
    if (!TEE[inst]) assert.equal(data.released, false, 'the snooper never holds a key');
  });

  test(`${inst}: /info as Deployment Information reads it`, async () => {
    const { ok, data } = await page(inst, '/info');
    assert.ok(ok);
    shape(data, {
      platform: nonEmpty,
      sku: nonEmpty,
      hardware: nonEmpty,
      attestation_service: nonEmpty,
      status: { attestation_works: 'boolean' },
      diagnostics: { recommendation: nonEmpty },
      features: stringArray,
    }, `${inst} /info`);
    // Meaning: attestation_works is a real, verified attestation right now, not a guess.
    assert.equal(data.status.attestation_works, TEE[inst]);
    assert.equal(data.features.length, 5);
    // The page marks a feature ✗ exactly when it says NOT or FAILED.
    for (const f of data.features)
      assert.equal(negativeFeature(f), !TEE[inst], `${inst} feature "${f}"`);
  });

  test(`${inst}: /container/info as Container Image Information reads it`, async () => {
    const { ok, data } = await page(inst, '/container/info');
    assert.ok(ok);
    shape(data, {
      hostname: nonEmpty,
      container_id: nonEmpty,
      os: { pretty_name: nonEmpty },
      skr_status: { running: 'boolean' },
      sev_device: { available: 'boolean', device_path: 'string|null' },
      skr_binary_info: 'object',
      app_checksums: 'object',
    }, `${inst} /container/info`);
    // The page draws "Running" only for running === true.
    assert.equal(data.skr_status.running, TEE[inst]);
    if (TEE[inst]) {
      assert.equal(data.skr_status.mode, 'native', 'attesting natively, no sidecar needed');
      assert.equal(data.sev_device.available, true);
      nonEmpty(data.sev_device.device_path, `${inst} sev_device.device_path`);
    } else {
      shape(data.skr_status, {
        reason: nonEmpty, explanation: nonEmpty, solution: nonEmpty, technical_detail: nonEmpty,
      }, `${inst} skr_status`);
      assert.equal(data.sev_device.available, false);
    }
    // The SKR binary table is drawn only without .error, and then reads these.
    const b = data.skr_binary_info;
    if (!b.error)
      shape(b, {
        path: nonEmpty, size_bytes: 'integer', md5: (v, at) => assert.match(v, /^[0-9a-f]{32}$/, at),
        sha256: nonEmpty, executable: 'boolean',
      }, `${inst} skr_binary_info`);
    else nonEmpty(b.error, `${inst} skr_binary_info.error`);
    // Application files: every entry with md5 is a row (path, md5, size in KB).
    const files = Object.entries(data.app_checksums);
    assert.ok(files.length >= 4, 'the four programs at least');
    for (const [path, info] of files) {
      assert.doesNotMatch(path, /\.(o|d|a)$|~$|\/\./, `${path}: no build object or editor file`);
      shape(info, {
        md5: (v, at) => assert.match(v, /^[0-9a-f]{32}$/, at),
        size_bytes: 'integer',
      }, `${inst} app_checksums[${path}]`);
      assert.ok(info.size_bytes > 0);
    }
    for (const prog of ['attest', 'skr', 'storage', 'company'])
      assert.ok(data.app_checksums[`fcgi-bin/${prog}`], `fcgi-bin/${prog} is listed`);
  });

  test(`${inst}: /storage/config as the storage box and snooper mode read it`, async () => {
    const { ok, data } = await page(inst, '/storage/config');
    assert.ok(ok);
    shape(data, {
      consolidated_blob_name: (v, at) => assert.match(v, /^consolidated-records(-[\w.-]+)?\.json$/, at),
      storage_account: nonEmpty,
      container_name: nonEmpty,
      authenticated: 'boolean',
      sas_expiry: 'object|null',
    }, `${inst} /storage/config`);
    if (data.sas_expiry && !data.sas_expiry.error)
      shape(data.sas_expiry, {
        expiry_formatted: nonEmpty, days_remaining: 'integer', is_expired: 'boolean', is_expiring_soon: 'boolean',
      }, `${inst} sas_expiry`);
  });

  test(`${inst}: /company/info has what shows the Protect Data section`, async () => {
    const { ok, data } = await page(inst, '/company/info');
    assert.ok(ok);
    shape(data, { key_released: 'boolean', company: 'string|null' }, `${inst} /company/info`);
    if (data.key_released) assert.equal(data.company.toUpperCase(), COMPANY[inst].toUpperCase());
    if (!TEE[inst]) assert.equal(data.key_released, false, 'the snooper never shows Protect Data');
  });
}
