// Secure key release: the configuration box, the release itself (public facts only), the
// release-policy dry run and the attempt on the other company's key.
import {$, h, show, api, kvTable, badge, collapsible, preBlock, pretty, timingFromServer, richText} from './dom.js';
import {state, busy, spinner, errorBox, logsPanel, sentence, whatHappened} from './common.js';

// JWK members that would mean private key material: never displayed, even if a server sent them.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

export function renderSkrConfig(c) {
	const box = $('skrConfig');
	if (!c) {
		show(box, h('p', {class: 'bad', text: 'The key release configuration could not be loaded.'}));
		return;
	}
	show(box,
		h('p', {class: 'config-label', text: 'Key'}),
		h('p', {class: 'config-key', text: c.key_name || '(not configured)'}),
		kvTable([
			['Company', c.company_name || undefined],
			['Key vault', c.akv_endpoint || '(not configured)', {mono: true}],
			['Attestation service', c.maa_endpoint || '(not configured)', {mono: true}],
			['This instance', c.is_confidential === false ? '✗ no TEE device (standard hardware)'
				: c.emulated ? '✓ virtual SEV-SNP device (emulated)' : '✓ SEV-SNP device present',
			{cls: c.is_confidential === false ? 'bad' : c.emulated ? 'warn' : 'ok'}],
		], 'compact'),
		c.configured === false ? h('p', {class: 'alert alert-warn',
			text: 'Key release is not configured: set SKR_KEY_NAME, SKR_AKV_ENDPOINT and SKR_MAA_ENDPOINT.'}) : null,
		c.is_confidential === false ? h('div', {class: 'alert alert-warn', id: 'snooperKeyNote'},
			h('p', {}, h('strong', {text: 'This is the point of the demo. '}),
				`This container has ${c.company_name || 'the company'}'s settings (the same key name, vault and attestation ` +
				'service), but it runs on standard hardware. The vault releases the key only against an attestation token ' +
				'that satisfies the key\'s release policy, and this container cannot produce one: it has no AMD SEV-SNP ' +
				'processor to sign a report (see Remote Attestation above). Its own managed identity has no access to ' +
				'any key either.'),
			h('p', {}, 'So no release is attempted from this page. From a shell you can see the refusal yourself: ',
				h('code', {text: `curl -s -X POST ${location.origin}/skr/release`}), '.')) : null);
	$('skrBtn').disabled = c.configured === false;
	if (c.is_confidential === false) {
		$('skrBtn').hidden = true;
		$('policyCheckPanel').hidden = true;
	}
}

export async function releaseKey(onReleased) {
	const out = $('skrResult');
	await busy($('skrBtn'), 'Releasing key…', async () => {
		show(out, spinner('Attesting, then asking the key vault to release the key to this container…'));
		const r = await api('POST', '/skr/release');
		if (!(r.ok && r.data.status === 'success')) {
			show(out, errorBox('Secure key release failed', r),
				whatHappened('the vault did not release the key, so nothing on this instance can decrypt the company\'s records.'),
				logsPanel(r.data && r.data.logs, true));
			return;
		}
		renderRelease(out, r);
		state.keyReleased = true;
		noteLimits(r.data.max_plaintext_oaep, r.data.max_plaintext);
		await onReleased();
	});
}

function limitsText(oaep, overall) {
	if (typeof oaep === 'number' && typeof overall === 'number')
		return `${oaep} bytes with RSA-OAEP directly; up to ${overall} bytes with envelope encryption`;
	if (typeof overall === 'number') return `${overall} bytes with RSA-OAEP directly; longer data uses envelope encryption`;
	return undefined;
}

