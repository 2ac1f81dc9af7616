// Protect data (company records in the shared blob: import, save, list, decrypt own rows, clear)
// and live encryption.
import {$, h, show, clear, api, listAll, truncate, timingChips, timingFromServer, utf8Length, fmtBytes} from './dom.js';
import {state, busy, spinner, errorBox, guarded, sentence, whatHappened} from './common.js';
import {noteLimits} from './skr.js';

const rec = {
	list: null,        // last /company/list answer (ciphertext)
	plain: null,       // last /company/list?decrypt=own answer
	decrypted: false,  // what the table shows
	listed: false,     // the section listed once since it was opened
};

// ---- section visibility --------------------------------------------------------------------

export async function checkCompany() {
	const r = await api('GET', '/company/info');
	if (!r.ok) return;
	const d = r.data;
	state.company = d.company || null;
	if (d.key_released && d.company) {
		$('protectSection').hidden = false;
		$('recordsView').dataset.company = d.company;
		$('populateDbBtn').textContent = `Import ${d.company}-data.csv`;
	}
	if (d.key_released) enableEncryption();
}

// Opening the section lists what is there; it never imports or writes anything by itself.
export async function onProtectToggle() {
	if ($('protectSection').open && !rec.listed) {
		rec.listed = true;
		await listRecords();
	}
}

// ---- save / import / clear / list ----------------------------------------------------------

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
		timingFromServer(r.data.timing_ms, r.ms),
		whatHappened('the name and phone were encrypted inside this container with its released key and appended to ',
			'the shared file with a conditional write, so a record another party wrote at the same moment is never lost.'));
		await listRecords();
	});
}

export async function populate() {
	const out = $('protectStatus');
	await busy($('populateDbBtn'), 'Importing…', async () => {
		show(out, spinner('Encrypting every row of this company\'s CSV inside the container…'));
		const r = await api('POST', '/company/populate');
		if (!r.ok) {
			show(out, errorBox('The CSV import failed', r));
			return;
		}
		const d = r.data;
		const added = typeof d.records_added === 'number' ? d.records_added : null;
		const skipped = typeof d.already_imported === 'number' ? d.already_imported : 0;
		show(out, h('p', {class: 'alert alert-ok', 'data-records-added': added ?? ''}, '✓ ', sentence(d.message || 'Imported'),
			d.total_records !== undefined ? ` The shared file holds ${d.total_records} records.` : ''),
		timingFromServer(d.timing_ms, r.ms),
		whatHappened(added ? `${added} rows of ${d.source_file || 'the CSV'} were encrypted field by field inside this ` +
			'container (RSA-OAEP with the released key) and appended to the file every party shares. '
			: 'nothing was added: ',
		skipped ? `${skipped} rows were already imported, and importing is idempotent: each row is recorded by its ` +
			'file and line, never by its content, so a repeat adds nothing and reveals nothing.' : '',
		added ? 'The other parties can read those bytes, but not what they say.' : ''));
		await listRecords();
	});
}

