// Remote attestation: the verified token (POST /attest/maa) and the decoded raw report (POST /attest/raw).
import {$, h, show, api, kvTable, badge, collapsible, preBlock, pretty, timingChips, b64utf8,
	decodeJwtPayload, copyButton, downloadButton} from './dom.js';
import {state, busy, spinner, errorBox, logsPanel, setEmulated, updateSecurityFeatures,
	showAttestationFailure, showAttestationSuccess, noteTokenRequested, whatHappened} from './common.js';
import {claimsExplained} from './claims.js';

function fmtTime(unix) {
	if (typeof unix !== 'number') return undefined;
	return new Date(unix * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export async function requestToken() {
	const btn = $('attestBtn');
	const out = $('attestResult');
	await busy(btn, 'Requesting token…', async () => {
		noteTokenRequested();
		if (state.snooper) {
			await snooperAttempt(out);
			return;
		}
		show(out, spinner('Getting a report from the SEV-SNP device and a token from the attestation service…'));
		const runtime = {timestamp: new Date().toISOString(), demo: 'Confidential ACI Attestation Demo'};
		const r = await api('POST', '/attest/maa', {runtime_data: b64utf8(JSON.stringify(runtime))});
		if (r.ok && r.data.status === 'success') renderToken(out, r);
		else renderTokenFailure(out, r);
	});
}

// The snooper has no TEE device (/skr/config said so), so asking for a token can only fail.
// /info makes the same attempt and answers 200 with the outcome (status.attestation_failure is
// the error envelope an /attest/maa failure carries): the expected refusal is not an HTTP error.
async function snooperAttempt(out) {
	show(out, spinner('Trying to attest: asking for a hardware report on standard hardware…'));
	const r = await api('GET', '/info');
	if (!r.ok) {
		show(out, errorBox('The attestation check could not be made', r));
		return;
	}
	const st = r.data.status || {};
	if (st.attestation_works === true) {
		// Not what the snooper should see: show a real token request's answer.
		const t = await api('POST', '/attest/maa', {runtime_data: b64utf8(JSON.stringify({purpose: 'snooper'}))});
		if (t.ok && t.data.status === 'success') renderToken(out, t);
		else renderTokenFailure(out, t);
		return;
	}
	const f = st.attestation_failure && typeof st.attestation_failure === 'object' ? st.attestation_failure
		: {failure_reason: 'This container is not running in a TEE', message: st.attestation_error};
	const env = {status: 0, data: {message: st.attestation_error, ...f}};
	show(out, errorBox('Attestation failed', env, {expected: true,
		expectedNote: 'this container runs on standard hardware. Without an AMD SEV-SNP report there is ' +
			'nothing for the attestation service to sign, so no token, so no key.'}),
	whatHappened('the container asked for a hardware attestation report. On standard hardware there is no ' +
		'AMD Secure Processor to sign one, so the attempt stopped before the attestation service was even asked.'),
	logsPanel(f.logs, true));
	const reason = f.failure_reason || st.attestation_error;
	updateSecurityFeatures(false, null, false, reason);
	showAttestationFailure(reason, f.diagnosis && f.diagnosis.solution);
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

	const jwt = d.attestation_token ? String(d.attestation_token) : '';
	const jwtPre = jwt ? preBlock(jwt, 'wrap') : null;
	show(out,
		h('div', {class: 'card ' + (verified ? 'card-ok' : 'card-bad')},
			h('h3', {text: 'Attestation token'}), head, timing,
			whatHappened('this container asked its AMD Secure Processor for a report bound to fresh runtime data, ',
				'sent it with the chip\'s certificate chain to the attestation service, which checked the chain up to ',
				emulated ? 'the (local, emulated) root' : 'AMD\'s root', ' and signed a token of claims about it. ',
				verified ? 'This server then checked that signature before showing you anything. '
					: 'The token\'s signature did NOT verify: treat its claims as untrusted. ',
				'Anyone the container shows this token to (a key vault, a partner) can check it the same way.'),
			facts,
			localNote ? h('p', {class: 'alert alert-warn', text: localNote}) : null,
			claims ? h('h4', {text: verified ? 'What the verified claims say' : 'What the claims say (NOT verified)'}) : null,
			claims ? h('div', {class: 'claims-explained'}, claimsExplained(claims)) : null,
			claims ? collapsible(verified ? 'All claims as JSON (verified)' : 'All claims as JSON (unverified)', preBlock(pretty(claims)), false) : null,
			jwt ? collapsible('The token itself (JWT): copy or download it to check it offline', [
				h('div', {class: 'artifact-tools'}, copyButton(jwt, 'Copy token', jwtPre),
					downloadButton(jwt, 'attestation-token.jwt', '⬇ Download attestation-token.jwt')),
				jwtPre,
				h('p', {class: 'note'}, 'Its three dot-separated parts are the header, the claims and an RS256 ',
					'signature over both, made with a key listed at ', h('code', {text: (v.jwks_uri || '<issuer>/certs')}),
					'. attest-check (Verify This Instance Yourself, below) fetches those keys itself and checks it.'),
			], false) : null));

	updateSecurityFeatures(true, claims, verified);
	if (verified) showAttestationSuccess(emulated);
}

function renderTokenFailure(out, r) {
	const d = r.data || {};
	show(out, errorBox('Attestation failed', r),
		whatHappened('the container could not get a verified attestation token, so it cannot prove what it is. ',
			'No key will be released to it until it can.'),
		logsPanel(d.logs, true));
	updateSecurityFeatures(false, null, false, d.failure_reason || d.message);
	showAttestationFailure(d.failure_reason || d.message, d.diagnosis && d.diagnosis.solution);
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
		else show(out, errorBox('Raw attestation report failed', r), logsPanel(r.data && r.data.logs, true));
	});
}

