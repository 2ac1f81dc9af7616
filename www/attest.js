// Remote attestation: the verified token (POST /attest/maa) and the decoded raw report (POST /attest/raw).
import {$, h, show, api, kvTable, badge, collapsible, preBlock, pretty, timingChips, b64utf8,
	decodeJwtPayload} from './dom.js';
import {state, busy, spinner, errorBox, logsPanel, setEmulated, updateSecurityFeatures,
	showAttestationFailure, showAttestationSuccess, noteTokenRequested} from './common.js';

// Claims worth a presenter's attention, in the order they are explained.
const KEY_CLAIMS = [
	['x-ms-attestation-type', 'TEE type'],
	['x-ms-compliance-status', 'Platform compliance'],
	['x-ms-sevsnpvm-hostdata', 'host_data (policy hash)'],
	['x-ms-sevsnpvm-launchmeasurement', 'Launch measurement'],
	['x-ms-sevsnpvm-is-debuggable', 'Debuggable'],
	['x-ms-sevsnpvm-vmpl', 'VMPL'],
	['x-ms-sevsnpvm-reportdata', 'report_data'],
	['x-ms-sevsnpvm-guestsvn', 'Guest SVN'],
	['x-ms-sevsnpvm-microcode-svn', 'Microcode SVN'],
	['x-ms-sevsnpvm-snpfw-svn', 'SNP firmware SVN'],
];

