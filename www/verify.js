// "Verify this instance yourself": the attest-check command a remote party runs on its own machine
// to check this instance without trusting anything it says. Self-contained on purpose (no imports):
// it owns #verifySection / #verifyBox in index.html and nothing else.
//
// The box fills in this instance's URL and, once opened, the policy hash (x-ms-sevsnpvm-hostdata) of
// a fresh token from POST /attest/maa. That hash is what the instance reports: pinning it only proves
// the instance keeps running the same policy. The strong form pins the relying party's own copy of
// the policy (--policy FILE), and the box says so.

// Quote one shell word when it needs it (URLs and file names here normally do not).
function shellWord(s) {
	return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`;
}

// The commands for one instance. url: its base URL; hostdata: 64 hex digits or null; company: the
// company name from /skr/config or null; emulated: true for the local demo's emulated TEE.
// Returns [{title, command, note}], strongest first. Pure, so tests can run it outside a browser.
export function verifyCommands({url, hostdata, company, emulated}) {
	const base = String(url || '').replace(/\/+$/, '');
	const name = company && /^[a-z0-9-]{1,63}$/.test(company) ? company : null;
	const flags = emulated ? ['--allow-emulated'] : [];
	const out = [];
	if (emulated) {
		out.push({
			title: 'Pin the policy file (from a checkout of this project)',
			command: ['attest-check', ...flags, '--policy', `emulator/policies/${name || '<company>'}.rego`,
				base].map(shellWord).join(' '),
			note: 'The local demo launches each virtual host with host_data = SHA-256 of this file. ' +
				'--allow-emulated accepts its emulated TEE; the verdict then says EMULATED.',
		});
	} else {
		out.push({
			title: 'Pin the policy you deployed',
			command: ['attest-check', '--policy', `.deploy/<prefix>/template-${name || '<name>'}.json`, base]
				.map((w) => (w.includes('<') ? w : shellWord(w))).join(' '),
			note: 'The template that az confcom acipolicygen filled in (arm/deploy.sh leaves it in ' +
				'.deploy/<prefix>/). Exit 0 means: this URL runs exactly that policy in a genuine ' +
				'AMD SEV-SNP TEE, right now.',
		});
	}
	if (hostdata && /^[0-9a-f]{64}$/i.test(hostdata)) {
		out.push({
			title: 'Or pin the hash this instance reports',
			command: ['attest-check', ...flags, '--expect-hostdata', hostdata.toLowerCase(), base]
				.map(shellWord).join(' '),
			note: 'This hash comes from the instance itself, so it proves only that the instance ' +
				'keeps running the policy it runs now. Compare it with the hash az confcom ' +
				'acipolicygen printed for your deployment.',
		});
	}
	return out;
}

// ---- the box (browser only) ------------------------------------------------------------------

function el(tag, attrs, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === 'text') e.textContent = String(v);
		else if (k === 'class') e.className = v;
		else e.setAttribute(k, String(v));
	}
	for (const c of children) if (c !== null && c !== undefined) e.append(c);
	return e;
}

async function getJson(method, path, body) {
	try {
		const r = await fetch(path, {
			method,
			headers: body ? {'Content-Type': 'application/json'} : {},
			body: body ? JSON.stringify(body) : undefined,
		});
		return {ok: r.ok, data: await r.json().catch(() => ({}))};
	} catch (err) {
		return {ok: false, data: {message: String(err && err.message || err)}};
	}
}

function b64json(o) {
	return btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o))));
}

function copyButton(text, target) {
	const b = el('button', {type: 'button', class: 'btn btn-small', text: 'Copy'});
	b.addEventListener('click', async () => {
		try {
			await navigator.clipboard.writeText(text);
			b.textContent = 'Copied';
		} catch {
			// No clipboard on a plain-http page: select the text for Ctrl-C instead.
			const range = document.createRange();
			range.selectNodeContents(target);
			const sel = window.getSelection();
			sel.removeAllRanges();
			sel.addRange(range);
			b.textContent = 'Selected: press Ctrl-C';
		}
	});
	return b;
}

function render(box, info) {
	box.replaceChildren();
	if (info.error) {
		box.append(el('p', {class: 'alert alert-warn',
			text: 'This instance could not attest just now (' + info.error + '), so attest-check will ' +
				'report NOT VERIFIED for it. The command is the same:'}));
	}
	for (const c of verifyCommands(info)) {
		const code = el('pre', {class: 'scroll wrap', 'data-verify-command': '1', text: c.command});
		box.append(el('div', {class: 'card'},
			el('h4', {text: c.title}), code, copyButton(c.command, code),
			el('p', {class: 'muted', text: c.note})));
	}
	box.append(el('p', {class: 'muted', text: 'attest-check is built by make (build/tools/attest-check) ' +
		'and installed with the programs. Add --raw to also check the SEV-SNP report against AMD\'s ' +
		'pinned roots, --json for machines. Exit status: 0 verified, 1 a check failed, 2 usage, ' +
		'3 network or service error.'}));
}

async function fill(box) {
	box.replaceChildren(el('p', {class: 'muted', text: 'Asking this instance for a fresh token…'}));
	const info = {url: window.location.origin, hostdata: null, company: null, emulated: false};
	const cfg = await getJson('GET', '/skr/config');
	// An instance without a TEE device cannot attest: asking would only fail. attest-check will
	// say NOT VERIFIED for it, which is the right answer, and the command is the same.
	const tok = cfg.ok && cfg.data.is_confidential === false
		? {ok: false, data: {message: 'this instance has no TEE device (standard hardware)'}}
		: await getJson('POST', '/attest/maa', {runtime_data: b64json({purpose: 'verify-box', time: Date.now()})});
	if (cfg.ok && typeof cfg.data.company_name === 'string') info.company = cfg.data.company_name.toLowerCase();
	const claims = tok.ok && tok.data && typeof tok.data.claims === 'object' ? tok.data.claims : null;
	if (claims) {
		info.hostdata = typeof claims['x-ms-sevsnpvm-hostdata'] === 'string' ? claims['x-ms-sevsnpvm-hostdata'] : null;
		info.emulated = claims['x-demo-emulated'] === true || tok.data.emulated === true;
	} else {
		info.error = (tok.data && tok.data.message) || 'no token';
		info.emulated = cfg.ok && cfg.data.emulated === true;
	}
	// A page served from loopback is the local demo, even on its instance without a TEE.
	if (/^(127\.|localhost$|\[::1\]$)/.test(window.location.hostname)) info.emulated = true;
	render(box, info);
}

function init() {
	const section = document.getElementById('verifySection');
	const box = document.getElementById('verifyBox');
	if (!section || !box) return;
	let filled = false;
	// Lazily: opening the section costs one attestation, not every page load.
	section.addEventListener('toggle', () => {
		if (section.open && !filled) {
			filled = true;
			fill(box);
		}
	});
	if (section.open) {
		filled = true;
		fill(box);
	}
}

if (typeof document !== 'undefined') {
	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
	else init();
}