// Two clicks: the first arms the button for a few seconds, the second removes this company's rows.
let clearArmed = null;
export async function clearRecords() {
	const btn = $('clearDataBtn');
	const out = $('protectStatus');
	if (!clearArmed) {
		btn.classList.add('btn-confirm');
		btn.textContent = `Click again to remove all ${state.company || 'our'} records`;
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
	btn.textContent = 'Clear my records';
	await busy(btn, 'Removing…', async () => {
		const r = await api('POST', '/company/clear');
		if (!r.ok) {
			show(out, errorBox('The records were not removed', r));
			return;
		}
		const d = r.data;
		show(out, h('p', {class: 'alert alert-ok', 'data-records-removed': d.records_removed ?? ''},
			`✓ Removed ${d.records_removed ?? 'our'} ${d.company || ''} records from the shared file; `,
			`${d.total_records ?? '?'} records of other parties remain, untouched.`),
		whatHappened('this company\'s rows (and the memory of its CSV import) were removed with a conditional write; ',
			'the other parties\' rows stayed exactly as they were. Import the CSV again to restore them.'));
		await listRecords();
	});
}

export async function listRecords() {
	const out = $('recordsView');
	await busy($('listDataBtn'), 'Loading…', async () => {
		const r = await listAll(false);
		if (!r.ok) {
			show(out, errorBox('The records could not be listed', r));
			return;
		}
		rec.list = r.data;
		rec.listMs = r.ms;
		rec.plain = null;
		rec.decrypted = false;
		updateToggle();
		renderRecords();
	});
}

function current() {
	return rec.decrypted && rec.plain ? rec.plain : rec.list;
}

function records() {
	const d = current();
	return d && Array.isArray(d.records) ? d.records : [];
}

function isOwn(row, d) {
	const mine = d && d.company;
	return !!mine && String(row.company || '').toLowerCase() === String(mine).toLowerCase();
}

function cell(label, attrs, ...children) {
	return h('td', {'data-label': label, ...attrs}, ...children);
}

function renderRecords() {
	const out = $('recordsView');
	const d = current() || {};
	const rows = records();
	if (!rows.length) {
		show(out, h('p', {class: 'muted', text: d.message || 'No records in the shared file yet.'}));
		return;
	}
	const body = h('tbody');
	let opened = 0;
	let sealed = 0;
	for (const [i, row] of rows.entries()) {
		const own = isOwn(row, d);
		const tr = h('tr', {class: own ? 'own' : 'other', 'data-company': row.company || '', title: row.source || null},
			cell('ID', {text: row.line_number ?? i + 1}),
			cell('Time', {class: 'nowrap', text: row.timestamp || ''}),
			cell('Company', {class: 'nowrap'}, row.company || '', own ? h('span', {class: 'tag tag-own', text: 'ours'}) : null));
		if (rec.decrypted) {
			if (row.decrypted === true) {
				opened++;
				tr.appendChild(cell('Name', {class: 'plain', text: row.name ?? ''}));
				tr.appendChild(cell('Phone', {class: 'plain', text: row.phone ?? ''}));
			} else {
				sealed++;
				tr.appendChild(cell('Contents', {colspan: 2, class: 'sealed', text: row.reason === 'no_key'
					? '✗ No key held: cannot decrypt' : row.reason === 'not_ours' || !own
						? `✗ Sealed: only ${row.company || 'its owner'}'s key opens it`
						: '✗ Not decrypted by this server (it does not support decrypt=own)'}));
			}
		} else {
			tr.appendChild(cell('Name', {class: 'cipher', title: 'RSA-OAEP ciphertext (base64), first 40 characters',
				text: truncate(row.name_encrypted, 40)}));
			tr.appendChild(cell('Phone', {class: 'cipher', text: row.phone_encrypted ? truncate(row.phone_encrypted, 40) : '—'}));
		}
		body.appendChild(tr);
	}
	const own = rows.filter((row) => isOwn(row, d)).length;
	const total = d.total_records_in_file ?? rows.length;
	out.dataset.pages = String(d.pages || 1);
	show(out,
		h('p', {class: 'records-summary'},
			`${total} records in ${d.blob_name || 'the shared file'}${d.truncated ? ` (the first ${rows.length} shown)` : ''}; `,
			`${own} are ${d.company || 'ours'}'s (green). `,
			rec.decrypted ? `Decrypted ${opened} of them inside this container; ${sealed} stay sealed.` : 'Showing ciphertext, as stored.'),
		timingChips([['list', rec.decrypted ? rec.plainMs : rec.listMs]], 'time to read (and decrypt) the page of records'),
		rec.decrypted ? whatHappened('one request asked this container to list the shared file and decrypt the rows its ',
			'key can open. Its own rows came back readable; every other party\'s row stayed ciphertext, because ',
			'only that party\'s TEE holds the key that opens it. The plaintext exists only in this container and this page.') : null,
		h('div', {class: 'table-wrap'}, h('table', {class: 'records', id: 'recordsTable'},
			h('thead', {}, h('tr', {}, h('th', {text: 'ID'}), h('th', {text: 'Timestamp'}), h('th', {text: 'Company'}),
				h('th', {text: 'Name'}), h('th', {text: 'Phone'}))), body)));
}

function updateToggle() {
	const btn = $('decryptToggleBtn');
	btn.disabled = !(rec.list && Array.isArray(rec.list.records) && rec.list.records.length);
	btn.textContent = rec.decrypted ? 'Show ciphertext' : 'Decrypt our rows';
}

export async function toggleDecrypt() {
	const btn = $('decryptToggleBtn');
	if (rec.decrypted) {
		rec.decrypted = false;
		updateToggle();
		renderRecords();
		return;
	}
	if (!rec.plain) {
		let failed = null;
		await busy(btn, 'Decrypting…', async () => {
			const r = await listAll(true);
			if (!r.ok) {
				failed = r;
				return;
			}
			rec.plain = r.data;
			rec.plainMs = r.ms;
		});
		if (failed) {
			show($('recordsView'), errorBox('The records could not be decrypted', failed));
			return;
		}
	}
	rec.decrypted = true;
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
