// One party of the multi-party demo, compact (pane.html): live state, the six steps of the
// story with a one-sentence result each, and a few records.
//
// The multi-party view frames this page for each party and drives it with postMessage:
//   view -> pane  {mp: 1, type: 'hello'}             answered with 'ready'
//                 {mp: 1, type: 'run', step: 1..6, id} runs that step here, on this origin
//   pane -> view  {mp: 1, type: 'ready', role, company}
//                 {mp: 1, type: 'busy', step, id}
//                 {mp: 1, type: 'result', step, id, outcome, expected, text}
// The pane obeys only its parent window, and only these six steps, each of which a visitor
// could run with this page's own buttons (none deletes anything). Its answers carry nothing a
// visitor of this page cannot see: a role, a company name and one-sentence results. Never a
// token, a key or a decrypted value: those stay on this page, inside this origin. Replies go to
// the origin the command came from (to any, '*', when the view is a local file: origin "null").
import {$, h, show, api, listAll, b64utf8, truncate} from './dom.js';

export const STEPS = [
	{n: 1, id: 'attest', title: 'Attest'},
	{n: 2, id: 'release', title: 'Release key'},
	{n: 3, id: 'other', title: 'Try the other\'s key'},
	{n: 4, id: 'import', title: 'Import records'},
	{n: 5, id: 'decrypt', title: 'Decrypt'},
	{n: 6, id: 'snoop', title: 'What the snooper sees'},
];

const P = {
	config: null,     // /skr/config
	snooper: false,   // no TEE device: the snooper
	company: '',      // "Contoso"
	keyHeld: false,
	list: null,       // last /company/list answer
	listMode: 'cipher', // cipher | plain | intercepted
	intercepted: null, // rows read straight from storage (snooper)
	storage: null,    // /storage/config (snooper)
	results: {},      // step -> result
};

function sentence(s) {
	s = String(s ?? '').trim();
	return !s || /[.!?]$/.test(s) ? s : s + '.';
}

function lc(s) {
	return String(s || '').toLowerCase();
}

// ---- messages to and from the view -----------------------------------------------------------

const framed = window.parent !== window;
let parentOrigin = null;

function post(msg) {
	if (!framed) return;
	const target = parentOrigin && parentOrigin !== 'null' ? parentOrigin : '*';
	window.parent.postMessage({mp: 1, ...msg}, target);
}

function readyMessage() {
	return {type: 'ready', role: P.snooper ? 'snooper' : 'company', company: P.company, emulated: P.emulated === true};
}

let queue = Promise.resolve();
let loaded = null;

window.addEventListener('message', (ev) => {
	if (!framed || ev.source !== window.parent) return;
	const m = ev.data;
	if (!m || typeof m !== 'object' || m.mp !== 1) return;
	parentOrigin = ev.origin;
	if (m.type === 'hello') {
		loaded.then(() => post(readyMessage()));
	} else if (m.type === 'run' && Number.isInteger(m.step) && m.step >= 1 && m.step <= STEPS.length) {
		const id = typeof m.id === 'string' ? m.id.slice(0, 64) : null;
		run(m.step, id);
	}
});

// Steps run one at a time, in the order asked.
function run(n, id) {
	queue = queue.then(() => loaded).then(() => runStep(n, id));
	return queue;
}

// ---- live state ------------------------------------------------------------------------------

function setState(id, text, cls) {
	const el = $(id);
	el.textContent = text;
	el.classList.remove('ok', 'bad', 'warn');
	if (cls) el.classList.add(cls);
}

function ownCount(d) {
	const rows = d && Array.isArray(d.records) ? d.records : [];
	return rows.filter((r) => lc(r.company) === lc(d.company)).length;
}

function renderRecordState() {
	const d = P.list;
	if (!d) return;
	const total = d.total_records_in_file ?? (Array.isArray(d.records) ? d.records.length : 0);
	if (P.snooper) setState('stRecords', `${total} in the shared file`, '');
	else setState('stRecords', `${ownCount(d)} ours · ${total} in the shared file`, '');
}

