// The multi-party view as a presenter uses it: at 1280x800 "Run the whole story" drives the
// three parties through the six steps; every party's result of every step is on screen (bounding
// boxes) and no pane needs scrolling; each company decrypts only its own rows; running it again
// or reloading adds no records; a forged message is ignored. Then the same view as a local file
// pointing at the three instances (as arm/deploy.sh writes it for Azure): no shared origin.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {useBrowser, openPage, assertNoErrors, shot, shotSet, csvNames, call, url, REPO, PORT, CONTOSO,
	SLOW} from './lib.mjs';

const browser = useBrowser();
const PARTIES = ['contoso', 'fabrikam', 'snooper'];
const W = 1280;
const H = 800;

const frame = (page, name) => page.frameLocator(`.mp-pane[data-pane="${name}"] iframe`);

async function total() {
	const r = await call(CONTOSO, 'GET', '/company/list?limit=1');
	assert.equal(r.status, 200);
	return r.data.total_records_in_file;
}

async function runStory(page) {
	await page.waitForSelector('#mpRunAll:not([disabled])', {timeout: SLOW});
	await page.evaluate(() => delete document.body.dataset.story);
	const t0 = Date.now();
	await page.click('#mpRunAll');
	await page.waitForSelector('body[data-story]', {timeout: 60000});
	const ms = Date.now() - t0;
	const verdict = await page.getAttribute('body', 'data-story');
	if (verdict !== 'done') {
		const why = [];
		for (const p of PARTIES) why.push(p + ': ' + (await frame(page, p).locator('#paneSteps').textContent()));
		assert.fail('the story did not run as expected:\n' + why.join('\n'));
	}
	return ms;
}

// Every party's result of every step, inside the viewport; no pane scrolls.
async function assertAllInView(page) {
	for (const p of PARTIES) {
		for (let n = 1; n <= 6; n++) {
			const li = frame(page, p).locator(`#paneSteps li[data-step="${n}"]`);
			assert.match(await li.getAttribute('class'), /step-good/, `${p} step ${n}: ${await li.textContent()}`);
			const b = await li.locator('.step-text').boundingBox();
			assert.ok(b && b.x >= 0 && b.y >= 0 && b.x + b.width <= W && b.y + b.height <= H,
				`${p} step ${n} result is inside ${W}x${H}: ${JSON.stringify(b)}`);
		}
		const rec = await frame(page, p).locator('#paneRecords').boundingBox();
		assert.ok(rec && rec.y + rec.height <= H, `${p} records are inside the viewport: ${JSON.stringify(rec)}`);
	}
	for (const f of page.frames().filter((f) => f !== page.mainFrame())) {
		const m = await f.evaluate(() => [document.documentElement.scrollHeight, document.documentElement.clientHeight,
			document.documentElement.scrollWidth, document.documentElement.clientWidth]);
		assert.ok(m[0] <= m[1] + 1 && m[2] <= m[3] + 1, `${f.url()} needs no scrolling: ${m}`);
	}
	const nb = await page.locator('#mpNarration').boundingBox();
	assert.ok(nb.y + nb.height <= H, 'the narration is on screen');
	assert.equal(await page.locator('.mp-mark.good').count(), 18, 'every mark of the step bar is as expected');
}

