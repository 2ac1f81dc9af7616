// Multi-party view: the demo script on one screen. Three columns frame each party's compact
// page (<url>pane.html); a step bar runs each step on all three at once and says what happened.
//
// The panes are other origins (other ports locally, other hosts on Azure, and this page may be a
// local file), so the view never reads them: it sends each pane {mp:1, type:'run', step, id} with
// postMessage addressed to that pane's configured origin, and accepts a message only from that
// pane's window and origin. What comes back is a one-sentence result per step (pane.js lists the
// messages); decrypted values and tokens never leave their pane. Self-contained on purpose
// (no imports): arm/deploy.sh copies this file, style.css and favicon.svg next to the view. It is a
// classic script, not a module: browsers refuse module scripts on a page opened from a file.
'use strict';
(() => {

const PARTIES = ['contoso', 'fabrikam', 'snooper'];
const NAMES = {contoso: 'Contoso', fabrikam: 'Fabrikam', snooper: 'Snooper'};
// The step bar's marks are in the columns' order; initials keep them on one line.
const INITIAL = {contoso: 'C', fabrikam: 'F', snooper: 'S'};

const STORY = [
	{n: 1, title: 'Attest',
		why: 'Each container gets a signed report of what it runs from its AMD processor and trades it for a token: hardware, not an operator, vouches for the code.',
		good: 'Contoso and Fabrikam proved they run their own code in a TEE; the snooper, on standard hardware, had no report to show.'},
	{n: 2, title: 'Release keys',
		why: 'A vault releases a key only for a token that meets its release policy: a genuine TEE, no debugging, that company\'s policy hash.',
		good: 'Each company now holds its own key inside its TEE; the snooper holds none, even with Contoso\'s settings.'},
	{n: 3, title: 'Try the other\'s key',
		why: 'Being a TEE is not enough, it must be the right one: each vault trusts only its own company\'s identity and container policy.',
		good: 'Contoso was refused Fabrikam\'s key and Fabrikam was refused Contoso\'s: the companies are isolated from each other.'},
	{n: 4, title: 'Import records',
		why: 'Each company encrypts its CSV inside its TEE and appends the ciphertext to one shared file; importing again adds nothing.',
		good: 'Both companies\' records sit side by side in one file, each readable only with its owner\'s key.'},
	{n: 5, title: 'Decrypt',
		why: 'One file, three readers: each container can open only the rows its own key encrypted.',
		good: 'Contoso read only Contoso\'s rows and Fabrikam only Fabrikam\'s; the snooper read nothing.'},
	{n: 6, title: 'What the snooper sees',
		why: 'Anyone with the storage, a cloud operator included, gets only ciphertext: no TEE, no key; no key, no data.',
		good: 'The snooper holds every byte of the shared file and can read none of the names or phone numbers.'},
];

const STEP_TIMEOUT_MS = 90000;
const READY_TIMEOUT_MS = 20000;

function localDefaults() {
	const port = parseInt(location.port, 10);
	if (!/^https?:$/.test(location.protocol) || !port) return null;
	const base = (p) => `${location.protocol}//${location.hostname}:${p}/`;
	return {
		contoso: {url: base(port + 1), key: 'contoso-secret-key', vault: base(port + 21).replace(/\/$/, '')},
		fabrikam: {url: base(port + 2), key: 'fabrikam-secret-key', vault: base(port + 22).replace(/\/$/, '')},
		snooper: {url: base(port + 3), key: 'contoso-secret-key', vault: base(port + 21).replace(/\/$/, '')},
	};
}

function readConfig() {
	const el = document.getElementById('mp-config');
	const text = el ? el.textContent.trim() : '';
	if (!text) return {config: localDefaults()};
	try {
		const c = JSON.parse(text);
		if (c && typeof c === 'object') return {config: c};
	} catch (err) {
		return {config: null, error: 'The #mp-config block is not valid JSON: ' + err.message};
	}
	return {config: null, error: 'The #mp-config block is not a JSON object.'};
}

// Only http(s) URLs may be framed or linked.
function safeUrl(u) {
	try {
		const url = new URL(String(u), location.href);
		return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
	} catch {
		return null;
	}
}

function el(tag, attrs, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k === 'text') e.textContent = String(v);
		else if (k === 'class') e.className = v;
		else e.setAttribute(k, String(v));
	}
	for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
	return e;
}

// ---- one pane --------------------------------------------------------------------------------