async function loadState() {
	const c = await api('GET', '/skr/config');
	if (!c.ok) {
		setState('stRole', 'This instance\'s configuration could not be read: ' + (c.data.message || ''), 'bad');
		return;
	}
	P.config = c.data;
	P.snooper = c.data.is_confidential === false;
	P.company = c.data.company_name || 'this company';
	document.title = P.snooper ? 'Snooper (no TEE) · pane' : `${P.company} · pane`;
	document.body.dataset.role = P.snooper ? 'snooper' : 'company';
	P.emulated = c.data.emulated === true || /^(127\.|localhost$)/.test(location.hostname);
	if (P.emulated) {
		const b = $('paneBanner');
		b.hidden = false;
		b.textContent = P.snooper ? 'Local demo: emulated stand-ins; this instance has no TEE device at all.'
			: 'EMULATED TEE: virtual SEV-SNP device and local stand-ins.';
	}
	if (P.snooper) {
		setState('stRole', `Snooper: ${P.company}'s settings on standard hardware`, 'bad');
		setState('stTee', '✗ none: standard hardware', 'bad');
		setState('stKey', '✗ none, and it cannot get one', 'bad');
	} else {
		setState('stRole', `${P.company}: a confidential container`, 'ok');
		setState('stTee', c.data.emulated ? '○ virtual SEV-SNP; not attested yet' : '○ SEV-SNP; not attested yet', '');
		$('paneClearBtn').hidden = false;
		const k = await api('GET', '/skr/key-status');
		P.keyHeld = k.ok && k.data.released === true;
		setState('stKey', P.keyHeld ? `✓ ${c.data.key_name} (released earlier)` : '○ not released yet',
			P.keyHeld ? 'ok' : '');
	}
	const l = await listAll(false);
	if (l.ok) {
		P.list = l.data;
		renderRecordState();
		renderRecords();
	}
	if (P.snooper) {
		const s = await api('GET', '/storage/config');
		if (s.ok) P.storage = s.data;
	}
}

// ---- the steps -------------------------------------------------------------------------------

// outcome: ok | refused | failed | na.  expected: the story wants this outcome (a refusal the
// demo exists to show is expected; a company failing to attest is not).
function R(outcome, expected, text) {
	return {outcome, expected, text: sentence(text)};
}

function reason(r, fallback) {
	const d = r.data || {};
	return d.failure_reason || d.message || fallback;
}

async function refreshList(mode, decrypt) {
	const r = await listAll(decrypt);
	if (!r.ok) return r;
	P.list = r.data;
	P.listMode = mode;
	renderRecordState();
	renderRecords();
	return r;
}

function othersText(d) {
	const counts = {};
	for (const row of d.records || []) {
		if (lc(row.company) === lc(d.company)) continue;
		const c = row.company || 'other';
		counts[c] = (counts[c] || 0) + 1;
	}
	const parts = Object.entries(counts).map(([c, n]) => `${n} ${c[0].toUpperCase() + c.slice(1)}`);
	return {n: Object.values(counts).reduce((a, b) => a + b, 0), text: parts.join(' and ')};
}

