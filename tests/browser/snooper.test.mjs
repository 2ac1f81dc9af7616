// The snooper: standard hardware, Contoso's configuration. Attestation fails with a diagnosis and
// the service logs; the shared record file is intercepted, but only as ciphertext.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {useBrowser, openPage, assertNoErrors, shot, waitReady, ensureFabrikamRecords, csvNames,
	horizontalOverflow, url, SNOOPER, SLOW} from './lib.mjs';

const browser = useBrowser();

test('snooper page: attestation fails, records intercepted as ciphertext', {timeout: 120000}, async () => {
	await ensureFabrikamRecords(assert);
	const {context, page, errors} = await openPage(browser());
	try {
		await page.goto(url(SNOOPER), {waitUntil: 'domcontentloaded'});
		await waitReady(page);
		assert.match(await page.textContent('#headerSubtitle'), /NOT running on confidential hardware/);
		assert.match(await page.textContent('#deploymentInfo'), /Live Attestation Status: FAILED/);
		// Locally the stand-ins are emulated, but the snooper has no TEE device, virtual or not.
		if (await page.isVisible('#emulatedBanner')) {
			assert.doesNotMatch(await page.textContent('#emulatedBanner'), /virtual AMD SEV-SNP device/i);
		}

		// The intercepted view opens by itself and refreshes every 5 s.
		await page.waitForSelector('#interceptedTable tbody tr', {timeout: SLOW});
		assert.equal(await page.isVisible('#snooperExplainer'), true);
		const table = await page.textContent('#interceptedTable');
		assert.match(table, /No access to keys to decrypt data/);
		for (const name of [...csvNames('contoso'), ...csvNames('fabrikam')]) {
			assert.ok(!table.includes(name), `plaintext ${name} must not be visible to the snooper`);
		}
		await shot(page, 'snooper-01-intercepted');

		await page.click('#attestBtn');
		await page.waitForSelector('#attestResult .error-box', {timeout: SLOW});
		assert.match(await page.textContent('#attestResult'), /Attestation failed/);
		assert.match(await page.textContent('#featuresStatus'), /Attestation failed/);
		assert.equal(await page.locator('#featureList li.unverified').count(), 6);
		assert.equal(await page.locator('#attestResult .logs-panel').count(), 1, 'service logs panel');
		assert.equal(await page.getAttribute('#attestResult .logs-panel', 'open'), null, 'logs collapsed on the snooper');
		await page.click('#attestResult .logs-panel > summary');
		assert.match(await page.textContent('#attestResult .logs-panel'), /SEV device status/);
		await shot(page, 'snooper-02-attestation-failed');

		// Its key release is refused too, with a diagnosis.
		await page.click('#skrBtn');
		await page.waitForSelector('#skrResult .error-box', {timeout: SLOW});
		assert.match(await page.textContent('#skrResult'), /Secure key release failed/);
		assert.equal(await page.isVisible('#protectSection'), false, 'no key: no protect-data section');
		await shot(page, 'snooper-03-release-refused');

		await page.setViewportSize({width: 390, height: 844});
		await page.waitForTimeout(300);
		assert.ok(await horizontalOverflow(page) <= 1, 'no sideways scrolling at 390 px');
		await shot(page, 'snooper-04-phone');
		assertNoErrors(errors, assert);
	} finally {
		await context.close();
	}
});