test('multi-party view at 1280x800: the whole story, every result on screen', {timeout: 240000}, async () => {
	// Each company starts from its CSV's rows only (earlier suites saved others): the decrypted
	// names shown must then be CSV names.
	for (const off of [1, 2]) {
		assert.equal((await call(off, 'POST', '/skr/release')).status, 200);
		assert.equal((await call(off, 'POST', '/company/clear')).status, 200);
		assert.equal((await call(off, 'POST', '/company/populate')).status, 200);
	}
	const {context, page, errors} = await openPage(browser(), {width: W, height: H});
	try {
		await page.goto(url(0), {waitUntil: 'domcontentloaded'});
		for (const [name, off] of [['contoso', 1], ['fabrikam', 2], ['snooper', 3]]) {
			assert.equal(await page.getAttribute(`.mp-pane[data-pane="${name}"] iframe`, 'src'),
				`http://127.0.0.1:${PORT + off}/pane.html`, `${name} pane URL`);
			assert.equal(await page.getAttribute(`.mp-pane[data-pane="${name}"] .mp-open`, 'href'),
				`http://127.0.0.1:${PORT + off}/`, `${name} full-page link`);
		}
		assert.match(await page.textContent('.mp-pane[data-pane="contoso"] .mp-label'), /contoso-secret-key/);
		assert.match(await page.textContent('.mp-pane[data-pane="contoso"] .mp-label'), new RegExp(`:${PORT + 21}`));
		assert.match(await page.textContent('.mp-pane[data-pane="fabrikam"] .mp-label'), /fabrikam-secret-key/);
		assert.match(await page.textContent('.mp-pane[data-pane="snooper"] .mp-label'), /ACCESS DENIED/);
		await page.waitForSelector('#mpRunAll:not([disabled])', {timeout: SLOW});
		assert.equal(await page.isVisible('#mpEmulated'), true, 'the view says the local demo is emulated');
		await shot(page, 'multiparty-00-loaded', {fullPage: false});

		const ms = await runStory(page);
		assert.ok(ms < 60000, `the story took ${ms} ms`);
		await assertAllInView(page);
		assert.match(await page.textContent('#mpClock'), /✓ story/);
		await shotSet(page, 'multiparty-01-story', {fullPage: false});

		// Step 5 again: each company sees its own names, never the other's; the snooper none.
		await page.click('.mp-step[data-step="5"]');
		await page.waitForSelector('#mpNarration[data-step="5"][data-outcome="good"]', {timeout: SLOW});
		for (const [me, them] of [['contoso', 'fabrikam'], ['fabrikam', 'contoso']]) {
			const plain = await frame(page, me).locator('#paneRecords td.plain').allTextContents();
			assert.ok(plain.length >= 1, `${me} shows decrypted rows`);
			const mine = new Set(csvNames(me));
			assert.ok(plain.filter((_, i) => i % 2 === 0).every((n) => mine.has(n)), `${me} decrypts only its names: ${plain}`);
			const text = await frame(page, me).locator('body').textContent();
			for (const n of csvNames(them)) assert.ok(!text.includes(n), `${me} never shows ${them}'s ${n}`);
		}
		const snoopText = await frame(page, 'snooper').locator('body').textContent();
		for (const n of [...csvNames('contoso'), ...csvNames('fabrikam')]) assert.ok(!snoopText.includes(n), `snooper: ${n}`);
		assert.equal(await frame(page, 'snooper').locator('#paneRecords td.plain').count(), 0);
		await shot(page, 'multiparty-02-decrypted', {fullPage: false});

		// Idempotent: the whole story again, then a reload, add nothing.
		const before = await total();
		await runStory(page);
		assert.equal(await total(), before, 'running the story again adds no records');
		await page.reload({waitUntil: 'domcontentloaded'});
		await page.waitForSelector('#mpRunAll:not([disabled])', {timeout: SLOW});
		for (const p of PARTIES) await frame(page, p).locator('body[data-ready="1"]').waitFor({timeout: SLOW});
		assert.equal(await total(), before, 'reloading the view adds no records');

		// A message that does not come from a pane's own window and origin is ignored.
		await runStory(page);
		await page.evaluate(() => window.postMessage({mp: 1, type: 'result', step: 1, outcome: 'failed', expected: false,
			text: 'forged'}, '*'));
		await page.waitForTimeout(300);
		assert.equal(await page.locator('.mp-mark.good').count(), 18, 'a forged result changes nothing');

		// A narrow screen: panes stack, nothing overflows sideways.
		await page.setViewportSize({width: 400, height: 800});
		await page.waitForTimeout(200);
		assert.ok(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth) <= 1);
		assertNoErrors(errors, assert);
	} finally {
		await context.close();
	}
});

test('the view as a local file (as arm/deploy.sh writes it) drives the three instances', {timeout: 120000}, async () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-view-'));
	try {
		for (const f of ['multiparty-view.js', 'style.css', 'favicon.svg']) fs.copyFileSync(path.join(REPO, 'www', f), path.join(dir, f));
		const cfg = {
			contoso: {url: url(1), key: 'contoso-secret-key', vault: 'kvtesta.vault.azure.net'},
			fabrikam: {url: url(2), key: 'fabrikam-secret-key', vault: 'kvtestb.vault.azure.net'},
			snooper: {url: url(3), key: 'contoso-secret-key', vault: 'kvtesta.vault.azure.net'},
		};
		const html = fs.readFileSync(path.join(REPO, 'www/multiparty-view.html'), 'utf8')
			.replace('<script type="application/json" id="mp-config"></script>',
				`<script type="application/json" id="mp-config">${JSON.stringify(cfg)}</script>`);
		assert.ok(html.includes('kvtesta'), 'the config block was written');
		fs.writeFileSync(path.join(dir, 'multiparty-view.html'), html);
		const {context, page, errors} = await openPage(browser(), {width: W, height: H, colorScheme: 'dark'});
		try {
			await page.goto(pathToFileURL(path.join(dir, 'multiparty-view.html')).href);
			assert.match(await page.textContent('.mp-pane[data-pane="contoso"] .mp-label'), /kvtesta\.vault\.azure\.net/);
			await runStory(page);
			await assertAllInView(page);
			await shot(page, 'multiparty-03-local-file-dark', {fullPage: false});
			assertNoErrors(errors, assert);
		} finally {
			await context.close();
		}
	} finally {
		fs.rmSync(dir, {recursive: true, force: true});
	}
});
