// Protect data (company records in the shared blob, decrypt toggle) and live encryption.
import {$, h, show, clear, api, truncate, timingChips, timingFromServer, utf8Length, pool,
	fmtBytes} from './dom.js';
import {state, busy, spinner, errorBox, guarded} from './common.js';
import {noteLimits} from './skr.js';

const NO_KEY = '(encrypted - no key available)';
const rec = {
	list: null,        // last /company/list response
	plain: new Map(),  // ciphertext -> plaintext or NO_KEY
	decrypted: false,  // what the table shows
	imported: false,   // the CSV import ran (automatically once, or by the button)
};

function sentence(s) {
	s = String(s);
	return /[.!?]$/.test(s) ? s : s + '.';
}

// ---- section visibility --------------------------------------------------------------------

export async function checkCompany() {
	const r = await api('GET', '/company/info');
	if (!r.ok) return;
	const d = r.data;
	state.company = d.company || null;
	if (d.key_released && d.company) {
		$('protectSection').hidden = false;
		$('recordsView').dataset.company = d.company;
	}
	if (d.key_released) enableEncryption();
}

// The first time the section is opened, import this company's CSV once.
export function onProtectToggle() {
	if ($('protectSection').open && !rec.imported) populate(true);
}

// ---- save / populate / list ----------------------------------------------------------------

export async function saveRecord() {
	const name = $('recordName').value.trim();
	const phone = $('recordPhone').value.trim();
	const out = $('protectStatus');
	if (!name && !phone) {
		show(out, h('p', {class: 'alert alert-warn', text: 'Enter a name or a phone number first.'}));
		return;
	}
	await busy($('saveDataBtn'), 'Encrypting…', async () => {
		const r = await api('POST', '/company/save', {name, phone});
		if (!r.ok) {
			show(out, errorBox('The record was not saved', r));
			return;
		}
		$('recordName').value = '';
		$('recordPhone').value = '';
		show(out, h('p', {class: 'alert alert-ok'}, '✓ ', sentence(r.data.message || 'Saved'),
			r.data.record_count !== undefined ? ` (${r.data.record_count} records in the file)` : ''),
		timingFromServer(r.data.timing_ms, r.ms));
		await listRecords();
	});
}

export async function populate(auto) {
	const btn = $('populateDbBtn');
	if (rec.imported && auto) return;
	rec.imported = true;
	const out = $('protectStatus');
	await busy(btn, 'Importing CSV…', async () => {
		show(out, spinner('Encrypting every row of this company\'s CSV inside the container…'));
		const r = await api('POST', '/company/populate');
		if (!r.ok) {
			rec.imported = false;
			show(out, errorBox('The CSV import failed', r));
			return;
		}
		btn.textContent = '✓ CSV Imported';
		btn.dataset.keepLabel = '1';
		btn.dataset.keepDisabled = '1';
		const d = r.data;
		show(out, h('p', {class: 'alert alert-ok'}, '✓ ', sentence(d.message || 'Imported'),
			d.total_records !== undefined ? ` Total records in the shared file: ${d.total_records}.` : ''),
		timingFromServer(d.timing_ms, r.ms));
	});
	if (rec.imported) await listRecords();
}

export async function listRecords() {
	const out = $('recordsView');
	await busy($('listDataBtn'), 'Loading…', async () => {
		const r = await api('GET', '/company/list');
		if (!r.ok) {
			show(out, errorBox('The records could not be listed', r));
			return;
		}
		rec.list = r.data;
		rec.listMs = r.ms;
		rec.decrypted = false;
		updateToggle();
		renderRecords();
	});
}

function records() {
	return rec.list && Array.isArray(rec.list.records) ? rec.list.records : [];
}

function isOwn(row) {
	const mine = rec.list && rec.list.company;
	return !!mine && String(row.company || '').toLowerCase() === String(mine).toLowerCase();
}

function renderRecords() {
	const out = $('recordsView');
	const rows = records();
	const d = rec.list || {};
	if (!rows.length) {
		show(out, h('p', {class: 'muted', text: d.message || 'No records yet.'}));
		return;
	}
	const body = h('tbody');
	rows.forEach((row, i) => {
		const own = isOwn(row);
		const tr = h('tr', {class: own ? 'own' : 'other', 'data-company': row.company || ''},
			h('td', {text: row.line_number ?? i + 1}),
			h('td', {class: 'nowrap', text: row.timestamp || ''}),
			h('td', {class: 'nowrap'}, row.company || '', own ? h('span', {class: 'tag tag-own', text: 'ours'}) : null));
		if (rec.decrypted) {
			const name = row.name_encrypted ? rec.plain.get(row.name_encrypted) : null;
			const phone = row.phone_encrypted ? rec.plain.get(row.phone_encrypted) : null;
			if (name === NO_KEY || phone === NO_KEY) {
				tr.appendChild(h('td', {colspan: 2, class: 'undecryptable', text: '🔒 Unable to Decrypt Contents'}));
			} else {
				tr.appendChild(h('td', {class: 'plain', text: name ?? ''}));
				tr.appendChild(h('td', {class: 'plain', text: phone ?? ''}));
			}
		} else {
			tr.appendChild(h('td', {class: 'mono cipher', title: 'RSA-OAEP ciphertext (base64), first 40 characters',
				text: truncate(row.name_encrypted, 40)}));
			tr.appendChild(h('td', {class: 'mono cipher', text: row.phone_encrypted ? truncate(row.phone_encrypted, 40) : '—'}));
		}
		body.appendChild(tr);
	});
	const own = rows.filter(isOwn).length;
	show(out,
		h('p', {class: 'records-summary'},
			`${rows.length} records in ${d.blob_name || 'the shared file'}; ${own} are ${d.company || 'ours'}'s (green).`,
			rec.decrypted ? ' Showing decrypted values.' : ' Showing ciphertext.'),
		timingChips([['storage read', rec.listMs], ['decrypt', rec.decrypted ? rec.decryptMs : undefined]]),
		h('div', {class: 'table-wrap'}, h('table', {class: 'records', id: 'recordsTable'},
			h('thead', {}, h('tr', {}, h('th', {text: 'ID'}), h('th', {text: 'Timestamp'}), h('th', {text: 'Company'}),
				h('th', {text: 'Name'}), h('th', {text: 'Phone'}))), body)));
}