function fmtTime(unix) {
	if (typeof unix !== 'number') return undefined;
	return new Date(unix * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function claimCell(k, v) {
	const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
	let cls = 'mono';
	if (k === 'x-ms-sevsnpvm-is-debuggable') cls += v === false || v === 'false' ? ' ok' : ' bad';
	if (k === 'x-ms-compliance-status') cls += v === 'azure-compliant-uvm' ? ' ok' : ' warn';
	if (k === 'x-ms-sevsnpvm-hostdata' || k === 'x-ms-sevsnpvm-launchmeasurement') cls += ' hl';
	return h('span', {class: cls, text});
}

export async function requestToken() {
	const btn = $('attestBtn');
	const out = $('attestResult');
	await busy(btn, 'Requesting token…', async () => {
		show(out, spinner('Getting a report from the SEV-SNP device and a token from the attestation service…'));
		const runtime = {timestamp: new Date().toISOString(), demo: 'Confidential ACI Attestation Demo'};
		const r = await api('POST', '/attest/maa', {runtime_data: b64utf8(JSON.stringify(runtime))});
		noteTokenRequested();
		if (r.ok && r.data.status === 'success') renderToken(out, r);
		else renderTokenFailure(out, r);
	});
}

function renderToken(out, r) {
	const d = r.data;
	const verified = d.token_verified === true;
	let claims = d.claims && typeof d.claims === 'object' ? d.claims : null;
	let localNote = null;
	if (!claims && d.attestation_token) {
		try {
			claims = decodeJwtPayload(d.attestation_token);
			localNote = 'Claims below were decoded in the browser from the token and are NOT verified.';
		} catch (err) {
			localNote = 'The token could not be decoded: ' + err.message;
		}
	}
	const emulated = d.emulated === true || (claims && claims['x-demo-emulated'] === true);
	if (emulated) setEmulated('attestation token');

	const v = d.verification || {};
	const head = h('div', {class: 'result-head'},
		badge(verified, '✓ Token signature verified', '✗ Token NOT verified'),
		d.runtime_data_bound === undefined ? null
			: badge(d.runtime_data_bound === true, '✓ Bound to this request\'s runtime data',
				'✗ report_data does not match the runtime data'),
		emulated ? h('span', {class: 'badge badge-warn', text: 'EMULATED TEE'}) : null);
	const t = d.timing_ms || {};
	const timing = timingChips([['report', t.report], ['certificates', t.certificates],
		['attestation service', t.attestation_service], ['verification', t.verification],
		['total', t.total], ['round trip', r.ms]]);

	const facts = kvTable([
		['Verified with', verified ? `${v.algorithm || 'RS256'} keys from ${v.jwks_uri || '(issuer)/certs'}` : undefined],
		['Verification error', d.verification_error || undefined, {cls: 'bad'}],
		['Issuer', v.issuer || (claims && claims.iss) || undefined, {mono: true}],
		['Attestation path', d.attestation_backend ? `${d.attestation_backend} (evidence: ${d.evidence_source || 'n/a'})` : undefined],
		['Issued', claims ? fmtTime(claims.iat) : undefined],
		['Expires', claims ? fmtTime(claims.exp) : undefined],
	], 'compact');

	const keyRows = [];
	if (claims) {
		for (const [k, label] of KEY_CLAIMS) {
			if (claims[k] === undefined) continue;
			keyRows.push([label, claimCell(k, claims[k])]);
		}
		if (claims['x-ms-runtime'] !== undefined)
			keyRows.push(['Runtime data (x-ms-runtime)', h('span', {class: 'mono', text: JSON.stringify(claims['x-ms-runtime'])})]);
	}
	show(out,
		h('div', {class: 'card ' + (verified ? 'card-ok' : 'card-bad')},
			h('h3', {text: '🎫 Attestation token'}), head, timing, facts,
			localNote ? h('p', {class: 'alert alert-warn', text: localNote}) : null,
			keyRows.length ? h('h4', {text: verified ? 'Key claims (verified)' : 'Key claims (NOT verified)'}) : null,
			keyRows.length ? kvTable(keyRows, 'claims') : null,
			claims ? collapsible(verified ? 'All claims (verified)' : 'All claims (unverified)', preBlock(pretty(claims)), false) : null,
			d.attestation_token ? collapsible('Attestation token (JWT)', preBlock(d.attestation_token, 'wrap'), false) : null));

	updateSecurityFeatures(true, claims, verified);
	if (verified) showAttestationSuccess(emulated);
}

function renderTokenFailure(out, r) {
	const d = r.data || {};
	show(out, errorBox('Attestation failed', r), logsPanel(d.logs, !state.snooper));
	updateSecurityFeatures(false, null, false, d.message);
	showAttestationFailure(d.message, d.diagnosis && d.diagnosis.solution);
}

// ---- raw report ----------------------------------------------------------------------------

const CHECKS = [
	['report_signature', 'Report signature (ECDSA P-384) by the VCEK'],
	['vcek_signed_by_ask', 'VCEK certificate signed by the ASK'],
	['ask_signed_by_ark', 'ASK certificate signed by the ARK'],
	['ark_trusted', 'ARK is a trusted root'],
	['tcb_matches_vcek', 'Reported TCB matches the VCEK'],
	['chip_id_matches_vcek', 'Chip id matches the VCEK'],
];

function tcbText(t) {
	if (!t || typeof t !== 'object') return undefined;
	const parts = [];
	if (t.fmc !== undefined) parts.push(`fmc ${t.fmc}`);
	for (const k of ['bootloader', 'tee', 'snp', 'microcode']) if (t[k] !== undefined) parts.push(`${k} ${t[k]}`);
	return `${t.tcbm ?? ''}  (${parts.join(', ')})`;
}

function hexLines(hex) {
	const s = String(hex || '');
	const lines = [];
	for (let i = 0; i < s.length; i += 64) lines.push(`${(i / 2).toString(16).padStart(4, '0')}  ${s.slice(i, i + 64)}`);
	return lines.join('\n');
}

export async function requestRaw() {
	const btn = $('rawBtn');
	const out = $('rawResult');
	await busy(btn, 'Reading report…', async () => {
		show(out, spinner('Asking the SEV-SNP device for a signed attestation report…'));
		const r = await api('POST', '/attest/raw', {runtime_data: b64utf8('Raw Report - ' + new Date().toISOString())});
		if (r.ok && r.data.status === 'success') renderRaw(out, r);
		else show(out, errorBox('Raw attestation report failed', r), logsPanel(r.data && r.data.logs, !state.snooper));
	});
}

function renderRaw(out, r) {
	const d = r.data;
	const rep = d.report && typeof d.report === 'object' ? d.report : null;
	if (d.emulated === true) setEmulated('raw report');
	const v = d.verification && typeof d.verification === 'object' ? d.verification : {};
	const t = d.timing_ms || {};
	const card = h('div', {class: 'card ' + (v.verified ? 'card-ok' : 'card-bad')},
		h('h3', {text: '📄 SEV-SNP attestation report'}),
		h('div', {class: 'result-head'},
			badge(v.verified === true, '✓ Report and certificate chain verified', '✗ Report NOT verified'),
			d.report_data_bound === undefined ? null
				: badge(d.report_data_bound === true, '✓ report_data bound to this request', '✗ report_data not bound'),
			v.emulated_root || d.emulated ? h('span', {class: 'badge badge-warn', text: 'EMULATED ROOT (not AMD)'}) : null),
		timingChips([['report', t.report], ['certificates', t.certificates], ['verification', t.verification],
			['round trip', r.ms]]));

	if (rep) {
		const pol = rep.policy || {};
		const dbg = pol.debug === true;
		const zeroHost = /^0+$/.test(String(rep.host_data || ''));
		card.appendChild(h('h4', {text: 'Fields that matter'}));
		card.appendChild(kvTable([
			['host_data', h('span', {}, h('span', {class: 'mono hl', text: rep.host_data}),
				h('span', {class: 'field-note', text: zeroHost
					? ' all zero: no confidential computing policy is bound'
					: ' SHA-256 of the container group\'s confidential computing policy'}))],
			['measurement', h('span', {}, h('span', {class: 'mono hl', text: rep.measurement}),
				h('span', {class: 'field-note', text: ' launch digest of the utility VM (firmware, kernel, initrd)'}))],
			['report_data', h('span', {}, h('span', {class: 'mono', text: rep.report_data}),
				h('span', {class: 'field-note ' + (d.report_data_bound ? 'ok' : 'bad'), text: d.report_data_bound
					? ' = SHA-256(runtime data) ‖ zeros: bound to this request'
					: ' does not match SHA-256 of this request\'s runtime data'}))],
			['Debug policy bit', h('span', {class: dbg ? 'bad' : 'ok',
				text: dbg ? '✗ DEBUG ALLOWED: the host could inspect guest memory' : '✓ debugging disabled'})],
			['Policy', `${pol.raw ?? ''}  (ABI ≥ ${pol.abi_major ?? '?'}.${pol.abi_minor ?? '?'}, SMT ${pol.smt ? 'allowed' : 'off'}, ` +
				`migration agent ${pol.migrate_ma ? 'allowed' : 'off'}, single socket ${pol.single_socket ? 'required' : 'no'})`],
			['VMPL', rep.vmpl],
			['Reported TCB', tcbText(rep.reported_tcb), {mono: true}],
			['Current TCB', tcbText(rep.current_tcb), {mono: true}],
			['Firmware', rep.current_version],
			['Guest SVN', rep.guest_svn],
			['Report version', rep.version],
			['Signing key', rep.key_info ? rep.key_info.signing_key_name : undefined],
			['chip_id', rep.chip_id, {mono: true}],
		], 'report'));
	} else if (d.parse_error) {
		card.appendChild(h('p', {class: 'alert alert-danger', text: 'The report could not be decoded: ' + d.parse_error}));
	}

	const checks = h('ul', {class: 'checks'});
	for (const [k, label] of CHECKS) {
		const c = v[k];
		if (!c || typeof c !== 'object') continue;
		checks.appendChild(h('li', {class: c.ok ? 'ok' : 'bad'},
			h('span', {class: 'check-icon', text: c.ok ? '✓' : '✗'}), ' ', h('strong', {text: label}),
			c.detail ? h('span', {class: 'check-detail', text: ' ' + c.detail}) : null));
	}
	card.appendChild(h('h4', {text: 'Verification checks'}));
	if (checks.childNodes.length) card.appendChild(checks);
	card.appendChild(kvTable([
		['Product', v.product || undefined],
		['Root', v.root ? v.root + (v.emulated_root ? ' (emulated, not AMD)' : '') : undefined],
		['Certificates from', d.certificate_source || undefined],
		['Evidence source', d.evidence_source ? `${d.evidence_source} (${d.attestation_backend || ''})` : undefined],
		['Error', v.error || undefined, {cls: 'bad'}],
	], 'compact'));
	if (rep) card.appendChild(collapsible('Every decoded field', preBlock(pretty(rep)), false));
	if (d.attestation_report) card.appendChild(collapsible('Raw report (hex, 1184 bytes)', preBlock(hexLines(d.attestation_report), 'hex'), false));
	show(out, card);
}
