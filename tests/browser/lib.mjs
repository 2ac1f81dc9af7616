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

// A status the server chose (403 for a refused release, 404 before the first record, ...) shows up
// in the console as "Failed to load resource: ... status of N"; the page handles those. Anything
// else on the console at error level (CSP violations, exceptions, failed scripts) is a failure.
const EXPECTED_STATUS = /^Failed to load resource: the server responded with a status of (4\d\d|50[34])\b/;

export async function openPage(browser, {width = 1280, height = 800} = {}) {
	const context = await browser.newContext({viewport: {width, height}});
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
	page.on('console', (msg) => {
		if (msg.type() !== 'error') return;
		const text = msg.text();
		if (EXPECTED_STATUS.test(text)) return;
		errors.push(`console error: ${text} (${msg.location().url || 'unknown source'})`);
	});
	page.on('crash', () => errors.push('page crashed'));
	return {context, page, errors};
}

export function assertNoErrors(errors, assert) {
	assert.deepEqual(errors, [], 'page errors:\n' + errors.join('\n'));
}

export async function shot(page, name) {
	fs.mkdirSync(ARTIFACTS, {recursive: true});
	const file = path.join(ARTIFACTS, `${name}.png`);
	await page.screenshot({path: file, fullPage: true});
	return file;
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

// Fabrikam releases its key and imports its CSV once, so the shared file holds rows that Contoso
// cannot decrypt and the snooper has something to intercept.
export async function ensureFabrikamRecords(assert) {
	const rel = await call(FABRIKAM, 'POST', '/skr/release');
	assert.equal(rel.status, 200, 'Fabrikam key release: ' + JSON.stringify(rel.data).slice(0, 500));
	const list = await call(FABRIKAM, 'GET', '/company/list');
	if (list.status === 200 && (list.data.record_count || 0) > 0) return;
	const pop = await call(FABRIKAM, 'POST', '/company/populate');
	assert.equal(pop.status, 200, 'Fabrikam populate: ' + JSON.stringify(pop.data).slice(0, 500));
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
