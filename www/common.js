// Page-wide state and the pieces several sections share: the error box, the service-logs
// panel, the emulation banner, the security-feature list and the attestation-failure header.
import {$, h, show, kvTable, preBlock, pretty, richText} from './dom.js';

export const state = {
	config: null,          // /skr/config
	snooper: false,        // /skr/config.is_confidential === false
	keyReleased: false,
	maxPlaintext: null,    // RSA-OAEP direct limit in bytes, from the server
	company: null,         // /company/info.company
	otherCompany: null,
	emulatedSources: new Set(),
};

// ---- emulation banner ----------------------------------------------------------------------

export function setEmulated(source) {
	state.emulatedSources.add(source);
	const b = $('emulatedBanner');
	b.hidden = false;
	document.body.classList.add('is-emulated');
	b.title = 'Reported by: ' + [...state.emulatedSources].join(', ');
	// The snooper talks to the same local stand-ins but has no TEE device at all, virtual or real.
	if (state.snooper) {
		$('emulatedBannerText').textContent = 'Local stand-ins for Azure Attestation and Key Vault. This instance ' +
			'has no TEE device (standard hardware), so attestation fails here as it would on Azure.';
	}
}

// ---- busy buttons --------------------------------------------------------------------------

// Disable a button while fn runs; label it `busyText`; restore afterwards even if fn throws.
export async function busy(btn, busyText, fn) {
	const old = btn.textContent;
	const wasDisabled = btn.disabled;
	btn.disabled = true;
	btn.classList.add('is-busy');
	if (busyText) btn.textContent = busyText;
	try {
		return await fn();
	} finally {
		btn.classList.remove('is-busy');
		if (btn.dataset.keepLabel !== '1') btn.textContent = old;
		delete btn.dataset.keepLabel;
		if (btn.dataset.keepDisabled === '1') delete btn.dataset.keepDisabled;
		else btn.disabled = wasDisabled;
	}
}

// Run an async UI action; an exception becomes a readable message in `target` instead of escaping.
export function guarded(target, fn) {
	return async (...args) => {
		try {
			await fn(...args);
		} catch (err) {
			const el = typeof target === 'string' ? $(target) : target;
			if (el) show(el, h('div', {class: 'alert alert-danger'},
				h('strong', {text: 'Something went wrong in the page: '}),
				String(err && err.message ? err.message : err)));
		}
	};
}

export function spinner(text) {
	return h('p', {class: 'loading'}, h('span', {class: 'spin', 'aria-hidden': 'true'}), ' ', text);
}

// ---- error envelope ------------------------------------------------------------------------

