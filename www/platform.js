// Deployment information (/info, a live attestation) and container information (/container/info).
import {$, h, show, api, kvTable, badge, collapsible, preBlock, pretty, timingChips} from './dom.js';
import {setEmulated, showAttestationFailure, showAttestationSuccess, errorBox, noteLiveAttestation,
	deviceInfoText} from './common.js';

function card(label, value, ok) {
	return h('div', {class: 'info-card ' + (ok ? 'ok' : 'bad')},
		h('span', {class: 'info-card-label', text: label}), h('span', {class: 'info-card-value', text: value}));
}

export async function loadInfo() {
	const out = $('deploymentInfo');
	const r = await api('GET', '/info');
	if (!r.ok) {
		show(out, errorBox('Deployment information unavailable', r));
		return null;
	}
	const d = r.data;
	const st = d.status || {};
	const works = st.attestation_works === true;
	const emulated = st.emulated === true;
	if (emulated) setEmulated('deployment check');
	const features = Array.isArray(d.features) ? d.features : [];
	const fail = st.attestation_failure && typeof st.attestation_failure === 'object' ? st.attestation_failure : null;
	// The plain sentence first; the internals (URLs, curl's words) folded below it.
	const reason = fail && fail.failure_reason ? fail.failure_reason : st.attestation_error;
	const solution = fail && fail.diagnosis && fail.diagnosis.solution ? fail.diagnosis.solution
		: d.diagnostics && d.diagnostics.recommendation;
	show(out,
		h('div', {class: 'deploy-head ' + (works ? 'ok' : 'bad')},
			h('h3', {text: works ? (emulated ? '✓ Running in a virtual AMD SEV-SNP TEE (emulated)' : '✓ Running in AMD SEV-SNP TEE')
				: '✗ NOT running in a TEE'})),
		h('div', {class: 'info-cards'},
			card('SKU', works ? 'Confidential' : 'Standard (No TEE)', works),
			card('Hardware', works ? (d.hardware || 'AMD SEV-SNP') : 'No Hardware Security', works),
			card('Attestation', works ? (d.attestation_service || 'MAA') : 'Not Available', works)),
		h('div', {id: 'liveAttestation', class: 'live-status ' + (works ? 'ok' : 'bad')},
			h('strong', {text: `Live Attestation Status: ${works ? 'VERIFIED' : 'FAILED'}`}),
			!works && reason ? h('p', {text: 'Reason: ' + reason}) : null,
			!works && solution ? h('p', {text: 'Solution: ' + solution}) : null,
			!works && st.attestation_error && st.attestation_error !== reason
				? collapsible('Technical detail', h('p', {class: 'mono', text: st.attestation_error}), false) : null),
		timingChips([['live check', r.ms]]),
		features.length ? h('ul', {class: 'info-features'}, features.map((f) => {
			const bad = /NOT|FAILED/.test(String(f));
			return h('li', {class: bad ? 'bad' : 'ok'}, bad ? '✗ ' : '✓ ', String(f));
		})) : null,
		kvTable([
			['Platform', d.platform],
			['SKU (reported)', d.sku],
			['Platform status', st.platform_status],
			['Attestation path', st.attestation_backend ? `${st.attestation_backend} (evidence: ${st.evidence_source || 'none'})` : undefined],
			['Sidecar', st.sidecar_available === undefined ? undefined
				: st.sidecar_available ? 'available'
					: works ? 'not used (this instance attests natively)' : 'not available'],
			['Attestation service', d.diagnostics ? d.diagnostics.maa_endpoint : undefined, {mono: true}],
			['Note', d.diagnostics ? d.diagnostics.note : undefined],
		], 'compact'));
	if (works) showAttestationSuccess(emulated);
	else showAttestationFailure(reason, solution);
	noteLiveAttestation(works, reason);
	return d;
}

