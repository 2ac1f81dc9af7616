// Small DOM and HTTP helpers shared by the page modules.
// Every server value reaches the DOM as a text node (h() never parses HTML), so nothing the
// server or a stored record says can become markup or script. The CSP forbids inline code anyway.

export function $(id) {
	return document.getElementById(id);
}

// h('div', {class: 'x', text: 'y'}, child, 'text', [more]) -> element.
// attrs: class, text, title, href, target, rel, type, value, disabled, hidden, open, colspan,
// and data-* / aria-* keys. Children: nodes, strings, numbers, arrays, null (skipped).
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === undefined || v === null || v === false) continue;
			if (k === 'class') el.className = v;
			else if (k === 'text') el.textContent = String(v);
			else if (k === 'disabled' || k === 'hidden' || k === 'open' || k === 'readOnly') el[k] = true;
			else if (k === 'value') el.value = String(v);
			else el.setAttribute(k, String(v));
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else if (c instanceof Node) el.appendChild(c);
		else el.appendChild(document.createTextNode(String(c)));
	}
}

export function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
	return el;
}

export function show(el, ...children) {
	clear(el);
	append(el, children);
	return el;
}

export function fmtMs(ms) {
	if (typeof ms !== 'number' || !isFinite(ms)) return '';
	if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
	return (ms >= 10 ? Math.round(ms) : ms.toFixed(1)) + ' ms';
}