function renderRelease(out, r) {
	const d = r.data;
	const key = d.key && typeof d.key === 'object' ? d.key : {};
	const leaked = PRIVATE_MEMBERS.filter((m) => key[m] !== undefined);
	const rows = [
		['Key name', key.name || d.key_name],
		['Key id (kid)', key.kid, {mono: true}],
		['Type', key.kty],
		['Size', key.size !== undefined ? `${key.size} bits` : undefined],
		['Public key thumbprint', key.thumbprint, {mono: true}],
		['Allowed operations', Array.isArray(key.key_ops) ? key.key_ops.join(', ') : undefined],
		['Key vault', d.akv_endpoint, {mono: true}],
		['Attestation service', d.maa_endpoint, {mono: true}],
		['Encryption limits', limitsText(d.max_plaintext_oaep, d.max_plaintext)],
		['Attestation path', d.backend ? `${d.backend} (evidence: ${d.evidence_source || 'n/a'})` : undefined],
		['Key wrapping', d.enc || undefined, {mono: true}],
	];
	const claims = d.claims && typeof d.claims === 'object' ? d.claims : null;
	show(out, h('div', {class: 'card card-ok'},
		h('h3', {text: '⚷ Key released to this container'}),
		h('p', {text: sentence(d.message || 'The key vault released the key after checking the attestation token')}),
		timingFromServer(d.timing_ms, r.ms),
		whatHappened('the container generated a fresh wrapping key inside the TEE and attested with its public half as ',
			'runtime data. The vault checked the token against the key\'s release policy (TEE type, no debugging, this ',
			'company\'s policy hash), then sent the key wrapped to that wrapping key. Only this container could ',
			'unwrap it: the key exists in the vault\'s HSM and in this TEE\'s encrypted memory, nowhere else.'),
		kvTable(rows.filter((x) => x[1] !== undefined && x[1] !== null), 'compact'),
		h('p', {class: 'alert alert-ok',
			text: 'The private key stays inside this container. This page only receives its public facts.'}),
		leaked.length ? h('p', {class: 'alert alert-danger',
			text: `The server sent private key members (${leaked.join(', ')}); they are not shown.`}) : null,
		typeof d.key === 'string' ? h('p', {class: 'note', text: 'The server returned the key as text; it is not shown.'}) : null,
		claims ? h('h4', {text: 'Attestation claims that satisfied the release policy'}) : null,
		claims ? kvTable(Object.entries(claims).map(([k, v]) =>
			[k, typeof v === 'object' ? JSON.stringify(v) : String(v), {mono: true}]), 'claims') : null,
		d.note ? h('p', {class: 'note', text: d.note}) : null,
		d.release_policy ? collapsible('Release policy of this key', preBlock(pretty(d.release_policy)), false) : null));
}

// The server names two limits: direct RSA-OAEP (…_oaep) and the overall one (envelope encryption).
// An older server sends only max_plaintext, which then is the direct limit.
export function noteLimits(oaep, overall) {
	if (typeof oaep === 'number') {
		state.maxPlaintext = oaep;
		if (typeof overall === 'number') state.hardMax = overall;
	} else if (typeof overall === 'number') {
		state.maxPlaintext = overall;
	}
}

// ---- release-policy dry run ----------------------------------------------------------------

const OPS = ['equals', 'notEquals', 'less', 'lessOrEquals', 'greater', 'greaterOrEquals', 'exists'];

function fmtVal(v) {
	if (v === undefined || v === null) return '(absent)';
	return typeof v === 'string' ? `"${v}"` : JSON.stringify(v);
}

function satisfiedIcon(s) {
	return h('span', {class: 'check-icon ' + (s === true ? 'ok' : s === false ? 'bad' : ''),
		text: s === true ? '✓' : s === false ? '✗' : '•'});
}

