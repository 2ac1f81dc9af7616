// The full walk of one company's page (Contoso or Fabrikam), shared by contoso.test.mjs and
// fabrikam.test.mjs: attest (claims explained, the token downloaded), the raw report (downloaded
// and checked offline with snp-verify), key release, live encryption, the other company's key,
// the policy dry runs, and Protect Data: clear, import twice (the second adds nothing), reload
// (adds nothing), decrypt own rows in one request, save one record by hand; then phone width.
// Zero console errors and zero failed requests all along.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {execFileSync} from 'node:child_process';
import {openPage, assertNoErrors, shot, shotSet, waitReady, csvNames, horizontalOverflow, countRequests, call, url, ownRecords,
	REPO, SLOW} from './lib.mjs';

async function download(page, selector) {
	const [dl] = await Promise.all([page.waitForEvent('download', {timeout: SLOW}), page.click(selector)]);
	return {name: dl.suggestedFilename(), text: fs.readFileSync(await dl.path(), 'utf8')};
}

async function openDetails(page, summaryText) {
	await page.locator('summary', {hasText: summaryText}).first().click();
}

async function totalRecords(offset) {
	const r = await call(offset, 'GET', '/company/list?limit=1');
	assert.equal(r.status, 200, JSON.stringify(r.data).slice(0, 300));
	return r.data.total_records_in_file;
}