class Pane {
	constructor(name, section, c) {
		this.name = name;
		this.section = section;
		this.frame = section.querySelector('iframe');
		this.pending = new Map();   // id -> {resolve, timer}
		this.results = {};          // step -> result
		this.ready = false;
		this.waiters = [];
		const url = c && safeUrl(c.url);
		const label = section.querySelector('.mp-key');
		const link = section.querySelector('.mp-open');
		if (!url) {
			label.textContent = 'no URL configured';
			this.frame.remove();
			this.frame = null;
			this.note('No URL is configured for this party.');
			return;
		}
		const key = c.key || '(key not set)';
		const vault = c.vault || '(vault not set)';
		label.textContent = name === 'snooper' ? `no TEE · ${key} (ACCESS DENIED) · ${vault}` : `⚷ ${key} · ${vault}`;
		label.title = label.textContent;
		link.href = url.href;
		this.origin = url.origin;
		this.frame.src = new URL('pane.html', url).href;
		this.frame.addEventListener('load', () => this.send({type: 'hello'}));
		this.readyTimer = setTimeout(() => {
			if (!this.ready) {
				this.note('This pane did not answer. Open its full page (↗) to see whether the instance is up ' +
					'and runs this version of the demo.');
			}
		}, READY_TIMEOUT_MS);
	}

	note(text) {
		let n = this.section.querySelector('.mp-pane-note');
		if (!n) {
			n = el('p', {class: 'mp-pane-note', role: 'status'});
			this.section.querySelector('.mp-label').after(n);
		}
		n.textContent = text;
	}

	send(msg) {
		if (this.frame && this.frame.contentWindow) this.frame.contentWindow.postMessage({mp: 1, ...msg}, this.origin);
	}

	// A message from this pane's window and origin only.
	accepts(ev) {
		return !!this.frame && ev.source === this.frame.contentWindow && ev.origin === this.origin;
	}

	onMessage(m) {
		if (m.type === 'ready') {
			this.ready = true;
			if (m.emulated === true) document.getElementById('mpEmulated').hidden = false;
			clearTimeout(this.readyTimer);
			const n = this.section.querySelector('.mp-pane-note');
			if (n) n.remove();
			for (const w of this.waiters.splice(0)) w(true);
			view.update();
		} else if (m.type === 'busy' && Number.isInteger(m.step)) {
			this.results[m.step] = {outcome: 'busy'};
			view.renderMarks(m.step);
		} else if (m.type === 'result' && Number.isInteger(m.step)) {
			const r = {outcome: String(m.outcome || ''), expected: m.expected === true, text: String(m.text || '')};
			this.results[m.step] = r;
			const p = typeof m.id === 'string' ? this.pending.get(m.id) : null;
			if (p) {
				clearTimeout(p.timer);
				this.pending.delete(m.id);
				p.resolve(r);
			} else {
				view.renderMarks(m.step);    // run by hand inside the pane
				view.narrate(m.step);
			}
		}
	}

	whenReady() {
		if (this.ready) return Promise.resolve(true);
		if (!this.frame) return Promise.resolve(false);
		return new Promise((resolve) => {
			this.waiters.push(resolve);
			setTimeout(() => resolve(false), READY_TIMEOUT_MS);
		});
	}