// The common error envelope {status:"error", message, failure_reason, diagnosis{likely_cause,
// solution, command, explanation, detail}, ...}: the plain reason first, what to do next, and
// the technical detail folded below. opts.expected: the failure is the point of the demo (the
// snooper cannot attest): shown calmly, with opts.expectedNote saying why.
export function errorBox(title, r, opts = {}) {
	const d = (r && r.data) || {};
	const g = d.diagnosis && typeof d.diagnosis === 'object' ? d.diagnosis : {};
	const headline = d.failure_reason || d.message || title;
	const box = h('div', {class: 'alert error-box ' + (opts.expected ? 'alert-warn' : 'alert-danger'),
		'data-error-code': d.error_code || null});
	box.appendChild(h('p', {class: 'error-headline'}, '✗ ', richText(sentence(headline))));
	box.appendChild(h('p', {class: 'error-context muted', text: title + (r && r.status ? ` (HTTP ${r.status})` : '')}));
	if (opts.expected && opts.expectedNote) box.appendChild(h('p', {class: 'error-meaning'}, h('strong', {text: 'As expected: '}), opts.expectedNote));
	if (g.likely_cause) box.appendChild(h('p', {class: 'error-meaning'}, h('strong', {text: 'Why: '}), richText(g.likely_cause)));
	if (g.solution) box.appendChild(h('p', {class: 'error-meaning'}, h('strong', {text: 'What to do: '}), richText(g.solution)));
	if (g.explanation) box.appendChild(h('p', {class: 'note'}, richText(g.explanation)));

	const rows = [];
	if (d.message && d.message !== headline) rows.push(['Message', d.message]);
	if (r && r.status) rows.push(['HTTP status', String(r.status)]);
	if (d.error_code) rows.push(['Error code', d.error_code]);
	if (d.stage) rows.push(['Failed step', d.stage]);
	if (d.upstream && typeof d.upstream === 'object') {
		rows.push(['Remote service answered', [d.upstream.status && `HTTP ${d.upstream.status}`, d.upstream.code,
			d.upstream.request_id && `request id ${d.upstream.request_id}`].filter(Boolean).join(', ')]);
	}
	if (d.sidecar_status_code) rows.push(['Sidecar status', String(d.sidecar_status_code)]);
	if (d.maa_endpoint) rows.push(['Attestation service', d.maa_endpoint]);
	if (d.akv_endpoint) rows.push(['Key vault', d.akv_endpoint]);
	if (d.key_name) rows.push(['Key', d.key_name]);
	if (d.attestation_backend) rows.push(['Attestation path', d.attestation_backend]);
	if (g.detail && g.detail !== d.message) rows.push(['Detail', g.detail]);
	const tech = [];
	if (rows.length) tech.push(kvTable(rows, 'compact'));
	if (g.command) tech.push(h('p', {}, h('strong', {text: 'Command: '}), h('code', {class: 'cmd', text: g.command})));
	for (const k of ['note', 'hint', 'security_note']) {
		if (typeof d[k] === 'string' && d[k]) tech.push(h('p', {class: 'note', text: d[k]}));
	}
	const extra = d.sidecar_response || d.response_text || d.response || d.detail;
	if (extra && extra !== g.detail) tech.push(preBlock(typeof extra === 'string' ? extra : pretty(extra), 'small'));
	if (tech.length) box.appendChild(h('details', {class: 'subsection tech-detail'}, h('summary', {text: 'Technical detail'}), tech));
	return box;
}

// The line after each step: what the step did and why it matters.
export function whatHappened(...parts) {
	return h('p', {class: 'what-happened'}, h('strong', {text: 'What just happened: '}), ...parts);
}

export function sentence(s) {
	s = String(s ?? '').trim();
	return !s || /[.!?:]$/.test(s) ? s : s + '.';
}

// {mode, type, accessible} of a TEE device node, as one readable line.
export function deviceInfoText(i) {
	if (!i || typeof i !== 'object') return i === null ? undefined : i;
	const parts = [];
	if (i.type) parts.push(i.type);
	if (i.mode) parts.push('mode ' + i.mode);
	if (i.accessible !== undefined) parts.push(i.accessible ? 'accessible' : 'NOT accessible to this process');
	return parts.join(', ');
}

// ---- service logs panel --------------------------------------------------------------------

const LOG_TITLES = {
	skr: 'SKR sidecar log', skr_error: 'SKR sidecar error log', app: 'Application log',
	flask: 'Application log', flask_error: 'Application error log',
	lighttpd_error: 'Web server error log', supervisord: 'supervisord log',
};

// Successful GETs are the page's own loads and the snooper's 5-second polling: not what a
// reader of a failure is looking for.
const ROUTINE = /\b(?:GET|HEAD) \S+ -> (?:2\d\d|304)\b/;

// Newest line first, routine lines counted and left out.
export function logLines(text) {
	const all = String(text ?? '').split('\n').filter((l) => l.trim() !== '');
	const kept = all.filter((l) => !ROUTINE.test(l)).reverse();
	return {kept, hidden: all.length - kept.length};
}

