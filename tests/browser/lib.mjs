// Helpers for the browser tests: Debian's chromium driven by playwright-core (never downloads a
// browser), error capture, screenshots under $ARTIFACTS_DIR, and plain HTTP calls to the stack.
import {before, after} from 'node:test';
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const PORT = parseInt(process.env.DEMO_PORT || '8000', 10);
export const HOST = '127.0.0.1';
export const url = (offset, p = '/') => `http://${HOST}:${PORT + offset}${p}`;
export const ARTIFACTS = path.resolve(process.env.ARTIFACTS_DIR || path.join(REPO, 'test-artifacts'), 'browser');

export const CONTOSO = 1;
export const FABRIKAM = 2;
export const SNOOPER = 3;

// Generous for a 2-core machine: a release does attestation + identity + vault round trips.
export const SLOW = 60000;

export async function launch() {
	return chromium.launch({
		executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-sync', '--no-first-run'],
	});
}

// Every page must run its whole walk without a console error and without a failed request: the
// pages are designed so that an expected refusal is a 200 answer (the snooper's attestation comes
// from /info, a denied key from /skr/release-other's access_denied) or is never requested. So
// any response >= 400, any request that fails on the network and any console error is recorded,
// in every frame of the page. A request the browser itself cancels (net::ERR_ABORTED: a
// navigation or a closing page) is not a server's answer and is left out.
export async function openPage(browser, {width = 1280, height = 800, colorScheme = 'light'} = {}) {
	const context = await browser.newContext({viewport: {width, height}, colorScheme, acceptDownloads: true});
	const page = await context.newPage();
	const errors = [];
	const requests = [];
	page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
	page.on('console', (msg) => {
		if (msg.type() !== 'error') return;
		errors.push(`console error: ${msg.text()} (${msg.location().url || 'unknown source'})`);
	});
	page.on('crash', () => errors.push('page crashed'));
	page.on('request', (req) => requests.push({method: req.method(), url: req.url()}));
	page.on('requestfailed', (req) => {
		const why = req.failure() ? req.failure().errorText : 'failed';
		if (why === 'net::ERR_ABORTED') return;
		errors.push(`request failed: ${req.method()} ${req.url()}: ${why}`);
	});
	page.on('response', (res) => {
		if (res.status() >= 400) errors.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
	});
	return {context, page, errors, requests};
}

// Requests made so far whose method and path match: count('POST', '/company/populate').
export function countRequests(requests, method, pathRe) {
	return requests.filter((r) => r.method === method && pathRe.test(new URL(r.url).pathname + new URL(r.url).search)).length;
}

export function assertNoErrors(errors, assert) {
	assert.deepEqual(errors, [], 'page errors:\n' + errors.join('\n'));
}

export async function shot(page, name, {fullPage = true} = {}) {
	fs.mkdirSync(ARTIFACTS, {recursive: true});
	const file = path.join(ARTIFACTS, `${name}.png`);
	await page.screenshot({path: file, fullPage});
	return file;
}

// The page at 1280x800 and 400 px wide, light and dark: <name>-1280-light.png ... -400-dark.png,
// each the viewport with `scrollTo` (a selector) at its top when given; the viewport is restored.
export async function shotSet(page, name, {scrollTo = null, fullPage = false} = {}) {
	const size = page.viewportSize();
	for (const [w, h] of [[1280, 800], [400, 800]]) {
		await page.setViewportSize({width: w, height: h});
		for (const scheme of ['light', 'dark']) {
			await page.emulateMedia({colorScheme: scheme});
			if (scrollTo) await page.locator(scrollTo).first().evaluate((e) => e.scrollIntoView({block: 'start'}));
			await page.waitForTimeout(150);
			await shot(page, `${name}-${w}-${scheme}`, {fullPage});
		}
	}
	await page.emulateMedia({colorScheme: 'light'});
	await page.setViewportSize(size);
	await page.waitForTimeout(150);
}

// Wait until the page's initial loads (config, /info, container info, storage) have finished.
export async function waitReady(page, timeout = SLOW) {
	await page.waitForSelector('body[data-ready="1"]', {timeout});
}

export async function call(offset, method, p, body) {
	const init = {method, headers: {Accept: 'application/json'}, signal: AbortSignal.timeout(SLOW)};
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	const res = await fetch(url(offset, p), init);
	const text = await res.text();
	let data = null;
	try {
		data = JSON.parse(text);
	} catch {
		data = {raw: text};
	}
	return {status: res.status, data};
}

// Fail early and clearly when the stack is not running.
export async function requireStack() {
	for (const off of [0, CONTOSO, FABRIKAM, SNOOPER]) {
		const target = off === 0 ? url(0, '/') : url(off, '/health');
		try {
			const res = await fetch(target, {signal: AbortSignal.timeout(10000)});
			if (!res.ok) throw new Error(`HTTP ${res.status}`);
		} catch (err) {
			throw new Error(`the demo stack is not answering at ${target} (${err.message}); ` +
				'start it with `make run` (DEMO_PORT selects the port)');
		}
	}
}

// Fabrikam releases its key and imports its CSV (idempotent: a repeat adds nothing), so the
// shared file holds rows that Contoso cannot decrypt and the snooper has something to intercept.
export async function ensureFabrikamRecords(assert) {
	const rel = await call(FABRIKAM, 'POST', '/skr/release');
	assert.equal(rel.status, 200, 'Fabrikam key release: ' + JSON.stringify(rel.data).slice(0, 500));
	const pop = await call(FABRIKAM, 'POST', '/company/populate');
	assert.equal(pop.status, 200, 'Fabrikam populate: ' + JSON.stringify(pop.data).slice(0, 500));
}

// This company's rows in the whole store (every page of /company/list).
export async function ownRecords(offset) {
	let after = null;
	let n = 0;
	let pages = 0;
	do {
		const r = await call(offset, 'GET', `/company/list?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
		if (r.status !== 200) throw new Error(`/company/list: HTTP ${r.status} ${JSON.stringify(r.data).slice(0, 200)}`);
		n += r.data.record_count || 0;
		after = r.data.next || null;
	} while (after && ++pages < 100);
	return n;
}

export function csvNames(company) {
	const text = fs.readFileSync(path.join(REPO, 'data', `${company}-data.csv`), 'utf8');
	return text.split(/\r?\n/).slice(1).filter((l) => l.trim()).map((l) => {
		const m = /^"((?:[^"]|"")*)"/.exec(l);
		return m ? m[1].replace(/""/g, '"') : l.slice(0, l.indexOf(','));
	});
}

// The page must not overflow sideways at phone width.
export async function horizontalOverflow(page) {
	return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

// One browser per test file, launched once the stack answers and closed after the file's tests:
// `const browser = useBrowser();` then `openPage(browser())`.
export function useBrowser() {
	const holder = {browser: null};
	before(async () => {
		await requireStack();
		holder.browser = await launch();
	});
	after(async () => {
		if (holder.browser) await holder.browser.close();
	});
	return () => holder.browser;
}
