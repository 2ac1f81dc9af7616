// External blob storage: configuration (SAS expiry), listing, viewing, and the snooper's
// auto-refreshing "Intercepted Encrypted Records" view.
import {$, h, show, api, kvTable, truncate, fmtBytes, timingChips, timingFromServer, preBlock,
	pretty} from './dom.js';
import {busy, spinner, errorBox, guarded} from './common.js';

let storageCfg = null;

// Blob names may hold '/'; encode each segment so the server sees exactly the name.
function blobPath(name) {
	return '/storage/download/' + String(name).split('/').map(encodeURIComponent).join('/');
}

function sasCell(sas) {
	if (sas === null || sas === undefined) return h('span', {class: 'muted', text: 'no SAS token (not needed for this store)'});
	if (sas.error) return h('span', {class: 'bad', text: 'unreadable: ' + sas.error});
	const cls = sas.is_expired ? 'sas-expired' : sas.is_expiring_soon ? 'sas-soon' : 'sas-ok';
	const days = typeof sas.days_remaining === 'number'
		? sas.is_expired ? ` (expired ${Math.abs(sas.days_remaining)} days ago)` : ` (${sas.days_remaining} days left)` : '';
	return h('span', {class: 'sas ' + cls, text: (sas.expiry_formatted || sas.expiry_date || '?') + days});
}

export async function loadStorageConfig() {
	const box = $('storageConfig');
	const r = await api('GET', '/storage/config');
	if (!r.ok) {
		show(box, errorBox('Storage configuration unavailable', r));
		return null;
	}
	const c = r.data;
	storageCfg = c;
	show(box, kvTable([
		['Storage account', c.storage_account],
		['Container', c.container_name],
		['Endpoint', c.container_url || c.blob_endpoint, {mono: true}],
		['Backend', c.backend || undefined],
		['Shared record file', c.consolidated_blob_name, {mono: true}],
		['Authentication', c.auth_method || (c.authenticated ? 'authenticated' : 'anonymous')],
		['SAS expiry', sasCell(c.sas_expiry)],
	], 'compact'));
	return c;
}

export async function listBlobs() {
	const btn = $('listBlobsBtn');
	const out = $('blobList');
	await busy(btn, 'Listing…', async () => {
		const r = await api('GET', '/storage/list');
		if (!r.ok) {
			show(out, errorBox('The blob container could not be listed', r));
			return;
		}
		const d = r.data;
		const blobs = Array.isArray(d.blobs) ? d.blobs : [];
		const body = h('tbody');
		for (const b of blobs) {
			const view = h('button', {type: 'button', class: 'btn btn-small', text: 'View'});
			view.addEventListener('click', guarded('blobView', () => viewBlob(b.name, view)));
			body.appendChild(h('tr', {},
				h('td', {class: 'mono', text: b.name}), h('td', {class: 'nowrap', text: fmtBytes(b.size)}),
				h('td', {text: b.content_type || ''}), h('td', {class: 'nowrap', text: b.last_modified || ''}),
				h('td', {}, view)));
		}
		show(out,
			h('p', {}, `${d.blob_count ?? blobs.length} blob(s) in ${d.container || 'the container'}`,
				d.storage_account ? ` of ${d.storage_account}` : '', '.'),
			timingFromServer(d.timing_ms, r.ms),
			blobs.length ? h('div', {class: 'table-wrap'}, h('table', {class: 'blobs'},
				h('thead', {}, h('tr', {}, ['Name', 'Size', 'Type', 'Last modified', ''].map((t) => h('th', {text: t})))),
				body)) : h('p', {class: 'muted', text: d.message || 'The container is empty.'}),
			d.security_note ? h('p', {class: 'note', text: d.security_note}) : null);
		btn.dataset.keepLabel = '1';
		btn.textContent = '↻ Refresh';
	});
}

async function viewBlob(name, btn) {
	const out = $('blobView');
	await busy(btn, '…', async () => {
		show(out, spinner('Downloading ' + name + '…'));
		const r = await api('GET', blobPath(name));
		if (!r.ok) {
			show(out, errorBox('Could not download ' + name, r));
			return;
		}
		const d = r.data;
		let content = d.content ?? '';
		try {
			content = pretty(JSON.parse(content));
		} catch { /* not JSON: show as is */ }
		show(out, h('div', {class: 'card'},
			h('h3', {text: d.blob_name || name}),
			h('p', {class: 'muted'}, fmtBytes(d.size), d.content_type ? ' · ' + d.content_type : ''),
			timingChips([['storage read', r.ms]]),
			d.is_text === false ? h('p', {class: 'note', text: 'Binary content: shown as the server encoded it.'}) : null,
			preBlock(content),
			d.security_note ? h('p', {class: 'note', text: d.security_note}) : null));
	});
}

// ---- snooper mode ---------------------------------------------------------------------------

let polling = false;
let lastSeen = null;   // size + last_modified of the record file at the last download
let sealedSegments = 0; // older records the store sealed into <stem>.seg-N.json files

