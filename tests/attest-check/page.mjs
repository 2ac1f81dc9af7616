// Opens an instance's page in headless Debian chromium (playwright-core, no browser download),
// opens "Verify This Instance Yourself" and prints what the box shows as one JSON line:
//   {"commands": [...], "text": "...", "errors": [...]}
//   node page.mjs URL SCREENSHOT_FILE
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
		'--disable-component-update', '--disable-sync', '--no-first-run'],
});
const out = {commands: [], text: '', errors: []};
try {
	const page = await browser.newPage({viewport: {width: 1280, height: 900}});
	page.on('pageerror', (err) => out.errors.push(`pageerror: ${err.message}`));
	page.on('console', (msg) => {
		// A status the server chose (503 for the snooper's attestation) is not a page error.
		if (msg.type() === 'error' && !/status of (4\d\d|50[34])\b/.test(msg.text()))
			out.errors.push(`console: ${msg.text()}`);
	});
	await page.goto(url, {waitUntil: 'domcontentloaded'});
	await page.waitForSelector('body[data-ready="1"]', {timeout: 60000});
	await page.click('#verifySection > summary');
	await page.waitForSelector('#verifyBox [data-verify-command]', {timeout: 60000});
	out.commands = await page.$$eval('#verifyBox [data-verify-command]', (els) => els.map((e) => e.textContent));
	out.text = await page.textContent('#verifyBox');
	if (screenshot) {
		fs.mkdirSync(path.dirname(screenshot), {recursive: true});
		await (await page.$('#verifySection')).screenshot({path: screenshot});
	}
} catch (err) {
	out.errors.push(String(err && err.message || err));
} finally {
	await browser.close();
}
console.log(JSON.stringify(out));