	async run(step) {
		if (!(await this.whenReady())) {
			const r = {outcome: 'failed', expected: false, text: 'The pane did not answer.'};
			this.results[step] = r;
			return r;
		}
		const id = `${this.name}-${step}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.pending.delete(id);
				const r = {outcome: 'failed', expected: false, text: `No result within ${STEP_TIMEOUT_MS / 1000} s.`};
				this.results[step] = r;
				resolve(r);
			}, STEP_TIMEOUT_MS);
			this.pending.set(id, {resolve, timer});
			this.send({type: 'run', step, id});
		});
	}
}

// ---- the step bar and the narration -----------------------------------------------------------

const view = {
	panes: [],
	running: false,
	current: null,

	buttons: [],

	build() {
		const list = document.getElementById('mpSteps');
		for (const s of STORY) {
			const btn = el('button', {type: 'button', class: 'mp-step', 'data-step': s.n, disabled: true},
				el('span', {class: 'mp-step-title'}, el('span', {class: 'mp-step-n', text: s.n}), s.title),
				el('span', {class: 'mp-marks'}, this.panes.map((p) =>
					el('span', {class: 'mp-mark', 'data-party': p.name, text: `${INITIAL[p.name]} ·`, title: NAMES[p.name]}))));
			btn.addEventListener('click', () => this.runOne(s.n));
			this.buttons.push(btn);
			list.append(el('li', {}, btn));
		}
		document.getElementById('mpRunAll').addEventListener('click', () => this.runAll());
	},

	update() {
		const any = this.panes.some((p) => p.ready);
		for (const b of this.buttons) b.disabled = this.running || !any;
		document.getElementById('mpRunAll').disabled = this.running || !any;
	},

	renderMarks(n) {
		const btn = this.buttons[n - 1];
		let done = 0;
		let good = true;
		for (const p of this.panes) {
			const r = p.results[n];
			const mark = btn.querySelector(`.mp-mark[data-party="${p.name}"]`);
			let cls = 'mp-mark';
			let text = `${INITIAL[p.name]} ·`;
			if (r && r.outcome === 'busy') {
				cls += ' busy';
				text = `${INITIAL[p.name]} …`;
			} else if (r) {
				done++;
				good = good && r.expected;
				cls += r.expected ? ' good' : ' bad';
				text = `${INITIAL[p.name]} ${r.outcome === 'ok' ? '✓' : r.outcome === 'na' ? '–' : '✗'}`;
			}
			mark.className = cls;
			mark.textContent = text;
			mark.title = r && r.text ? `${NAMES[p.name]}: ${r.text}` : NAMES[p.name];
		}
		btn.classList.toggle('is-done-good', done === this.panes.length && good);
		btn.classList.toggle('is-done-bad', done > 0 && !good);
	},

	narrate(n, extra) {
		const s = STORY[n - 1];
		const out = document.getElementById('mpNarration');
		const rs = this.panes.map((p) => [p, p.results[n]]);
		const done = rs.every(([, r]) => r && r.outcome !== 'busy');
		const good = done && rs.every(([, r]) => r.expected);
		const parts = [el('p', {}, el('strong', {text: `Step ${s.n} · ${s.title}: `}), s.why)];
		if (done) {
			const bad = rs.filter(([, r]) => !r.expected).map(([p]) => NAMES[p.name]);
			parts.push(el('p', {class: 'mp-happened'}, 'What just happened: ', good ? s.good
				: `not what the story expects for ${bad.join(' and ')}: read the red result in that pane.`));
		}
		if (extra) parts.push(el('p', {class: 'mp-happened', text: extra}));
		out.replaceChildren(...parts);
		out.dataset.step = String(n);
		out.dataset.outcome = done ? (good ? 'good' : 'bad') : 'running';
	},

	setCurrent(n) {
		this.buttons.forEach((b, i) => b.classList.toggle('is-current', i + 1 === n));
	},

	async step(n) {
		this.setCurrent(n);
		for (const p of this.panes) p.results[n] = {outcome: 'busy'};
		this.renderMarks(n);
		this.narrate(n);
		// The companies act together; the snooper looks afterwards, so it sees what they just did.
		await Promise.all(this.panes.filter((p) => p.name !== 'snooper').map((p) => p.run(n)));
		await Promise.all(this.panes.filter((p) => p.name === 'snooper').map((p) => p.run(n)));
		this.renderMarks(n);
		this.narrate(n);
		return this.panes.every((p) => p.results[n] && p.results[n].expected);
	},

	async runOne(n) {
		if (this.running) return;
		this.running = true;
		this.update();
		try {
			await this.step(n);
		} finally {
			this.running = false;
			this.update();
		}
	},

	async runAll() {
		if (this.running) return;
		this.running = true;
		this.update();
		const clock = document.getElementById('mpClock');
		const t0 = performance.now();
		const tick = setInterval(() => { clock.textContent = `${((performance.now() - t0) / 1000).toFixed(1)} s`; }, 200);
		let allGood = true;
		try {
			for (const s of STORY) allGood = (await this.step(s.n)) && allGood;
		} finally {
			clearInterval(tick);
			const secs = ((performance.now() - t0) / 1000).toFixed(1);
			clock.textContent = allGood ? `✓ story ${secs} s` : `✗ story ${secs} s`;
			clock.className = 'mp-clock ' + (allGood ? 'ok' : 'bad');
			clock.title = allGood ? 'Every party did what confidential computing promises.'
				: 'Not every result is the expected one: the red ones say why.';
			this.running = false;
			this.update();
			document.body.dataset.story = allGood ? 'done' : 'failed';
		}
	},
};

function init() {
	const {config, error} = readConfig();
	const grid = document.getElementById('mpGrid');
	if (!config) {
		grid.before(el('p', {class: 'mp-error', text: error || 'No pane URLs: open this page from `make run` ' +
			'(http://127.0.0.1:8000/) or let arm/deploy.sh write the #mp-config block.'}));
	}
	for (const section of document.querySelectorAll('.mp-pane')) {
		const name = section.dataset.pane;
		if (!PARTIES.includes(name)) continue;
		view.panes.push(new Pane(name, section, config ? config[name] : null));
	}
	window.addEventListener('message', (ev) => {
		const m = ev.data;
		if (!m || typeof m !== 'object' || m.mp !== 1) return;
		const pane = view.panes.find((p) => p.accepts(ev));
		if (pane) pane.onMessage(m);
	});
	view.build();
	view.update();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
})();