export async function walkCompany(browser, {name, offset, other, otherOffset}) {
	// The other company holds records in the shared file: rows this one must not decrypt.
	assert.equal((await call(otherOffset, 'POST', '/skr/release')).status, 200, `${other} key release`);
	assert.equal((await call(otherOffset, 'POST', '/company/populate')).status, 200, `${other} import`);

	const {context, page, errors, requests} = await openPage(browser);
	try {
		await page.goto(url(offset), {waitUntil: 'domcontentloaded'});
		await waitReady(page);
		assert.match(await page.textContent('.config-key'), new RegExp(`${name}-secret-key`));
		assert.equal(await page.isVisible('#emulatedBanner'), true, 'the emulated-TEE banner is shown locally');
		assert.match(await page.textContent('#deploymentInfo'), /Live Attestation Status: VERIFIED/);
		assert.equal(await page.isVisible('#whyBox'), true, '"Why this matters" is shown');
		// The sidecar is not needed when the instance attests natively: not a warning.
		await page.click('#containerSection > summary');
		assert.match(await page.textContent('#containerInfo'), /✓ Not needed/);

		// Attestation token: verified claims, each explained, grouped; the features light up.
		await page.click('#attestBtn');
		await page.waitForSelector('#attestResult .card, #attestResult .error-box', {timeout: SLOW});
		const attest = await page.textContent('#attestResult');
		assert.match(attest, /Token signature verified/, attest.slice(0, 500));
		assert.match(attest, /What just happened:/);
		assert.ok(await page.locator('#attestResult .claim-group').count() >= 4, 'claims grouped by category');
		const host = page.locator('#attestResult dt[data-claim="x-ms-sevsnpvm-hostdata"] + dd .claim-means');
		assert.match(await host.textContent(), /release policy pins this value/);
		for (const f of ['tee', 'attestation', 'policy', 'protection', 'memory', 'confidentiality']) {
			assert.equal(await page.getAttribute(`li[data-feature="${f}"]`, 'class'), 'verified', `feature ${f}`);
		}
		await openDetails(page, 'The token itself (JWT)');
		const jwt = await download(page, '#attestResult [data-download="attestation-token.jwt"]');
		assert.equal(jwt.name, 'attestation-token.jwt');
		const parts = jwt.text.split('.');
		assert.equal(parts.length, 3, 'the download is a compact JWT');
		const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
		assert.equal(claims['x-ms-attestation-type'], 'sevsnpvm');

		// Raw report: decoded, each check shown; downloaded and verified offline with snp-verify.
		await page.click('#rawBtn');
		await page.waitForSelector('#rawResult .card, #rawResult .error-box', {timeout: SLOW});
		const raw = await page.textContent('#rawResult');
		assert.match(raw, /report_data bound to this request/);
		assert.match(raw, /debugging disabled/);
		await openDetails(page, 'Raw report (hex, 1184 bytes)');
		assert.match(await page.textContent('#rawResult [data-snp-verify]'),
			new RegExp(`snp-verify --root var/public/virtual-ark.pem report.hex var/azure/vsnp-${name}/thim.json`));
		const hex = await download(page, '#rawResult [data-download="report.hex"]');
		assert.match(hex.text.trim(), /^[0-9a-f]{2368}$/, 'report.hex holds the 1184-byte report');
		const chain = await download(page, '#rawResult [data-download="vcek-chain.pem"]');
		const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'walk-'));
		try {
			fs.writeFileSync(path.join(dir, 'report.hex'), hex.text);
			fs.writeFileSync(path.join(dir, 'vcek-chain.pem'), chain.text);
			const state = process.env.DEMO_STATE_DIR || path.join(REPO, 'var');
			const out = execFileSync(path.join(REPO, 'build/tools/snp-verify'),
				['--root', path.join(state, 'public/virtual-ark.pem'), 'report.hex', 'vcek-chain.pem'],
				{cwd: dir, encoding: 'utf8', timeout: 30000});
			assert.equal(JSON.parse(out).verification.verified, true, 'snp-verify accepts the downloaded report offline');
		} finally {
			fs.rmSync(dir, {recursive: true, force: true});
		}

		// Secure key release: public facts only.
		const [relResp] = await Promise.all([
			page.waitForResponse((r) => r.url().endsWith('/skr/release'), {timeout: SLOW}),
			page.click('#skrBtn'),
		]);
		const rel = await relResp.json();
		assert.equal(rel.status, 'success', JSON.stringify(rel).slice(0, 500));
		for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal((rel.key || {})[m], undefined, `private member ${m}`);
		await page.waitForSelector('#skrResult .card', {timeout: SLOW});
		assert.match(await page.textContent('#skrResult'), /Key released to this container[\s\S]*What just happened:/);

		// Live encryption; past the direct RSA-OAEP limit the server switches to envelope encryption.
		await page.fill('#plaintextInput', 'hello from the walk-through');
		await page.waitForFunction(() => document.getElementById('ciphertextOutput').value.length > 40, null, {timeout: SLOW});
		assert.match(await page.textContent('#plaintextCounter'), /RSA-OAEP/);
		const short = await page.inputValue('#ciphertextOutput');
		await page.fill('#plaintextInput', 'x'.repeat(600));
		await page.waitForFunction((old) => {
			const v = document.getElementById('ciphertextOutput').value;
			return v.length > 600 && v !== old;
		}, short, {timeout: SLOW});
		assert.match(await page.textContent('#plaintextCounter'), /envelope/);

		// The other company's key is refused, as a 200 answer.
		await page.click('#attemptOtherKeyBtn');
		await page.waitForSelector('#otherCompanyResult .card, #otherCompanyResult .alert', {timeout: SLOW});
		const denied = await page.textContent('#otherCompanyResult');
		assert.match(denied, /Access Correctly Denied/, denied.slice(0, 500));
		assert.match(denied, new RegExp(`${other}-secret-key`));

		// Release-policy dry runs: ours would release; the other's policy is hidden from this
		// identity (no `get`): the isolation working, said in words, `get` as code, no backticks.
		await page.click('#policyCheckPanel > summary');
		await page.click('#policyOwnBtn');
		await page.waitForSelector('#policyResult [data-policy-status]', {timeout: SLOW});
		assert.equal(await page.getAttribute('#policyResult [data-policy-status]', 'data-policy-status'), 'would_release');
		await page.click('#policyOtherBtn');
		await page.waitForFunction(() => {
			const c = document.querySelector('#policyResult [data-policy-status]');
			return c && /other|policy of/.test(c.textContent) && c.dataset.policyStatus !== 'would_release';
		}, null, {timeout: SLOW});
		const ps = await page.getAttribute('#policyResult [data-policy-status]', 'data-policy-status');
		assert.ok(['policy_hidden', 'would_refuse'].includes(ps), `other key's dry run: ${ps}`);
		const pt = await page.textContent('#policyResult');
		assert.ok(!pt.includes('`'), 'no literal backticks');
		if (ps === 'policy_hidden') {
			assert.match(pt, /isolation/);
			assert.equal(await page.locator('#policyResult .policy-message code', {hasText: 'get'}).count(), 1);
		}

		await shotSet(page, `${name}-1-top`, {scrollTo: 'body'});
		await shotSet(page, `${name}-2-claims`, {scrollTo: '#attestResult .claims-explained'});
		await shotSet(page, `${name}-3-report`, {scrollTo: '#rawResult'});
		await shotSet(page, `${name}-4-policy`, {scrollTo: '#policyResult'});
		await shot(page, `${name}-5-whole-page`);

		// Protect Data: opening it lists, never imports.
		await page.waitForSelector('#protectSection:not([hidden])', {timeout: SLOW});
		await page.click('#protectSection > summary');
		await page.waitForSelector('#recordsView table, #recordsView p', {timeout: SLOW});
		assert.equal(countRequests(requests, 'POST', /^\/company\/populate/), 0, 'no import without the button');

		// Clear our rows (two clicks), leaving the other company's untouched.
		const otherBefore = await ownRecords(otherOffset);
		await page.click('#clearDataBtn');
		await page.click('#clearDataBtn');
		await page.waitForSelector('#protectStatus [data-records-removed]', {timeout: SLOW});
		assert.equal(await ownRecords(otherOffset), otherBefore,
			`${other}'s rows survive ${name}'s clear`);
		await page.waitForFunction(() => !document.querySelector('#recordsTable tr.own'), null, {timeout: SLOW});
		assert.equal(await ownRecords(offset), 0, `${name} has no rows after its clear`);

		// Import: 9 rows; again: nothing.
		const names = csvNames(name);
		await page.click('#populateDbBtn');
		await page.waitForSelector('#protectStatus [data-records-added]', {timeout: SLOW});
		assert.equal(await page.getAttribute('#protectStatus [data-records-added]', 'data-records-added'), String(names.length));
		await page.waitForSelector('#recordsTable tr.own', {timeout: SLOW});
		assert.equal(await page.locator('#recordsTable tr.own').count(), names.length);
		await page.click('#populateDbBtn');
		await page.waitForSelector('#protectStatus [data-records-added="0"]', {timeout: SLOW});
		assert.match(await page.textContent('#protectStatus'), /nothing was added/);
		const total = await totalRecords(offset);

		// Reload and reopen: nothing is imported on load.
		await page.reload({waitUntil: 'domcontentloaded'});
		await waitReady(page);
		await page.waitForSelector('#protectSection:not([hidden])', {timeout: SLOW});
		await page.click('#protectSection > summary');
		await page.waitForSelector('#recordsTable', {timeout: SLOW});
		assert.equal(await totalRecords(offset), total, 'reloading and reopening Protect Data adds no records');
		assert.equal(countRequests(requests, 'POST', /^\/company\/populate/), 2, 'only the two clicks imported');

		// Decrypt: one request, our rows readable, the other's sealed; no per-record /decrypt.
		await page.click('#decryptToggleBtn');
		await page.waitForFunction(() => /Show ciphertext/.test(document.getElementById('decryptToggleBtn').textContent),
			null, {timeout: SLOW});
		const own = await page.locator('#recordsTable tr.own td.plain').allTextContents();
		for (const n of names) assert.ok(own.includes(n), `decrypted ${name} name ${n}`);
		const theirs = page.locator(`#recordsTable tr[data-company="${other}"]`);
		assert.ok(await theirs.count() >= 1, `${other} rows are listed`);
		assert.equal(await theirs.locator('td.sealed').count(), await theirs.count());
		const tableText = await page.textContent('#recordsTable');
		for (const n of csvNames(other)) assert.ok(!tableText.includes(n), `${other}'s ${n} stays secret`);
		// One request per page of the listing (not per record), and never a per-record /decrypt.
		const pages = Number(await page.getAttribute('#recordsView', 'data-pages'));
		assert.equal(countRequests(requests, 'GET', /^\/company\/list\?.*decrypt=own/), pages, 'one decrypting request per page');
		assert.equal(countRequests(requests, 'POST', /^\/decrypt$/), 0, 'no per-record /decrypt');
		assert.match(await page.textContent('#recordsView'), /What just happened:/);

		// Phone width: records become cards that fit; no sideways scrolling.
		await page.setViewportSize({width: 400, height: 800});
		await page.waitForTimeout(200);
		assert.ok(await horizontalOverflow(page) <= 1, 'no sideways scrolling at 400 px');
		const card = page.locator('#recordsTable tr.own').first();
		const cb = await card.boundingBox();
		assert.ok(cb.height <= 90, `a record card is ${cb.height} px tall`);
		for (const label of ['Name', 'Phone']) {
			const b = await card.locator(`td[data-label="${label}"]`).boundingBox();
			assert.ok(b && b.x >= 0 && b.x + b.width <= 400 + 1, `${label} is on screen at 400 px`);
		}
		await page.setViewportSize({width: 1280, height: 800});
		await shotSet(page, `${name}-6-decrypted`, {scrollTo: '#recordsTable'});

		// One record by hand: encrypted inside the container, appended, decryptable by us.
		const tester = `Walkthrough Tester ${Date.now()}`;
		await page.fill('#recordName', tester);
		await page.fill('#recordPhone', '+1 555 0100');
		await page.click('#saveDataBtn');
		await page.waitForSelector('#protectStatus .alert-ok', {timeout: SLOW});
		await page.waitForSelector('#recordsTable', {timeout: SLOW});
		await page.click('#decryptToggleBtn');
		await page.waitForFunction(() => /Show ciphertext/.test(document.getElementById('decryptToggleBtn').textContent),
			null, {timeout: SLOW});
		assert.ok((await page.locator('#recordsTable tr.own td.plain').allTextContents()).includes(tester));
		assertNoErrors(errors, assert);
	} finally {
		await context.close();
	}
}