const company = {
	async attest() {
		const runtime = {timestamp: new Date().toISOString(), demo: 'multi-party view'};
		const r = await api('POST', '/attest/maa', {runtime_data: b64utf8(JSON.stringify(runtime))});
		if (!(r.ok && r.data.status === 'success')) {
			setState('stTee', '✗ attestation failed', 'bad');
			return R('failed', false, reason(r, 'Attestation failed'));
		}
		if (r.data.token_verified !== true) {
			setState('stTee', '✗ token did not verify', 'bad');
			return R('failed', false, 'A token came back but its signature did not verify, so none of its claims count');
		}
		const c = r.data.claims || {};
		const emu = r.data.emulated === true || c['x-demo-emulated'] === true;
		const host = String(c['x-ms-sevsnpvm-hostdata'] || '');
		setState('stTee', `✓ ${emu ? 'virtual ' : ''}AMD SEV-SNP, attested`, 'ok');
		return R('ok', true, `Its ${emu ? 'virtual ' : ''}SEV-SNP report verified; token signed (policy ${host.slice(0, 8)}…)`);
	},
	async release() {
		const r = await api('POST', '/skr/release');
		if (!(r.ok && r.data.status === 'success')) {
			return R('failed', false, reason(r, 'The key was not released'));
		}
		P.keyHeld = true;
		const name = r.data.key_name || P.config.key_name;
		setState('stKey', `✓ ${name}, inside this TEE`, 'ok');
		return R('ok', true, `Released ${name} into this TEE: its token met the key's policy`);
	},
	async other() {
		const r = await api('POST', '/skr/release-other');
		const d = r.data || {};
		if (r.ok && d.status === 'access_denied') {
			return R('refused', true, `${d.other_company || 'The other company'}'s vault refused ` +
				`${d.attempted_key || 'its key'}${d.http_status ? ` (HTTP ${d.http_status})` : ''}`);
		}
		if (r.ok && d.status === 'unexpected_success') {
			return R('ok', false, `SECURITY ALERT: it obtained ${d.other_key_name || 'the other company\'s key'}`);
		}
		return R('failed', false, reason(r, 'The attempt could not be made'));
	},
	async import() {
		if (!P.keyHeld) return R('na', false, 'No key yet: release it first (step 2)');
		const r = await api('POST', '/company/populate');
		if (!r.ok) return R('failed', false, reason(r, 'The import failed'));
		const d = r.data;
		await refreshList('cipher', false);
		const total = d.total_records ?? (P.list && P.list.total_records_in_file);
		if (d.records_added > 0) {
			return R('ok', true, `Imported ${d.records_added} rows, encrypted in the TEE; ${total} in the shared file`);
		}
		return R('ok', true, `Already imported (${d.already_imported ?? ownCount(P.list)} rows): nothing added; ` +
			`${total} in the shared file`);
	},
	async decrypt() {
		if (!P.keyHeld) return R('na', false, 'No key yet: release it first (step 2)');
		const r = await refreshList('plain', true);
		if (!r.ok) return R('failed', false, reason(r, 'The records could not be decrypted'));
		const rows = P.list.records || [];
		const opened = rows.filter((x) => x.decrypted === true).length;
		const o = othersText(P.list);
		if (!opened) return R('na', false, `Nothing of its own to decrypt (import first, step 4); ${o.n} others sealed`);
		return R('ok', true, `Decrypted its ${opened} rows in the TEE; ` +
			(o.n ? `the ${o.text} rows stay sealed` : 'no other rows yet'));
	},
	async snoop() {
		const r = await refreshList('cipher', false);
		if (!r.ok) return R('failed', false, reason(r, 'The records could not be listed'));
		return R('ok', true, `Its ${ownCount(P.list)} rows are ciphertext in storage: all the snooper gets`);
	},
};

const snooper = {
	async attest() {
		const r = await api('GET', '/info');
		if (!r.ok) return R('failed', false, reason(r, 'The attestation check could not be made'));
		const st = r.data.status || {};
		if (st.attestation_works === true) return R('ok', false, 'It attested: this instance is in a TEE, which the story does not expect');
		const f = st.attestation_failure || {};
		return R('refused', true, f.failure_reason || 'This container is not running in a TEE: it cannot attest');
	},
	async release() {
		const r = await api('GET', '/skr/key-status');
		if (!r.ok) return R('failed', false, reason(r, 'The key status could not be read'));
		if (r.data.released === true) return R('ok', false, 'It holds a key: the isolation the story shows has failed');
		return R('refused', true, `No key: with no token to show, ${P.company}'s vault releases nothing`);
	},
	async other() {
		return R('na', true, 'Nothing to try: with no token, no vault will talk to it');
	},
	async import() {
		const r = await refreshList('cipher', false);
		if (!r.ok) return R('failed', false, reason(r, 'The shared file could not be read'));
		const total = P.list.total_records_in_file ?? 0;
		return R('refused', true, `No key to encrypt with; it can only read the file (${total} records)`);
	},
	async decrypt() {
		const r = await refreshList('plain', true);
		if (!r.ok) return R('failed', false, reason(r, 'The shared file could not be read'));
		const rows = P.list.records || [];
		if (rows.some((x) => x.decrypted === true)) return R('ok', false, 'It decrypted records: the isolation the story shows has failed');
		return R('refused', true, `Decrypted nothing: no key, so all ${P.list.total_records_in_file ?? rows.length} rows stay ciphertext`);
	},
	async snoop() {
		const name = P.storage && P.storage.consolidated_blob_name;
		const l = await api('GET', '/storage/list');
		if (!l.ok) return R('failed', false, reason(l, 'The storage could not be listed'));
		const blobs = l.data.blobs || [];
		const blob = blobs.find((b) => b.name === name);
		// Past RECORDS_SEGMENT_MAX records the store seals older ones into <stem>.seg-N.json.
		const stem = String(name || '').replace(/\.json$/, '');
		const sealed = blobs.filter((b) => b.name.startsWith(stem + '.seg-')).length;
		if (!blob) {
			P.intercepted = [];
			P.listMode = 'intercepted';
			renderRecords();
			return R('ok', true, 'The shared file does not exist yet: there is nothing to intercept');
		}
		const r = await api('GET', '/storage/download/' + String(name).split('/').map(encodeURIComponent).join('/'));
		if (!r.ok) return R('failed', false, reason(r, 'The shared file could not be read'));
		let rows = [];
		try {
			rows = JSON.parse(r.data.content);
		} catch {
			return R('failed', false, 'The shared file is not a record file');
		}
		P.intercepted = Array.isArray(rows) ? rows : [rows];
		P.listMode = 'intercepted';
		renderRecords();
		const n = P.intercepted.length;
		const total = P.list && typeof P.list.total_records_in_file === 'number' ? P.list.total_records_in_file : n;
		return R('ok', true, (n >= total || !sealed ? `Read all ${n} records straight from storage`
			: `Read ${n} of ${total} records straight from storage (the rest sit in ${sealed} sealed files)`) +
			': every name and phone is ciphertext');
	},
};