// The evaluation tree mirrors the release policy grammar (PROTOCOLS.md §5.4): groups with anyOf /
// allOf (and an authority at the top), leaves with a claim, an operator and the actual value.
function policyNode(n) {
	if (Array.isArray(n)) return h('ul', {class: 'policy-tree'}, n.map((c) => h('li', {}, policyNode(c))));
	if (!n || typeof n !== 'object') return h('span', {text: String(n)});
	const kids = [];
	let groupKind = null;
	for (const g of ['anyOf', 'allOf', 'conditions', 'children']) {
		if (Array.isArray(n[g])) {
			groupKind = g;
			kids.push(...n[g]);
		}
	}
	const sat = n.satisfied;
	const cls = 'policy-node ' + (sat === true ? 'ok' : sat === false ? 'bad' : '');
	if (n.claim !== undefined && !groupKind) {
		const op = n.operator || n.op || OPS.find((o) => n[o] !== undefined) || 'equals';
		const expected = n.expected !== undefined ? n.expected : n[op];
		return h('div', {class: cls},
			satisfiedIcon(sat), ' ', h('code', {text: n.claim}), ' ', h('em', {text: op}), ' ',
			op === 'exists' ? null : h('code', {text: fmtVal(expected)}),
			h('div', {class: 'policy-detail'}, 'actual: ', h('code', {text: fmtVal(n.actual)}),
				n.reason && n.reason !== 'ok' ? h('span', {text: ' — ' + n.reason}) : null));
	}
	const label = groupKind === 'anyOf' ? 'any of' : groupKind === 'allOf' ? 'all of' : 'conditions';
	return h('div', {class: cls},
		satisfiedIcon(sat), ' ',
		n.authority ? h('span', {}, 'authority ', h('code', {text: n.authority}),
			n.authority_matches !== undefined ? h('span', {text: n.authority_matches ? ' (matches the token issuer)' : ' (does NOT match the token issuer)'}) : null,
			' — ') : null,
		n.version ? h('span', {text: `policy ${n.version} — `}) : null,
		h('strong', {text: label}),
		n.reason ? h('span', {class: 'policy-detail', text: ' ' + n.reason}) : null,
		h('ul', {class: 'policy-tree'}, kids.map((c) => h('li', {}, policyNode(c)))));
}

// /skr/policy-check's status: what a reader should take from it, and whether it is good news.
const POLICY_STATUS = {
	would_release: {badge: '✓ Would release', cls: 'ok'},
	would_refuse: {badge: '✗ Would NOT release', cls: 'bad'},
	policy_hidden: {badge: '✓ Policy hidden from this identity', cls: 'ok'},
	no_policy: {badge: '? No readable release policy', cls: 'warn'},
	token_unverified: {badge: '✗ Own token did not verify', cls: 'bad'},
	vault_error: {badge: '? The vault could not be asked', cls: 'warn'},
};

function policyWhat(d, which) {
	const asked = which === 'other' ? 'the other company\'s vault' : 'this company\'s vault';
	switch (d.status) {
	case 'would_release':
	case 'would_refuse':
		return `this container got a fresh attestation token, read the key's release policy from ${asked} and ` +
			'evaluated the token against it condition by condition. Nothing was released' +
			(d.status === 'would_refuse' ? '; the first unmet condition is named below.' : '.');
	case 'policy_hidden':
		return `this container asked ${asked} to show the release policy of ${d.key_name || 'the key'} (reading a key ` +
			`needs the "get" permission), and the vault said no${d.vault_status ? ` (HTTP ${d.vault_status})` : ''}.`;
	default:
		return 'the dry run could not evaluate the policy; the message says why.';
	}
}

export async function policyCheck(which) {
	const btn = which === 'other' ? $('policyOtherBtn') : $('policyOwnBtn');
	const out = $('policyResult');
	await busy(btn, 'Evaluating…', async () => {
		show(out, spinner('Getting a fresh token and evaluating the key\'s release policy…'));
		const r = await api('POST', '/skr/policy-check', {key: which});
		if (!r.ok) {
			show(out, errorBox('Policy dry run failed', r));
			return;
		}
		const d = r.data;
		// An older server sends only would_release (true, false or null).
		if (!d.status) d.status = d.would_release === true ? 'would_release' : d.would_release === false ? 'would_refuse' : 'vault_error';
		const st = POLICY_STATUS[d.status] || POLICY_STATUS.vault_error;
		const ff = d.first_failure;
		const good = st.cls === 'ok';
		show(out, h('div', {class: 'card ' + (good ? 'card-ok' : 'card-bad'), 'data-policy-status': d.status},
			h('h3', {text: `Release policy of ${d.key_name || (which === 'other' ? 'the other company\'s key' : 'our key')}`}),
			h('div', {class: 'result-head'}, h('span', {class: `badge badge-${st.cls === 'ok' ? 'ok' : st.cls === 'bad' ? 'bad' : 'warn'}`, text: st.badge})),
			d.message ? h('p', {class: 'policy-message'}, richText(d.message)) : null,
			whatHappened(policyWhat(d, which)),
			timingFromServer(d.timing_ms, r.ms),
			ff && d.status === 'would_refuse' ? h('p', {class: 'alert alert-warn'}, h('strong', {text: 'First failing condition: '}),
				typeof ff === 'string' ? richText(ff) : h('span', {}, ff.claim ? h('code', {text: ff.claim}) : null,
					' ', ff.reason || JSON.stringify(ff))) : null,
			d.evaluation ? policyNode(d.evaluation) : null,
			d.detail ? collapsible('The vault\'s own words', preBlock(String(d.detail), 'wrap'), false) : null,
			d.note ? h('p', {class: 'note', text: d.note}) : null,
			d.policy ? collapsible('Policy document', preBlock(pretty(d.policy)), false) : null));
	});
}

