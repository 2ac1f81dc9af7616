// The snooper: standard hardware, Contoso's configuration. Its page has its own title and wording,
// hides what it cannot use, shows the failed attestation with the plain reason first and the logs
// open (newest first, no polling lines), and intercepts the shared file as ciphertext, all without
// a single failed request: the expected refusal comes as a 200 answer (/info).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {useBrowser, openPage, assertNoErrors, shot, shotSet, waitReady, ensureFabrikamRecords, csvNames,
	horizontalOverflow, countRequests, url, SNOOPER, SLOW} from './lib.mjs';

const browser = useBrowser();

test('snooper page: attestation fails as expected, records intercepted as ciphertext, no failed request',
	{timeout: 120000}, async () => {
		await ensureFabrikamRecords(assert);
		const {context, page, errors, requests} = await openPage(browser());
		try {
			await page.goto(url(SNOOPER), {waitUntil: 'domcontentloaded'});
			await waitReady(page);
			assert.match(await page.title(), /^Snooper/);
			assert.doesNotMatch(await page.title(), /Contoso/);
			assert.match(await page.textContent('#headerTitle'), /Snooper/);
			assert.match(await page.textContent('#headerSubtitle'), /NOT running on confidential hardware/);
			assert.match(await page.textContent('#deploymentInfo'), /Live Attestation Status: FAILED/);
			if (await page.isVisible('#emulatedBanner')) {
				assert.doesNotMatch(await page.textContent('#emulatedBanner'), /virtual AMD SEV-SNP device/i);
			}
			// What it cannot use is not offered; what it cannot do is explained.
			for (const id of ['#encryptSection', '#otherCompanySection', '#protectSection', '#skrBtn', '#rawBtn']) {
				assert.equal(await page.isVisible(id), false, `${id} is hidden on the snooper`);
			}
			assert.match(await page.textContent('#snooperKeyNote'), /point of the demo/);
			assert.equal(await page.isVisible('#noTeeBox'), true, '"What happens without TEE protection" is shown');

			// The intercepted view opens by itself: every record, only ciphertext.
			await page.waitForSelector('#interceptedTable tbody tr', {timeout: SLOW});
			const table = await page.textContent('#interceptedTable');
			assert.match(table, /No access to keys to decrypt data/);
			for (const name of [...csvNames('contoso'), ...csvNames('fabrikam')]) {
				assert.ok(!table.includes(name), `plaintext ${name} must not be visible to the snooper`);
			}

			// "Try to attest": the plain reason first, the internals folded, the logs open.
			await page.click('#attestBtn');
			await page.waitForSelector('#attestResult .error-box', {timeout: SLOW});
			assert.match(await page.textContent('#attestResult .error-headline'), /No AMD SEV-SNP hardware/);
			assert.equal(await page.isVisible('#attestResult .tech-detail .kv'), false, 'technical detail folded');
			assert.match(await page.textContent('#attestResult .tech-detail'), /sidecar/i);
			assert.match(await page.textContent('#featuresStatus'), /Attestation failed/);
			assert.equal(await page.locator('#featureList li.unverified').count(), 6);
			assert.notEqual(await page.getAttribute('#attestResult .logs-panel', 'open'), null, 'logs open on failure');
			const logs = await page.locator('#attestResult .logs-panel pre.log').allTextContents();
			let ordered = 0;
			for (const log of logs) {
				assert.doesNotMatch(log, /GET \S+ -> 200/, 'routine polling lines are filtered out');
				const stamps = log.split('\n').map((l) => /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d/.exec(l))
					.filter(Boolean).map((m) => m[0].replace(' ', 'T'));
				if (stamps.length < 2) continue;
				assert.ok(stamps[0] >= stamps[stamps.length - 1], 'newest line first: ' + log.slice(0, 300));
				ordered++;
			}
			assert.ok(ordered >= 1, 'a log with several lines is shown newest first');

			// The verify box does not ask an instance without a TEE for a token.
			await page.click('#verifySection > summary');
			await page.waitForSelector('#verifyBox [data-verify-command]', {timeout: SLOW});
			assert.match(await page.textContent('#verifyBox'), /NOT VERIFIED/);

			// Let a polling round or two pass: still no failed request.
			await page.waitForTimeout(6000);
			assert.equal(countRequests(requests, 'POST', /^\/attest\/maa/), 0, 'no token is requested on standard hardware');
			assert.equal(countRequests(requests, 'POST', /^\/skr\//), 0, 'no key release is attempted');
			assert.equal(countRequests(requests, 'GET', /^\/storage\/download\//) >= 1, true);

			await page.setViewportSize({width: 400, height: 800});
			await page.waitForTimeout(200);
			assert.ok(await horizontalOverflow(page) <= 1, 'no sideways scrolling at 400 px');
			await page.setViewportSize({width: 1280, height: 800});
			await shotSet(page, 'snooper-1-top', {scrollTo: 'body'});
			await shotSet(page, 'snooper-2-attestation-failed', {scrollTo: '#attestSection'});
			await shotSet(page, 'snooper-3-logs', {scrollTo: '#attestResult .logs-panel'});
			await shot(page, 'snooper-4-whole-page');
			assertNoErrors(errors, assert);
		} finally {
			await context.close();
		}
	});
