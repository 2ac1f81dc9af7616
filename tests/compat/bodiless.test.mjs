// The POSTs that carry no body, byte for byte: with Content-Length: 0 (what the original page's
// fetch() and `curl -d ''` send) and without any Content-Length (what `curl -X POST` and many
// scripts written against the original Flask server send; Flask took both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TEE, rawHttp, shape, nonEmpty } from './lib.mjs';

const BODILESS = ['/skr/release', '/skr/release-other', '/company/populate'];

// What each bodiless POST must answer: the page judges data.status.
function expectAnswer(inst, path, r) {
  const what = `${inst} POST ${path} -> ${r.status} ${r.text.slice(0, 200)}`;
  assert.ok(r.data, `a JSON answer: ${what}`);
  shape(r.data, { status: nonEmpty }, what);
  if (!TEE[inst]) {
    assert.equal(r.data.status, 'error', what);
    nonEmpty(r.data.message, what);
    assert.ok(r.status === 503 || r.status === 400, what);
    return;
  }
  assert.equal(r.status, 200, what);
  assert.equal(r.data.status, path === '/skr/release-other' ? 'access_denied' : 'success', what);
}

for (const inst of ['contoso', 'snooper']) {
  for (const path of BODILESS) {
    test(`${inst}: POST ${path} with Content-Length: 0 and the page's Content-Type`, async () => {
      const r = await rawHttp(inst, [`POST ${path} HTTP/1.1`, 'Content-Type: application/json', 'Content-Length: 0']);
      expectAnswer(inst, path, r);
    });

    test(`${inst}: POST ${path} with Content-Length: 0 and no Content-Type`, async () => {
      const r = await rawHttp(inst, [`POST ${path} HTTP/1.1`, 'Content-Length: 0']);
      expectAnswer(inst, path, r);
    });

    // lighttpd 1.4.69 answers every HTTP/1.x POST without Content-Length 411 before any module runs
    // (request.c; no setting waives it). The one difference left from the original, documented in
    // README: the answer is JSON and says how to send the request.
    test(`${inst}: POST ${path} without Content-Length is 411 JSON saying to send Content-Length: 0`, async () => {
      const r = await rawHttp(inst, [`POST ${path} HTTP/1.1`, 'Content-Type: application/json']);
      assert.equal(r.status, 411, r.text);
      assert.equal(r.data.status, 'error');
      assert.match(r.data.message, /Content-Length: 0/);
    });
  }
}

test('a body that is not a JSON object is still a 400, bodiless endpoint or not', async () => {
  const r = await rawHttp('contoso', ['POST /company/populate HTTP/1.1', 'Content-Type: application/json', 'Content-Length: 2'], '[]');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.data.status, 'error');
});
