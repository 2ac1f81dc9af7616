// Each instance's identity endpoint gives tokens only to that instance: locally every instance runs
// as its own user (when the stack runs as root), and the endpoint checks who owns the caller's socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { PORT, STATE, call } from './lib.mjs';

const separateUsers = process.getuid && process.getuid() === 0 && STATE &&
  statSync(`${STATE}/contoso`).uid !== 0;
const tokenPath = '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net';

test('another process cannot take an instance\'s managed-identity token', { skip: !separateUsers && 'instances share one user (stack not run as root)' }, async () => {
  for (const [inst, off] of [['contoso', 11], ['fabrikam', 12], ['snooper', 13]]) {
    const r = await call(`http://127.0.0.1:${PORT + off}`, tokenPath, { headers: { Metadata: 'true' } });
    assert.equal(r.status, 403, `${inst}: ${r.text}`);
    assert.equal(r.json.error, 'forbidden');
    assert.ok(!r.text.includes('access_token'), 'no token in the refusal');
  }
});