// Natively attesting, the sidecar is simply not needed: that is a healthy state, not a warning.
function sidecarStatus(skr) {
	if (skr.mode === 'native' && skr.running) {
		return h('p', {class: 'ok'}, '✓ Not needed: ', skr.explanation || 'this instance attests natively.');
	}
	if (skr.running) return h('p', {class: 'ok', text: `✓ Running (HTTP ${skr.status_code ?? 200})`});
	return h('div', {class: 'status-block'},
		h('p', {class: 'bad', text: '✗ Not running'}),
		skr.explanation ? h('p', {text: skr.explanation}) : null,
		skr.solution ? h('p', {}, h('strong', {text: 'What to do: '}), skr.solution) : null,
		skr.reason || skr.technical_detail ? collapsible('Technical detail', kvTable([['Reason', skr.reason],
			['Address', skr.technical_detail, {mono: true}]], 'compact'), false) : null);
}

export async function loadContainerInfo() {
	const out = $('containerInfo');
	const r = await api('GET', '/container/info');
	if (!r.ok) {
		show(out, errorBox('Container information unavailable', r));
		return;
	}
	const d = r.data;
	const os = d.os || {};
	const ab = d.attestation_backend && typeof d.attestation_backend === 'object' ? d.attestation_backend : null;
	if (ab && ab.emulated) setEmulated('container info');
	const parts = [
		h('h4', {text: 'Container'}),
		kvTable([
			['Image', d.image],
			['Image digest', d.image_digest ?? 'not reported'],
			['Container id', d.container_id, {mono: true}],
			['Hostname', d.hostname],
			['OS', os.pretty_name || [os.name, os.version].filter(Boolean).join(' ') || undefined],
			['TEE device', d.tee_device],
		], 'compact'),
	];
	if (ab) {
		parts.push(h('h4', {text: 'Attestation path'}), kvTable([
			['Configured', ab.configured], ['Selected', ab.selected],
			['Evidence source', ab.evidence_source ?? 'none'],
			['Emulated', ab.emulated ? 'yes: virtual SEV-SNP' : 'no'],
			['Attestation service', ab.maa_endpoint, {mono: true}],
		], 'compact'));
	}
	parts.push(h('h4', {text: 'SKR sidecar'}), sidecarStatus(d.skr_status || {}));
	const dev = d.sev_device;
	if (dev && typeof dev === 'object') {
		parts.push(h('h4', {text: 'SEV device'}), kvTable([
			['Status', badge(dev.available === true, '✓ available', '✗ not available')],
			['Device', dev.device_path ?? undefined, {mono: true}],
			['Provider', dev.provider ?? undefined],
			['Emulated', dev.emulated === undefined ? undefined : dev.emulated ? 'yes (virtual SEV-SNP)' : 'no'],
			['Device info', deviceInfoText(dev.device_info)],
			['Explanation', dev.explanation ?? undefined],
		], 'compact'));
	}
	const bin = d.skr_binary_info;
	if (bin && typeof bin === 'object') {
		parts.push(h('h4', {text: 'SKR binary'}), bin.error ? h('p', {class: 'muted', text: bin.error})
			: kvTable(Object.entries(bin).map(([k, v]) => [k, v]), 'compact'));
	}
	const sums = d.app_checksums && typeof d.app_checksums === 'object' ? Object.entries(d.app_checksums) : [];
	if (sums.length) {
		sums.sort((a, b) => a[0].localeCompare(b[0]));
		parts.push(h('h4', {text: 'Application files'}), h('div', {class: 'table-wrap'}, h('table', {class: 'checksums'},
			h('thead', {}, h('tr', {}, ['File', 'MD5', 'SHA-256', 'Size'].map((t) => h('th', {text: t})))),
			h('tbody', {}, sums.map(([path, f]) => h('tr', {},
				h('td', {class: 'mono', text: path}), h('td', {class: 'mono', text: f.md5 || ''}),
				h('td', {class: 'mono', title: f.sha256 || '', text: f.sha256 ? String(f.sha256).slice(0, 16) + '…' : ''}),
				h('td', {class: 'nowrap', text: f.size_bytes ?? ''})))))));
	}
	parts.push(collapsible('Full response', preBlock(pretty(d)), false));
	show(out, ...parts);
}