// ---- the other company's key ---------------------------------------------------------------

export function renderOtherCompany(c) {
	const other = c && c.other_company;
	// The snooper holds no key of its own and cannot attest: there is nothing to compare.
	if (!other || c.is_confidential === false) return;
	state.otherCompany = other;
	$('otherCompanySection').hidden = false;
	$('policyOtherBtn').hidden = false;
	show($('otherCompanyBox'),
		h('div', {class: 'col col-ours'}, h('h4', {text: `✓ Ours: ${c.company_name || 'this company'}`}),
			kvTable([['Key', c.key_name, {mono: true}], ['Vault', c.akv_endpoint, {mono: true}]], 'compact')),
		h('div', {class: 'col col-theirs'}, h('h4', {text: `✗ Theirs: ${other.name || 'other company'}`}),
			kvTable([['Key', other.key_name, {mono: true}], ['Vault', other.akv_endpoint, {mono: true}]], 'compact')));
}

export async function attemptOther() {
	const out = $('otherCompanyResult');
	await busy($('attemptOtherKeyBtn'), 'Attempting…', async () => {
		show(out, spinner('Attesting, then asking the other company\'s vault for its key…'));
		const r = await api('POST', '/skr/release-other');
		const d = r.data || {};
		if (r.ok && d.status === 'access_denied') {
			show(out, h('div', {class: 'card card-ok denied'},
				h('h3', {text: '✓ Access Correctly Denied'}),
				h('p', {text: sentence(d.message || 'The other company\'s vault refused to release its key')}),
				timingFromServer(d.timing_ms, r.ms),
				whatHappened('this container, attested and holding its own key, asked the other company\'s vault for ',
					'that company\'s key. The vault refused: this container\'s identity is not in that vault\'s access ',
					'policy, and its attestation would not match that key\'s release policy anyway (it pins the other ',
					'company\'s container policy). Being a genuine TEE is not enough: it must be the right TEE.'),
				kvTable([
					['Attempted key', d.attempted_key, {mono: true}],
					['Attempted key vault', d.attempted_keyvault, {mono: true}],
					['Vault answered', d.http_status !== undefined ? `HTTP ${d.http_status}` : undefined],
					['Our company', d.our_company],
					['Other company', d.other_company],
				].filter((x) => x[1] !== undefined && x[1] !== null), 'compact'),
				d.explanation && d.stage !== 'vault' ? h('p', {class: 'note', text: d.explanation}) : null,
				d.error_detail ? collapsible('Vault\'s reason', preBlock(d.error_detail, 'wrap'), true) : null));
		} else if (r.ok && d.status === 'unexpected_success') {
			show(out, h('div', {class: 'alert alert-danger alert-big'},
				h('h3', {text: '⚠ SECURITY ALERT: the other company\'s key was released'}),
				h('p', {text: d.message || ''}),
				d.security_warning ? h('p', {text: d.security_warning}) : null,
				kvTable([['Key', d.other_key_name || d.attempted_key], ['Vault', d.attempted_keyvault]]
					.filter((x) => x[1]), 'compact')));
		} else {
			show(out, errorBox('The attempt could not be made', r), logsPanel(d.logs, true));
		}
	});
}
