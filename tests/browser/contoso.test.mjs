// The full Contoso walk-through in a real browser: attest, raw report, key release, CSV import,
// list, decrypt toggle (own names vs Fabrikam's undecryptable rows), the other company's key.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {useBrowser, openPage, assertNoErrors, shot, waitReady, ensureFabrikamRecords, csvNames,
	horizontalOverflow, url, CONTOSO, SLOW} from './lib.mjs';

const browser = useBrowser();

test('Contoso walk-through', {timeout: 150000}, async () => {
	await ensureFabrikamRecords(assert);
	const {context, page, errors} = await openPage(browser());
	try {
		await page.goto(url(CONTOSO), {waitUntil: 'domcontentloaded'});
		await waitReady(page);
		assert.match(await page.textContent('.config-key'), /contoso-secret-key/);
		assert.equal(await page.isVisible('#emulatedBanner'), true, 'the emulated-TEE banner is shown locally');
		assert.match(await page.textContent('#deploymentInfo'), /Live Attestation Status: VERIFIED/);
		await shot(page, 'contoso-01-loaded');

		// Attestation token: verified claims light the features.
		await page.click('#attestBtn');
		await page.waitForSelector('#attestResult .card, #attestResult .error-box', {timeout: SLOW});
		const attest = await page.textContent('#attestResult');
		assert.match(attest, /Token signature verified/, attest.slice(0, 500));
		assert.match(attest, /sevsnpvm/);
		assert.match(attest, /⏱/, 'stage timings are shown');
		for (const f of ['tee', 'attestation', 'policy', 'protection', 'memory']) {
			assert.equal(await page.getAttribute(`li[data-feature="${f}"]`, 'class'), 'verified', `feature ${f}`);
		}
		await shot(page, 'contoso-02-attested');

		// Raw report: decoded fields and verification checks.
		await page.click('#rawBtn');
		await page.waitForSelector('#rawResult .card, #rawResult .error-box', {timeout: SLOW});
		const raw = await page.textContent('#rawResult');
		assert.match(raw, /host_data/);
		assert.match(raw, /measurement/);
		assert.match(raw, /report_data bound to this request/);
		assert.match(raw, /debugging disabled/);
		assert.match(raw, /Report signature/);
		await shot(page, 'contoso-03-raw-report');

		// Secure key release: public facts only.
		const [relResp] = await Promise.all([
			page.waitForResponse((r) => r.url().endsWith('/skr/release'), {timeout: SLOW}),
			page.click('#skrBtn'),
		]);
		const rel = await relResp.json();
		assert.equal(rel.status, 'success', JSON.stringify(rel).slice(0, 500));
		for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal((rel.key || {})[m], undefined, `private member ${m}`);
		await page.waitForSelector('#skrResult .card', {timeout: SLOW});
		assert.match(await page.textContent('#skrResult'), /Key released to this container/);
		await shot(page, 'contoso-04-key-released');

		// Live encryption with the released key.
		await page.fill('#plaintextInput', 'hello from the walk-through');
		await page.waitForFunction(() => document.getElementById('ciphertextOutput').value.length > 40, null,
			{timeout: SLOW});
		assert.match(await page.textContent('#plaintextCounter'), /RSA-OAEP/);
		// Past the direct RSA-OAEP limit the server switches to envelope encryption; no limit of the page's own.
		const short = await page.inputValue('#ciphertextOutput');
		await page.fill('#plaintextInput', 'x'.repeat(600));
		await page.waitForFunction((old) => {
			const v = document.getElementById('ciphertextOutput').value;
			return v.length > 600 && v !== old;
		}, short, {timeout: SLOW});
		assert.match(await page.textContent('#plaintextCounter'), /envelope/);

		// Protect data: opening the section imports the CSV once, then lists.
		await page.waitForSelector('#protectSection:not([hidden])', {timeout: SLOW});
		await page.click('#protectSection > summary');
		await page.waitForFunction(() => /CSV Imported/.test(document.getElementById('populateDbBtn').textContent),
			null, {timeout: SLOW});
		// One record by hand: encrypted inside the container, appended to the shared file.
		const tester = `Walkthrough Tester ${Date.now()}`;
		await page.fill('#recordName', tester);
		await page.fill('#recordPhone', '+1 555 0100');
		await page.click('#saveDataBtn');
		await page.waitForSelector('#protectStatus .alert-ok', {timeout: SLOW});
		await page.click('#listDataBtn');
		await page.waitForSelector('#recordsTable tbody tr', {timeout: SLOW});
		assert.ok(await page.locator('#recordsTable tr.own').count() >= 9, 'Contoso rows are marked as ours');
		await shot(page, 'contoso-05-records');

		await page.click('#decryptToggleBtn');
		await page.waitForFunction(() => /Press to Encrypt/.test(document.getElementById('decryptToggleBtn').textContent),
			null, {timeout: SLOW});
		const own = await page.locator('#recordsTable tr.own td.plain').allTextContents();
		for (const name of [...csvNames('contoso'), tester]) assert.ok(own.includes(name), `decrypted Contoso name ${name}`);
		const theirs = page.locator('#recordsTable tr[data-company="fabrikam"]');
		assert.ok(await theirs.count() >= 1, 'Fabrikam rows are listed');
		assert.equal(await theirs.locator('td.undecryptable').count(), await theirs.count());
		assert.match(await theirs.first().textContent(), /Unable to Decrypt/);
		const allText = await page.textContent('#recordsTable');
		for (const name of csvNames('fabrikam')) assert.ok(!allText.includes(name), `Fabrikam's ${name} stays secret`);
		await shot(page, 'contoso-06-decrypted');

		// Toggle back: ciphertext again, without asking the server.
		await page.click('#decryptToggleBtn');
		assert.equal(await page.locator('#recordsTable td.plain').count(), 0);

		// The other company's key is refused.
		await page.click('#attemptOtherKeyBtn');
		await page.waitForSelector('#otherCompanyResult .card, #otherCompanyResult .alert', {timeout: SLOW});
		const other = await page.textContent('#otherCompanyResult');
		assert.match(other, /Access Correctly Denied/, other.slice(0, 500));
		assert.match(other, /fabrikam-secret-key/);
		await shot(page, 'contoso-07-other-denied');

		// Release-policy dry run for both keys.
		await page.click('#policyCheckPanel > summary');
		await page.click('#policyOwnBtn');
		await page.waitForSelector('#policyResult .card, #policyResult .error-box', {timeout: SLOW});
		assert.match(await page.textContent('#policyResult'), /✓ Would release/);
		await page.click('#policyOtherBtn');
		// Fabrikam's policy either fails for this token or is not even readable with Contoso's identity.
		await page.waitForFunction(() => /Would NOT release|Cannot evaluate/.test(
			document.getElementById('policyResult').textContent), null, {timeout: SLOW});
		await shot(page, 'contoso-08-policy-dry-run');

		// Phone width: everything still fits.
		await page.setViewportSize({width: 390, height: 844});
		await page.waitForTimeout(300);
		assert.ok(await horizontalOverflow(page) <= 1, 'no sideways scrolling at 390 px');
		await shot(page, 'contoso-09-phone');
		assertNoErrors(errors, assert);
	} finally {
		await context.close();
	}
});