function renderRaw(out, r) {
	const d = r.data;
	const rep = d.report && typeof d.report === 'object' ? d.report : null;
	if (d.emulated === true) setEmulated('raw report');
	const v = d.verification && typeof d.verification === 'object' ? d.verification : {};
	const t = d.timing_ms || {};
	const card = h('div', {class: 'card ' + (v.verified ? 'card-ok' : 'card-bad')},
		h('h3', {text: 'SEV-SNP attestation report'}),
		h('div', {class: 'result-head'},
			badge(v.verified === true, '✓ Report and certificate chain verified', '✗ Report NOT verified'),
			d.report_data_bound === undefined ? null
				: badge(d.report_data_bound === true, '✓ report_data bound to this request', '✗ report_data not bound'),
			v.emulated_root || d.emulated ? h('span', {class: 'badge badge-warn', text: 'EMULATED ROOT (not AMD)'}) : null),
		timingChips([['report', t.report], ['certificates', t.certificates], ['verification', t.verification],
			['round trip', r.ms]]),
		whatHappened('the AMD Secure Processor wrote and signed this 1184-byte report: what was launched ',
			'(measurement), under which policy (host_data, the debug bit) and the 64 bytes this request chose ',
			'(report_data). The signature is checked with the chip\'s VCEK certificate, which AMD\'s ASK signs, ',
			'which AMD\'s root (ARK) signs: below, each link of that chain.'));

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
	if (d.attestation_report) card.appendChild(reportArtifacts(d));
	show(out, card);
}

// Copy and download of the report and its certificate chain, with the command that checks them
// offline (tools/snp-verify, built by make): nothing on this page needs to be trusted for that.
function reportArtifacts(d) {
	const hex = String(d.attestation_report);
	const pre = preBlock(hexLines(hex), 'hex');
	const local = d.emulated === true;
	const company = state.company || (state.config && String(state.config.company_name || '').toLowerCase()) || 'contoso';
	const cmds = [];
	if (d.vcek_chain_pem) cmds.push(`build/tools/snp-verify${local ? ' --root var/public/virtual-ark.pem' : ''} report.hex vcek-chain.pem`);
	if (local) cmds.push(`build/tools/snp-verify --root var/public/virtual-ark.pem report.hex var/azure/vsnp-${company}/thim.json`);
	const cmdPre = h('pre', {class: 'scroll wrap', 'data-snp-verify': '1', text: cmds.join('\n')});
	return collapsible('Raw report (hex, 1184 bytes): copy or download it to check it offline', [
		h('div', {class: 'artifact-tools'},
			copyButton(hex, 'Copy report hex', pre),
			downloadButton(hex + '\n', 'report.hex', '⬇ Download report.hex'),
			d.vcek_chain_pem ? downloadButton(String(d.vcek_chain_pem), 'vcek-chain.pem', '⬇ Download vcek-chain.pem',
				'application/x-pem-file') : null),
		h('p', {}, 'Check it on your own machine, from a checkout of this project (', h('code', {text: 'make'}),
			' builds ', h('code', {text: 'build/tools/snp-verify'}), '; exit status 0 means every check passed):'),
		cmdPre,
		h('div', {class: 'artifact-tools'}, copyButton(cmds.join('\n'), 'Copy command', cmdPre)),
		h('p', {class: 'note', text: local
			? 'The local demo\'s chips are virtual: --root trusts the local test root (var/public/virtual-ark.pem under ' +
				'make run\'s default state directory). The second form uses the certificates the virtual host publishes.'
			: 'Without --root, snp-verify trusts only AMD\'s pinned roots (Milan, Genoa, Turin): a report that passes ' +
				'was signed by a genuine AMD processor.'}),
		pre,
	], false);
}