export function startSnooperMode() {
	$('snooperExplainer').hidden = false;
	const sec = $('storageSection');
	sec.open = true;
	// On the snooper the storage is the whole story: show it first.
	const main = sec.parentNode;
	main.insertBefore(sec, main.firstElementChild);
	const box = $('noTeeBox');
	if (box) main.insertBefore(box, sec);
	$('snooperExplainer').after($('interceptedView'));
	$('interceptedView').hidden = false;
	show($('interceptedView'), spinner('Intercepting the shared record file…'));
	const poll = guarded('interceptedView', pollIntercepted);
	poll();
	setInterval(poll, 5000);
}

const SHOWN = 12;

// Every 5 s: list the container (one small answer, 200 even when the file does not exist yet)
// and download the record file only when it changed.
async function pollIntercepted() {
	if (polling) return;
	polling = true;
	try {
		const cfg = storageCfg || (await loadStorageConfig());
		const out = $('interceptedView');
		const name = cfg && cfg.consolidated_blob_name;
		if (!name) {
			show(out, h('p', {class: 'muted', text: 'The storage configuration does not name the shared record file.'}));
			return;
		}
		const stamp = new Date().toLocaleTimeString();
		const l = await api('GET', '/storage/list');
		if (!l.ok) {
			show(out, h('h3', {text: 'Intercepted encrypted records'}), errorBox('Could not list the storage container', l));
			return;
		}
		const blobs = Array.isArray(l.data.blobs) ? l.data.blobs : [];
		const blob = blobs.find((b) => b.name === name);
		const stem = String(name).replace(/\.json$/, '');
		sealedSegments = blobs.filter((b) => b.name.startsWith(stem + '.seg-')).length;
		if (!blob) {
			lastSeen = null;
			show(out, h('h3', {text: 'Intercepted encrypted records'}),
				h('p', {class: 'muted', text: `No ${name} in the storage yet (checked ${stamp}; checking every 5 s).`}));
			return;
		}
		const seen = `${blob.size}|${blob.last_modified}`;
		const note = $('interceptedStamp');
		if (seen === lastSeen && note) {
			note.textContent = `Unchanged at ${stamp}; checking every 5 s.`;
			return;
		}
		const r = await api('GET', blobPath(name));
		if (!r.ok) {
			show(out, h('h3', {text: 'Intercepted encrypted records'}), errorBox('Could not read ' + name, r));
			return;
		}
		let rows;
		try {
			rows = JSON.parse(r.data.content);
			if (!Array.isArray(rows)) rows = [rows];
		} catch {
			show(out, h('h3', {text: 'Intercepted encrypted records'}),
				h('p', {class: 'bad', text: `${name} is not a JSON record file.`}));
			return;
		}
		lastSeen = seen;
		renderIntercepted(out, name, rows, stamp, r.ms);
	} finally {
		polling = false;
	}
}

function renderIntercepted(out, name, rows, stamp, ms) {
	const byCompany = {};
	for (const row of rows) {
		const c = row && row.company ? String(row.company) : '?';
		byCompany[c] = (byCompany[c] || 0) + 1;
	}
	const newest = rows.map((row, i) => [row && row.seq ? row.seq : i + 1, row]).reverse().slice(0, SHOWN);
	const body = h('tbody');
	for (const [n, row] of newest) {
		body.appendChild(h('tr', {},
			h('td', {'data-label': '#', text: n}),
			h('td', {'data-label': 'Company', text: row && row.company ? row.company : ''}),
			h('td', {'data-label': 'Name', class: 'cipher', text: truncate(row && row.name_encrypted, 30)}),
			h('td', {'data-label': 'Phone', class: 'cipher', text: row && row.phone_encrypted ? truncate(row.phone_encrypted, 30) : '—'}),
			h('td', {'data-label': 'Time', class: 'nowrap', text: row && row.timestamp ? row.timestamp : ''})));
	}
	show(out,
		h('h3', {text: 'Intercepted encrypted records'}),
		h('p', {}, `${rows.length} records read straight from ${name} (`,
			Object.entries(byCompany).map(([c, n]) => `${n} ${c}`).join(', '),
			`). Newest first${rows.length > SHOWN ? `, the latest ${SHOWN} shown` : ''}.`,
			sealedSegments ? ` The store also keeps ${sealedSegments} sealed segment file(s) for older records next to it: ` +
				'just as readable, and just as encrypted.' : ''),
		h('p', {class: 'muted', id: 'interceptedStamp', text: `Read at ${stamp}; checking every 5 s.`}),
		timingChips([['storage read', ms]]),
		h('div', {class: 'table-wrap'}, h('table', {class: 'records intercepted', id: 'interceptedTable'},
			h('thead', {}, h('tr', {}, ['#', 'Company', 'Name', 'Phone', 'Timestamp'].map((t) => h('th', {text: t})))),
			body,
			h('tfoot', {}, h('tr', {}, h('td', {colspan: 5, class: 'no-keys', text: '✗ No access to keys to decrypt data'}))))),
		h('p', {class: 'what-happened'}, h('strong', {text: 'What this shows: '}),
			'the snooper can read every byte of the shared file, as a cloud operator or anyone with the storage key ' +
			'could. The company names and timestamps are plain, but every name and phone number is RSA-OAEP ' +
			'ciphertext, and the keys that open them exist only inside the companies\' attested TEEs.'));
}