function updateToggle() {
	const btn = $('decryptToggleBtn');
	btn.disabled = !records().length;
	btn.textContent = rec.decrypted ? '🔒 Press to Encrypt' : '🔓 Press to Decrypt';
}

export async function toggleDecrypt() {
	const btn = $('decryptToggleBtn');
	if (rec.decrypted) {
		rec.decrypted = false;
		updateToggle();
		renderRecords();
		return;
	}
	const todo = [];
	for (const row of records()) {
		for (const c of [row.name_encrypted, row.phone_encrypted]) {
			if (c && !rec.plain.has(c) && !todo.includes(c)) todo.push(c);
		}
	}
	await busy(btn, `Decrypting ${todo.length} values…`, async () => {
		const t0 = performance.now();
		await pool(todo, 6, async (c) => {
			const r = await api('POST', '/decrypt', {ciphertext: c});
			rec.plain.set(c, r.ok && typeof r.data.plaintext === 'string' ? r.data.plaintext : NO_KEY);
		});
		rec.decryptMs = todo.length ? performance.now() - t0 : rec.decryptMs;
		rec.decrypted = true;
	});
	updateToggle();
	renderRecords();
}

// ---- live encryption -----------------------------------------------------------------------

let seq = 0;
let timer = null;

export function enableEncryption() {
	state.keyReleased = true;
	const ta = $('plaintextInput');
	ta.disabled = false;
	$('encryptHint').textContent = 'The key is held inside this container: type to encrypt.';
	$('encryptHint').className = 'ok';
	$('encryptInfo').hidden = false;
	updateCounter();
}

export function setEncryptTitle(company) {
	if (company) $('encryptTitle').textContent = `Encrypt Data Using ${company} Key`;
}

function updateCounter() {
	const n = utf8Length($('plaintextInput').value);
	const max = state.maxPlaintext;
	const hard = state.hardMax;
	const el = $('plaintextCounter');
	el.className = 'counter';
	let text = `${n} bytes`;
	if (typeof max === 'number') {
		text = n <= max ? `${n} / ${max} bytes: direct RSA-OAEP`
			: `${n} bytes: over the ${max}-byte RSA-OAEP limit, so envelope encryption (AES-256-GCM + RSA-OAEP) is used`;
	}
	if (typeof hard === 'number' && hard !== max) text += ` (the server accepts up to ${fmtBytes(hard)})`;
	if (typeof hard === 'number' && n > hard) el.classList.add('bad');
	else if (typeof max === 'number' && n > max) el.classList.add('warn');
	el.textContent = text;
}

export function onPlaintextInput() {
	updateCounter();
	clearTimeout(timer);
	timer = setTimeout(guarded('encryptMeta', encryptNow), 200);
}

async function encryptNow() {
	const text = $('plaintextInput').value;
	const my = ++seq;
	const out = $('ciphertextOutput');
	const meta = $('encryptMeta');
	if (!text) {
		out.value = '';
		clear(meta);
		return;
	}
	const r = await api('POST', '/encrypt', {plaintext: text});
	if (my !== seq) return; // a newer keystroke already asked
	const d = r.data || {};
	if (typeof d.max_length_oaep === 'number') noteLimits(d.max_length_oaep, d.max_length);
	else if (typeof d.max_length === 'number' && !r.ok) state.hardMax = d.max_length;
	updateCounter();
	if (!r.ok) {
		out.value = '';
		show(meta, h('span', {class: 'bad', text: '✗ ' + (d.message || 'Encryption failed')}),
			typeof d.max_length === 'number' ? ` (the server's limit is ${fmtBytes(d.max_length)})` : '');
		return;
	}
	out.value = d.ciphertext || '';
	show(meta, `${d.algorithm || 'encrypted'}`,
		d.key_id ? ` · key ${d.key_id}` : '',
		typeof d.ciphertext_length === 'number' ? ` · ${d.ciphertext_length} bytes of ciphertext` : '',
		typeof d.max_length === 'number' ? ` · server limit ${d.max_length} bytes` : '',
		` · ${Math.round(r.ms)} ms`);
}
