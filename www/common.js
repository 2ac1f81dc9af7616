// Page-wide state and the pieces several sections share: the error box, the service-logs
// panel, the emulation banner, the security-feature list and the attestation-failure header.
import {$, h, show, kvTable, preBlock, pretty} from './dom.js';

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

// The common error envelope {status:"error", message, failure_reason, diagnosis{...}, note, hint, ...}.
export function errorBox(title, r) {
	const d = (r && r.data) || {};
	const box = h('div', {class: 'alert alert-danger error-box'});
	box.appendChild(h('p', {class: 'error-title'}, h('strong', {text: '✗ ' + title})));
	if (d.message) box.appendChild(h('p', {class: 'error-message', text: d.message}));
	const rows = [];
	if (d.failure_reason) rows.push(['Reason', d.failure_reason]);
	if (r && r.status) rows.push(['HTTP status', String(r.status)]);
	if (d.error_code) rows.push(['Error code', d.error_code]);
	if (d.sidecar_status_code) rows.push(['Sidecar status', String(d.sidecar_status_code)]);
	if (d.maa_endpoint) rows.push(['Attestation service', d.maa_endpoint]);
	if (d.akv_endpoint) rows.push(['Key vault', d.akv_endpoint]);
	if (d.key_name) rows.push(['Key', d.key_name]);
	if (d.attestation_backend) rows.push(['Attestation path', d.attestation_backend]);
	if (rows.length) box.appendChild(kvTable(rows, 'compact'));
	const g = d.diagnosis;
	if (g && typeof g === 'object') {
		const dg = h('div', {class: 'diagnosis'}, h('h4', {text: 'Diagnosis'}));
		if (g.likely_cause) dg.appendChild(h('p', {}, h('strong', {text: 'Likely cause: '}), g.likely_cause));
		if (g.explanation) dg.appendChild(h('p', {}, h('strong', {text: 'Explanation: '}), g.explanation));
		if (g.solution) dg.appendChild(h('p', {}, h('strong', {text: 'Solution: '}), g.solution));
		if (g.command) dg.appendChild(h('p', {}, h('strong', {text: 'Command: '}),
			h('code', {class: 'cmd', text: g.command})));
		if (g.detail && !String(d.message || '').includes(g.detail)) dg.appendChild(h('p', {class: 'detail'}, h('strong', {text: 'Detail: '}), g.detail));
		box.appendChild(dg);
	}
	for (const k of ['note', 'hint', 'explanation', 'security_note']) {
		if (typeof d[k] === 'string' && d[k]) box.appendChild(h('p', {class: 'note', text: d[k]}));
	}
	const extra = d.sidecar_response || d.response_text || d.response || d.detail;
	if (extra) box.appendChild(preBlock(typeof extra === 'string' ? extra : pretty(extra), 'small'));
	return box;
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

export function logsPanel(logs, open) {
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
	for (const [k, v] of Object.entries(logs)) {
		if (k === 'sev_device') continue;
		body.appendChild(h('h4', {text: LOG_TITLES[k] || k}));
		body.appendChild(preBlock(v === null || v === undefined || v === '' ? '(empty)' : String(v), 'log'));
	}
	return h('details', {class: 'subsection logs-panel', open: !!open},
		h('summary', {text: '📋 Service Logs'}), body);
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
	$('headerTitle').textContent = '⚠️ Standard Azure Container Instances';
	$('headerSubtitle').textContent = 'NOT running on confidential hardware';
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
	$('headerTitle').textContent = '🔒 Confidential Azure Container Instances';
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