async function runStep(n, id) {
	const step = STEPS[n - 1];
	setStepBusy(n);
	post({type: 'busy', step: n, id});
	let res;
	try {
		res = await (P.snooper ? snooper : company)[step.id]();
	} catch (err) {
		res = R('failed', false, 'The page failed: ' + (err && err.message ? err.message : err));
	}
	P.results[n] = res;
	renderStep(n);
	post({type: 'result', step: n, id, outcome: res.outcome, expected: res.expected, text: res.text});
	return res;
}

// ---- rendering -------------------------------------------------------------------------------

const ICON = {ok: '✓', refused: '✗', failed: '✗', na: '–'};

function stepItem(step) {
	const btn = h('button', {type: 'button', class: 'btn step-run', title: `Run step ${step.n} here`,
		'aria-label': `Run step ${step.n}: ${step.title}`, text: '▶'});
	btn.addEventListener('click', () => run(step.n, null));
	return h('li', {class: 'step-pending', 'data-step': step.n},
		h('span', {class: 'step-n', text: step.n}),
		h('div', {class: 'step-body'}, h('span', {class: 'step-title', text: step.title}), ' ',
			h('span', {class: 'step-icon'}), h('span', {class: 'step-text', text: 'not run yet'})),
		btn);
}

function setStepBusy(n) {
	const li = document.querySelector(`#paneSteps li[data-step="${n}"]`);
	li.className = 'step-busy';
	li.querySelector('.step-icon').textContent = '';
	li.querySelector('.step-text').textContent = 'running…';
	li.querySelector('.step-run').disabled = true;
}

function renderStep(n) {
	const li = document.querySelector(`#paneSteps li[data-step="${n}"]`);
	const r = P.results[n];
	li.querySelector('.step-run').disabled = false;
	const expectedRefusal = r.expected && r.outcome !== 'ok';
	li.className = r.expected ? 'step-good' : 'step-bad';
	li.dataset.outcome = r.outcome;
	li.querySelector('.step-icon').textContent = ICON[r.outcome] || '';
	const text = li.querySelector('.step-text');
	show(text, r.text, expectedRefusal ? h('span', {class: 'step-expected', text: 'as it should be'}) : null);
}

function resetSteps(from) {
	for (const step of STEPS) {
		if (step.n < from) continue;
		delete P.results[step.n];
		const li = document.querySelector(`#paneSteps li[data-step="${step.n}"]`);
		li.className = 'step-pending';
		li.querySelector('.step-icon').textContent = '';
		li.querySelector('.step-text').textContent = 'not run yet';
	}
}

const SHOWN_PER_SIDE = 2;

// A few rows: two of each party's (ours first when this party has rows), in file order.
function pickRows(rows, mine) {
	const order = [];
	const by = new Map();
	for (const r of rows) {
		const c = lc(r.company);
		if (!by.has(c)) {
			by.set(c, []);
			order.push(c);
		}
		by.get(c).push(r);
	}
	if (mine && by.has(lc(mine))) order.sort((a, b) => (a === lc(mine) ? -1 : b === lc(mine) ? 1 : 0));
	const picked = order.slice(0, 2).flatMap((c) => by.get(c).slice(0, SHOWN_PER_SIDE));
	return picked.sort((a, b) => (a.line_number ?? 0) - (b.line_number ?? 0));
}

