// The landing page: Contoso and Fabrikam side by side, the snooper below, each labelled.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {useBrowser, openPage, assertNoErrors, shot, url, PORT, SLOW} from './lib.mjs';

const browser = useBrowser();

test('multi-party view shows three labelled panes', {timeout: 120000}, async () => {
	const {context, page, errors} = await openPage(browser());
	try {
		await page.goto(url(0), {waitUntil: 'domcontentloaded'});
		const panes = {contoso: PORT + 1, fabrikam: PORT + 2, snooper: PORT + 3};
		for (const [name, port] of Object.entries(panes)) {
			const src = await page.getAttribute(`.mp-pane[data-pane="${name}"] iframe`, 'src');
			assert.equal(src, `http://127.0.0.1:${port}/`, `${name} pane URL`);
		}
		assert.match(await page.textContent('.mp-pane[data-pane="contoso"] .mp-label'), /contoso-secret-key/);
		assert.match(await page.textContent('.mp-pane[data-pane="contoso"] .mp-label'), new RegExp(`:${PORT + 21}`));
		assert.match(await page.textContent('.mp-pane[data-pane="fabrikam"] .mp-label'), /fabrikam-secret-key/);
		assert.match(await page.textContent('.mp-pane[data-pane="snooper"] .mp-label'), /ACCESS DENIED/);

		// Each pane loads its own instance's page to the end.
		for (const name of Object.keys(panes)) {
			const frame = page.frameLocator(`.mp-pane[data-pane="${name}"] iframe`);
			await frame.locator('body[data-ready="1"]').waitFor({timeout: SLOW});
		}
		const snoop = page.frameLocator('.mp-pane[data-pane="snooper"] iframe');
		await snoop.locator('#snooperExplainer').waitFor({state: 'visible', timeout: SLOW});

		// Side by side on top, snooper below.
		const box = async (n) => page.locator(`.mp-pane[data-pane="${n}"]`).boundingBox();
		const [c, f, s] = [await box('contoso'), await box('fabrikam'), await box('snooper')];
		assert.ok(Math.abs(c.y - f.y) < 2 && f.x > c.x + c.width - 1, 'Contoso and Fabrikam side by side');
		assert.ok(s.y >= c.y + c.height - 1 && s.width > c.width * 1.5, 'snooper below, full width');
		await shot(page, 'multiparty-01-view');
		assertNoErrors(errors, assert);
	} finally {
		await context.close();
	}
});