export function fmtBytes(n) {
	if (typeof n !== 'number') return String(n ?? '');
	if (n < 1024) return n + ' B';
	if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
	return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

export function truncate(s, n) {
	s = String(s ?? '');
	return s.length > n ? s.slice(0, n) + '…' : s;
}

export function pretty(v) {
	try {
		return JSON.stringify(v, null, 2);
	} catch {
		return String(v);
	}
}

// A row of labelled timing chips: [['report', 12.3], ...]; undefined values are skipped.
export function timingChips(pairs, title) {
	const chips = pairs.filter(([, v]) => typeof v === 'number' && isFinite(v))
		.map(([k, v]) => h('span', {class: 'chip chip-time', title: title || 'time this stage took'},
			h('span', {class: 'chip-k', text: k}), ' ', h('span', {class: 'chip-v', text: fmtMs(v)})));
	return chips.length ? h('div', {class: 'timing', title: title || 'time each stage took'}, h('span', {class: 'timing-label', text: 'time:'}), ' ', chips) : null;
}

// Server timing_ms objects have stage names as keys; show them in order, total last.
export function timingFromServer(t, clientMs) {
	const pairs = [];
	if (t && typeof t === 'object') {
		for (const [k, v] of Object.entries(t)) if (k !== 'total') pairs.push([k.replace(/_/g, ' '), v]);
		if (typeof t.total === 'number') pairs.push(['total (server)', t.total]);
	}
	if (typeof clientMs === 'number') pairs.push(['round trip', clientMs]);
	return timingChips(pairs);
}

// Key/value table; rows: [label, value, {cls, mono}] ; value may be a node or text.
export function kvTable(rows, cls) {
	const body = h('tbody');
	for (const r of rows) {
		if (!r) continue;
		const [k, v, opt = {}] = r;
		if (v === undefined) continue;
		const cell = h('td', {class: (opt.mono ? 'mono ' : '') + (opt.cls || '')});
		if (v instanceof Node) cell.appendChild(v);
		else cell.textContent = v === null ? '(none)' : typeof v === 'object' ? pretty(v) : String(v);
		body.appendChild(h('tr', {class: opt.row || null}, h('th', {scope: 'row', text: k}), cell));
	}
	return h('div', {class: 'table-wrap'}, h('table', {class: 'kv ' + (cls || '')}, body));
}

export function badge(ok, yes, no) {
	return h('span', {class: 'badge ' + (ok ? 'badge-ok' : 'badge-bad'), text: ok ? yes : no});
}

export function collapsible(title, content, open) {
	return h('details', {class: 'subsection', open: !!open}, h('summary', {text: title}), content);
}

// Server sentences may mark names with backticks (`get`): those become <code> text nodes, the
// rest plain text. Nothing is parsed as HTML.
export function richText(s) {
	const parts = String(s ?? '').split('`');
	if (parts.length % 2 === 0) return [String(s ?? '')];
	return parts.map((p, i) => (i % 2 ? h('code', {text: p}) : p)).filter((p) => p !== '');
}

// A button that copies text to the clipboard; on a page without clipboard access (plain http
// from another host) it selects `select` (an element) instead, for Ctrl-C.
export function copyButton(text, label, select) {
	const b = h('button', {type: 'button', class: 'btn btn-small', text: label || 'Copy'});
	b.addEventListener('click', async () => {
		try {
			await navigator.clipboard.writeText(typeof text === 'function' ? text() : text);
			b.textContent = '✓ Copied';
		} catch {
			if (select) {
				const range = document.createRange();
				range.selectNodeContents(select);
				const sel = window.getSelection();
				sel.removeAllRanges();
				sel.addRange(range);
			}
			b.textContent = 'Selected: press Ctrl-C';
		}
	});
	return b;
}

// A button that saves text as a file (a Blob URL: nothing leaves the browser).
export function downloadButton(text, filename, label, type = 'text/plain') {
	const b = h('button', {type: 'button', class: 'btn btn-small', text: label || `⬇ ${filename}`,
		'data-download': filename});
	b.addEventListener('click', () => {
		const url = URL.createObjectURL(new Blob([typeof text === 'function' ? text() : text], {type}));
		const a = h('a', {href: url, download: filename, hidden: true});
		document.body.appendChild(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 10000);
	});
	return b;
}

export function preBlock(text, cls) {
	return h('pre', {class: 'scroll ' + (cls || ''), text: typeof text === 'string' ? text : pretty(text)});
}

// fetch() that never throws: {ok, status, data, ms, network}. data is the parsed JSON body, or an
// error envelope built from whatever came back, so callers can always read data.message.
export async function api(method, path, body, timeoutMs = 120000) {
	const t0 = performance.now();
	const ctl = new AbortController();
	const timer = setTimeout(() => ctl.abort(), timeoutMs);
	try {
		const init = {method, headers: {Accept: 'application/json'}, signal: ctl.signal, cache: 'no-store'};
		if (body !== undefined) {
			init.headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		const res = await fetch(path, init);
		const text = await res.text();
		let data;
		try {
			data = text ? JSON.parse(text) : {};
		} catch {
			data = {status: 'error', message: `HTTP ${res.status}: the server did not answer with JSON`,
				detail: text.slice(0, 500)};
		}
		if (data === null || typeof data !== 'object') data = {value: data};
		if (!res.ok && !data.message) data.message = `HTTP ${res.status} ${res.statusText}`;
		return {ok: res.ok, status: res.status, data, ms: performance.now() - t0};
	} catch (err) {
		const aborted = err && err.name === 'AbortError';
		return {ok: false, status: 0, network: true, ms: performance.now() - t0,
			data: {status: 'error', message: aborted
				? `No answer from ${path} within ${Math.round(timeoutMs / 1000)} s`
				: `Could not reach ${path}: ${err && err.message ? err.message : err}`}};
	} finally {
		clearTimeout(timer);
	}
}

// The shared record file, every page of it (GET /company/list, following `next`), as one answer:
// the first page's fields with all pages' records, `pages` (requests made) and `truncated` when
// maxPages ran out. Each page costs the server the same whatever the store's size; a page may
// hold few records (or none) when a clear emptied old segments, so the cursor is followed to the
// end. Returns the failing page's api() result instead when one fails.
export async function listAll(decryptOwn, maxPages = 20) {
	let after = null;
	let first = null;
	const records = [];
	let pages = 0;
	let ms = 0;
	do {
		const q = `/company/list?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}${decryptOwn ? '&decrypt=own' : ''}`;
		const r = await api('GET', q);
		if (!r.ok) return r;
		pages++;
		ms += r.ms;
		first = first || r.data;
		if (Array.isArray(r.data.records)) records.push(...r.data.records);
		after = typeof r.data.next === 'string' && r.data.next ? r.data.next : null;
	} while (after && pages < maxPages);
	const own = records.filter((x) => String(x.company || '').toLowerCase() === String(first.company || '').toLowerCase()).length;
	return {ok: true, status: 200, ms, data: {...first, records, record_count: own, pages, truncated: !!after, next: after}};
}

// base64 of a string's UTF-8 bytes (btoa alone fails on non-Latin-1 text).
export function b64utf8(s) {
	const bytes = new TextEncoder().encode(s);
	let bin = '';
	for (const b of bytes) bin += String.fromCharCode(b);
	return btoa(bin);
}

// Decode one base64url JWT segment to text (RFC 7515: URL alphabet, no padding, UTF-8).
export function b64urlDecodeText(seg) {
	let s = seg.replace(/-/g, '+').replace(/_/g, '/');
	while (s.length % 4) s += '=';
	const bin = atob(s);
	const bytes = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
	return new TextDecoder('utf-8', {fatal: true}).decode(bytes);
}

export function decodeJwtPayload(jwt) {
	const parts = String(jwt || '').split('.');
	if (parts.length !== 3) throw new Error('not a compact JWT (expected 3 dot-separated parts)');
	return JSON.parse(b64urlDecodeText(parts[1]));
}

export function utf8Length(s) {
	return new TextEncoder().encode(s).length;
}

// Run fn over items with at most `limit` in flight; results keep the input order.
export async function pool(items, limit, fn) {
	const out = new Array(items.length);
	let next = 0;
	async function worker() {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	}
	await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
	return out;
}