function renderRecords() {
	const out = $('paneRecords');
	const intercepted = P.listMode === 'intercepted';
	const d = P.list || {};
	const rows = intercepted ? (P.intercepted || []).map((r, i) => ({...r, line_number: r.seq ?? i + 1}))
		: Array.isArray(d.records) ? d.records : [];
	const total = intercepted ? rows.length : d.total_records_in_file ?? rows.length;
	const mine = P.snooper ? null : d.company;
	const title = intercepted ? 'Intercepted from storage' : P.listMode === 'plain'
		? (P.snooper ? 'The shared file, decrypt attempted' : 'The shared file, decrypted inside this TEE')
		: 'The shared file, as stored';
	if (!rows.length) {
		show(out, h('h3', {text: title}), h('p', {class: 'muted', text: 'No records in the shared file yet.'}));
		return;
	}
	const body = h('tbody');
	for (const row of pickRows(rows, mine)) {
		const own = !!mine && lc(row.company) === lc(mine);
		const tr = h('tr', {class: own ? 'own' : 'other', 'data-company': lc(row.company),
			title: row.line_number ? `record #${row.line_number}` : null}, h('td', {text: row.company || ''}));
		if (P.listMode === 'plain' && row.decrypted === true) {
			tr.append(h('td', {class: 'plain', text: row.name ?? ''}), h('td', {class: 'plain', text: row.phone ?? ''}));
		} else if (P.listMode === 'plain') {
			tr.append(h('td', {class: 'sealed', colspan: 2, text: P.snooper || row.reason === 'no_key'
				? '✗ no key: stays ciphertext' : '✗ sealed: not its key'}));
		} else {
			tr.append(h('td', {class: 'cipher', text: truncate(row.name_encrypted, 24)}),
				h('td', {class: 'cipher', text: row.phone_encrypted ? truncate(row.phone_encrypted, 24) : '—'}));
		}
		body.appendChild(tr);
	}
	const shown = body.childNodes.length;
	show(out,
		h('h3', {}, title, h('span', {class: 'muted', text: ` · ${shown} of ${total} shown` +
			(mine ? `, ${ownCount(d)} ${P.company}'s (green)` : '')})),
		h('table', {class: 'mini', id: 'paneRecordsTable'},
			h('thead', {}, h('tr', {}, ['Owner', 'Name', 'Phone'].map((t) => h('th', {text: t})))), body));
}

// ---- clear -------------------------------------------------------------------------------------

let clearArmed = null;
async function clearRecords() {
	const btn = $('paneClearBtn');
	if (!clearArmed) {
		btn.classList.add('btn-confirm');
		btn.textContent = 'Click again to remove our records';
		clearArmed = setTimeout(() => {
			clearArmed = null;
			btn.classList.remove('btn-confirm');
			btn.textContent = 'Clear my records';
		}, 5000);
		return;
	}
	clearTimeout(clearArmed);
	clearArmed = null;
	btn.classList.remove('btn-confirm');
	btn.disabled = true;
	btn.textContent = 'Removing…';
	const r = await api('POST', '/company/clear');
	btn.disabled = false;
	btn.textContent = r.ok ? `✓ Removed ${r.data.records_removed ?? ''}` : '✗ Not removed';
	setTimeout(() => { btn.textContent = 'Clear my records'; }, 4000);
	resetSteps(4);
	await refreshList('cipher', false);
}

// ---- start -------------------------------------------------------------------------------------

function init() {
	// In the view, the column's label says who this is and the view marks the demo as emulated.
	if (framed) document.body.classList.add('framed');
	show($('paneSteps'), STEPS.map(stepItem));
	$('fullLink').href = new URL('./', location.href).href;
	$('paneClearBtn').addEventListener('click', () => { queue = queue.then(clearRecords); });
	loaded = loadState().catch((err) => {
		$('pageError').textContent = 'Page error: ' + (err && err.message ? err.message : err);
	}).then(() => {
		document.body.dataset.ready = '1';
		post(readyMessage());
	});
}

window.addEventListener('error', (ev) => {
	const note = $('pageError');
	if (note) note.textContent = 'Page error: ' + (ev.message || 'unknown');
});

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