// The logs of a failure: open by default (the point of showing them is to read them), newest
// first, the SEV device status on top, the same text under two names shown once.
export function logsPanel(logs, open = true) {
	if (!logs || typeof logs !== 'object') return null;
	const body = h('div', {class: 'logs-body'});
	const dev = logs.sev_device;
	if (dev && typeof dev === 'object') {
		const ok = dev.available === true;
		body.appendChild(h('h4', {text: 'SEV device status'}));
		body.appendChild(kvTable([
			['Available', ok ? '✓ yes' : '✗ no', {cls: ok ? 'ok' : 'bad'}],
			['Device', dev.device_path ?? undefined],
			['Provider', dev.provider ?? undefined],
			['Emulated', dev.emulated === undefined ? undefined : dev.emulated ? 'yes (virtual SEV-SNP)' : 'no'],
			['Device info', deviceInfoText(dev.device_info)],
			['Explanation', dev.explanation ?? undefined],
			['/dev listing', Array.isArray(dev.dev_listing) ? dev.dev_listing.join(', ') || '(none)' : undefined],
		], 'compact'));
	}
	const seen = new Map();
	for (const [k, v] of Object.entries(logs)) {
		if (k === 'sev_device') continue;
		const title = LOG_TITLES[k] || k;
		const text = v === null || v === undefined ? '' : String(v);
		if (/^\(file not found: /.test(text)) continue;
		if (seen.has(text) && text) continue;
		seen.set(text, title);
		const {kept, hidden} = logLines(text);
		body.appendChild(h('h4', {text: title}));
		body.appendChild(preBlock(kept.length ? kept.join('\n') : '(no warnings or errors)', 'log'));
		if (hidden) body.appendChild(h('p', {class: 'note', text: `Newest first. ${hidden} routine line(s) ` +
			'(successful GET requests: page loads and polling) are not shown.'}));
	}
	return h('details', {class: 'subsection logs-panel', open: !!open},
		h('summary', {text: 'Service logs (newest first)'}), body);
}

// ---- security features ---------------------------------------------------------------------

const FEATURES = ['tee', 'memory', 'confidentiality', 'policy', 'attestation', 'protection'];

function setFeature(name, ok, why) {
	const li = document.querySelector(`#featureList li[data-feature="${name}"]`);
	if (!li) return;
	li.classList.remove('verified', 'unverified', 'pending');
	li.classList.add(ok === null ? 'pending' : ok ? 'verified' : 'unverified');
	li.querySelector('.feature-icon').textContent = ok === null ? '○' : ok ? '✓' : '✗';
	li.querySelector('.feature-why').textContent = why || '';
}

function isFalse(v) {
	return v === false || v === 'false';
}

// The rules, from claims the server verified (PROTOCOLS.md §4 names). Container tokens carry
// x-ms-compliance-status "azure-compliant-uvm"; only CVM guest tokens have x-ms-isolation-tee.
export function featureRules(c) {
	const iso = c['x-ms-isolation-tee'] && typeof c['x-ms-isolation-tee'] === 'object' ? c['x-ms-isolation-tee'] : null;
	const get = (k) => (c[k] !== undefined ? c[k] : iso ? iso[k] : undefined);
	const type = c['x-ms-attestation-type'];
	const snp = type === 'sevsnpvm' || (iso && iso['x-ms-attestation-type'] === 'sevsnpvm');
	const vmpl = get('x-ms-sevsnpvm-vmpl');
	const comp = c['x-ms-compliance-status'];
	const host = get('x-ms-sevsnpvm-hostdata');
	const dbg = get('x-ms-sevsnpvm-is-debuggable');
	const hostOk = typeof host === 'string' && /^[0-9a-f]{64}$/i.test(host) && !/^0+$/.test(host);
	const emu = c['x-demo-emulated'] === true;
	return {
		tee: [snp, `x-ms-attestation-type = ${type ?? '(absent)'}` + (emu ? ' (virtual SEV-SNP: emulated)' : '')],
		memory: [snp && vmpl !== undefined && vmpl !== null,
			vmpl !== undefined ? `SEV-SNP guest at VMPL ${vmpl}` : 'no x-ms-sevsnpvm-vmpl claim'],
		confidentiality: [comp === 'azure-compliant-uvm' || (!!iso && comp === 'azure-compliant-cvm'),
			`x-ms-compliance-status = ${comp ?? '(absent)'}`],
		policy: [hostOk, host === undefined ? 'no x-ms-sevsnpvm-hostdata claim'
			: hostOk ? `host_data ${String(host).slice(0, 16)}…` : `host_data ${String(host).slice(0, 16)}… (no policy)`],
		attestation: [true, 'signature verified (RS256) with the attestation service\'s keys'],
		protection: [isFalse(dbg), `x-ms-sevsnpvm-is-debuggable = ${dbg ?? '(absent)'}`],
	};
}

// verified: the server checked the token's signature; unverified claims light nothing.
export function updateSecurityFeatures(success, claims, verified, message) {
	const status = $('featuresStatus');
	status.classList.remove('ok', 'bad', 'warn');
	if (!success) {
		for (const f of FEATURES) setFeature(f, false, 'attestation failed');
		const msg = String(message || 'unknown error');
		status.textContent = /^attestation failed/i.test(msg) ? '✗ ' + msg : '✗ Attestation failed: ' + msg;
		status.classList.add('bad');
		return;
	}
	if (!verified) {
		for (const f of FEATURES) setFeature(f, false, 'token signature not verified: claims not trusted');
		status.textContent = '✗ A token was issued but its signature did not verify: no claim is trusted.';
		status.classList.add('bad');
		return;
	}
	const rules = featureRules(claims || {});
	let all = true;
	for (const f of FEATURES) {
		const [ok, why] = rules[f];
		setFeature(f, !!ok, why);
		all = all && !!ok;
	}
	status.textContent = all ? '✓ Every feature is backed by a verified attestation claim.'
		: '⚠ The token verified, but some features are not backed by its claims (✗ below).';
	status.classList.add(all ? 'ok' : 'warn');
	if (claims && claims['x-demo-emulated'] === true) {
		status.textContent += ' The TEE is emulated.';
	}
}

// The page-load check (/info) attests too; it decides the features only until a token is requested.
let tokenSeen = false;
export function noteTokenRequested() {
	tokenSeen = true;
}
export function noteLiveAttestation(works, error) {
	if (tokenSeen) return;
	if (!works) {
		updateSecurityFeatures(false, null, false, 'the live check on page load failed' + (error ? ': ' + error : ''));
		return;
	}
	const status = $('featuresStatus');
	status.textContent = '✓ The live check on page load attested this instance. Request a token to check each ' +
		'feature against its verified claims.';
	status.className = 'status-line ok';
}

// ---- header on attestation failure ---------------------------------------------------------

export function showAttestationFailure(message, solution) {
	document.body.classList.add('no-tee');
	$('pageHeader').classList.add('header-bad');
	$('headerTitle').textContent = state.snooper ? '⚠ Snooper: a standard Azure Container Instance'
		: '⚠ Standard Azure Container Instances';
	$('headerSubtitle').textContent = state.snooper
		? 'NOT running on confidential hardware: it cannot attest, so no vault releases it a key'
		: 'NOT running on confidential hardware';
	const live = $('liveAttestation');
	if (live) {
		show(live, h('strong', {text: 'Live Attestation Status: FAILED'}),
			message ? h('p', {text: 'Reason: ' + message}) : null,
			solution ? h('p', {text: 'Solution: ' + solution}) : null);
		live.className = 'live-status bad';
	}
}

export function showAttestationSuccess(emulated) {
	document.body.classList.remove('no-tee');
	$('pageHeader').classList.remove('header-bad');
	$('pageHeader').classList.add('header-ok');
	$('headerTitle').textContent = 'Confidential Azure Container Instances';
	$('headerSubtitle').textContent = emulated
		? 'Remote Attestation Demo with AMD SEV-SNP (virtual device: emulated)'
		: 'Remote Attestation Demo with AMD SEV-SNP';
	const live = $('liveAttestation');
	if (live) {
		show(live, h('strong', {text: 'Live Attestation Status: VERIFIED'}),
			emulated ? h('p', {text: 'Evidence from the virtual SEV-SNP device (emulated TEE).'}) : null);
		live.className = 'live-status ok';
	}
}

