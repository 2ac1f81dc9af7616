// Entry point of one instance's page: wires the controls (ids kept from the original page) and
// loads the configuration, deployment and container information.
import {$, h, show, api} from './dom.js';
import {state, guarded, setEmulated} from './common.js';
import {requestToken, requestRaw} from './attest.js';
import {renderSkrConfig, releaseKey, policyCheck, renderOtherCompany, attemptOther} from './skr.js';
import {checkCompany, onProtectToggle, saveRecord, populate, clearRecords, listRecords, toggleDecrypt,
	enableEncryption, setEncryptTitle, onPlaintextInput} from './data.js';
import {loadStorageConfig, listBlobs, startSnooperMode} from './storage.js';
import {loadInfo, loadContainerInfo} from './platform.js';

const started = Date.now();

function tick() {
	const s = Math.floor((Date.now() - started) / 1000);
	const hh = Math.floor(s / 3600);
	const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
	const ss = String(s % 60).padStart(2, '0');
	$('pageTimer').textContent = hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

function on(id, event, target, fn) {
	$(id).addEventListener(event, guarded(target, fn));
}

function wire() {
	on('attestBtn', 'click', 'attestResult', requestToken);
	on('rawBtn', 'click', 'rawResult', requestRaw);
	on('skrBtn', 'click', 'skrResult', () => releaseKey(afterRelease));
	on('policyOwnBtn', 'click', 'policyResult', () => policyCheck('own'));
	on('policyOtherBtn', 'click', 'policyResult', () => policyCheck('other'));
	on('attemptOtherKeyBtn', 'click', 'otherCompanyResult', attemptOther);
	on('saveDataBtn', 'click', 'protectStatus', saveRecord);
	on('populateDbBtn', 'click', 'protectStatus', populate);
	on('clearDataBtn', 'click', 'protectStatus', clearRecords);
	on('listDataBtn', 'click', 'recordsView', listRecords);
	on('decryptToggleBtn', 'click', 'recordsView', toggleDecrypt);
	on('listBlobsBtn', 'click', 'blobList', listBlobs);
	on('protectSection', 'toggle', 'protectStatus', onProtectToggle);
	on('plaintextInput', 'input', 'encryptMeta', onPlaintextInput);
	for (const id of ['recordName', 'recordPhone']) {
		$(id).addEventListener('keydown', (ev) => {
			if (ev.key === 'Enter') $('saveDataBtn').click();
		});
	}
}

async function afterRelease() {
	enableEncryption();
	await checkCompany();
}

async function loadConfig() {
	const r = await api('GET', '/skr/config');
	if (!r.ok) {
		renderSkrConfig(null);
		return null;
	}
	const c = r.data;
	state.config = c;
	state.snooper = c.is_confidential === false;
	if (c.emulated === true) setEmulated('key release configuration');
	renderSkrConfig(c);
	renderOtherCompany(c);
	if (c.company_name) {
		const b = $('companyBadge');
		b.hidden = false;
		if (state.snooper) show(b, 'Snooper: configured with ', h('strong', {text: c.company_name}), '\'s settings');
		else show(b, h('strong', {text: c.company_name}));
		setEncryptTitle(c.company_name);
		document.title = `${c.company_name}: Confidential ACI Attestation Demo`;
	}
	if (state.snooper) snooperPage(c);
	return c;
}

// The snooper runs the same page with Contoso's settings on standard hardware. It gets its own
// title and wording; what it cannot do is either hidden (encrypting, importing, the other
// company's key: all need a key) or explained as the point of the demo (attestation, key release).
function snooperPage(c) {
	document.body.classList.add('snooper');
	document.title = 'Snooper (no TEE): what an outsider sees · Confidential ACI demo';
	$('headerTitle').textContent = '⚠ Snooper: a standard Azure Container Instance';
	$('headerSubtitle').textContent = 'NOT running on confidential hardware: it cannot attest, so no vault releases it a key';
	for (const id of ['encryptSection', 'otherCompanySection', 'protectSection', 'whyBox']) $(id).hidden = true;
	$('rawBtn').hidden = true;
	$('attestBtn').textContent = 'Try to attest';
	$('attestExplain').textContent = `This container runs ${c.company_name || 'a company'}'s code and settings, but on ` +
		'standard hardware: there is no AMD Secure Processor to sign an attestation report. "Try to attest" makes ' +
		'the attempt and shows why it fails. That failure is the point: without a report there is no token, and ' +
		'without a token no key vault releases anything.';
	const box = $('noTeeBox');
	box.parentNode.insertBefore(box, box.parentNode.firstElementChild);
	setTimeout(guarded('interceptedView', startSnooperMode), 300);
}

async function loadKeyStatus() {
	if (state.snooper) return;
	const r = await api('GET', '/skr/key-status');
	if (r.ok && r.data.released === true) {
		if (typeof r.data.max_plaintext === 'number') state.maxPlaintext = r.data.max_plaintext;
		enableEncryption();
	}
}

async function init() {
	// Inside the multi-party view: a compact header so each pane shows more of the page.
	if (window.self !== window.top) document.body.classList.add('embedded');
	wire();
	tick();
	setInterval(tick, 1000);
	const run = (target, fn) => guarded(target, fn)();
	await run('skrConfig', loadConfig);
	await Promise.all([
		run('encryptMeta', loadKeyStatus),
		run('protectStatus', checkCompany),
		run('storageConfig', loadStorageConfig),
		run('containerInfo', loadContainerInfo),
		run('deploymentInfo', loadInfo),
	]);
	document.body.dataset.ready = '1';
}

// A bug in the page must still leave a readable message rather than a silent failure.
window.addEventListener('error', (ev) => {
	const note = $('pageError');
	if (note) note.textContent = 'Page error: ' + (ev.message || 'unknown');
});

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
