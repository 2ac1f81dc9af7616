// What each claim of an attestation token means, grouped by what it tells a relying party.
// The names are the ones Microsoft Azure Attestation issues for SEV-SNP containers
// (PROTOCOLS.md §4); the words are ours.
import {h} from './dom.js';

export const CLAIM_GROUPS = [
	{
		title: 'Is it a real TEE?',
		intro: 'What kind of hardware produced the evidence, and whether the platform around the container is one Azure vouches for.',
		claims: [
			['x-ms-attestation-type', 'TEE type',
				'The kind of evidence the service checked. "sevsnpvm" means a report signed inside an AMD processor by a key unique to that chip (the VCEK), chained to AMD\'s root.'],
			['x-ms-compliance-status', 'Platform compliance',
				'"azure-compliant-uvm": the small utility VM that hosts the container is an image Azure builds, measures and publishes for confidential containers.'],
			['x-ms-sevsnpvm-launchmeasurement', 'Launch measurement',
				'A digest of the firmware, kernel and initial file system loaded into encrypted memory at launch. Change one byte of the boot chain and this value changes.'],
			['x-ms-sevsnpvm-microcode-svn', 'Microcode SVN',
				'Security version of the CPU microcode. With the other version numbers it lets a verifier refuse chips whose firmware has known flaws.'],
			['x-ms-sevsnpvm-snpfw-svn', 'SEV-SNP firmware SVN', 'Security version of the AMD Secure Processor\'s SEV-SNP firmware.'],
			['x-ms-sevsnpvm-bootloader-svn', 'Bootloader SVN', 'Security version of the Secure Processor\'s bootloader.'],
			['x-ms-sevsnpvm-tee-svn', 'PSP OS SVN', 'Security version of the Secure Processor\'s own operating system.'],
		],
	},
	{
		title: 'Can anyone look inside?',
		intro: 'The launch policy the hardware enforces: these decide whether the host (or its operator) could read or move the guest\'s memory.',
		claims: [
			['x-ms-sevsnpvm-is-debuggable', 'Debuggable',
				'false: the launch policy forbids the debug interface, so the host cannot decrypt or alter the guest\'s memory. A debuggable VM would be a TEE in name only.'],
			['x-ms-sevsnpvm-migration-allowed', 'Migration allowed',
				'false: no migration agent may move the VM, so its encrypted memory never leaves this chip.'],
			['x-ms-sevsnpvm-smt-allowed', 'SMT allowed',
				'Whether hyper-threading is on. Sibling threads share a core, which some side-channel attacks need; a stricter policy can forbid it.'],
			['x-ms-sevsnpvm-vmpl', 'VMPL',
				'The privilege level inside the VM that asked for the report; 0 is the most privileged (the guest kernel).'],
		],
	},
	{
		title: 'What is allowed to run?',
		intro: 'The container group\'s confidential computing policy, fixed at launch. This is what ties the token to one deployment.',
		claims: [
			['x-ms-sevsnpvm-hostdata', 'host_data (policy hash)',
				'SHA-256 of the container group\'s confidential computing policy: which images, commands and environment variables may run. The key\'s release policy pins this value, so only this exact deployment gets the key.'],
			['x-ms-sevsnpvm-guestsvn', 'Guest SVN', 'A security version the VM\'s owner chose at launch.'],
			['x-ms-sevsnpvm-familyId', 'Family id', 'Optional identity the owner may sign into the launch; all zeros when none was given.'],
			['x-ms-sevsnpvm-imageId', 'Image id', 'Optional image identity signed at launch; all zeros when none was given.'],
			['x-ms-sevsnpvm-idkeydigest', 'ID key digest', 'Digest of the key that signed the launch identity, if any.'],
			['x-ms-sevsnpvm-authorkeydigest', 'Author key digest', 'Digest of the key that signed the ID key, if any.'],
			['x-ms-policy-hash', 'Attestation policy hash', 'Hash of the attestation service\'s own policy that evaluated this evidence.'],
		],
	},
	{
		title: 'Is it fresh, and for this request?',
		intro: 'Without binding, an old token could be replayed. The report carries data the container chose for this very request.',
		claims: [
			['x-ms-sevsnpvm-reportdata', 'report_data',
				'64 bytes the container put into the report: the SHA-256 of the runtime data below, then zeros. The server checks the two match, so this token answers this request only.'],
			['x-ms-runtime', 'Runtime data',
				'The data the container sent along (here a timestamp; for key release, the public half of a key generated inside the TEE, so the vault can wrap the released key to it).'],
			['x-ms-sevsnpvm-reportid', 'Report id', 'A random id the firmware gave this VM at launch; every report of the VM carries it.'],
			['nonce', 'Nonce', 'A value the attestation service adds to make each token unique.'],
		],
	},
	{
		title: 'Who says so, and until when?',
		intro: 'The token is only as good as its signature: the server checked it with the attestation service\'s published keys.',
		claims: [
			['iss', 'Issuer', 'The attestation service that signed the token; its signing keys are published at <issuer>/certs.'],
			['iat', 'Issued at', 'When the token was issued.'],
			['nbf', 'Not before', 'The token is not valid before this time.'],
			['exp', 'Expires', 'The token is not valid after this time (8 hours after issue).'],
			['jti', 'Token id', 'A unique id for this token.'],
			['x-ms-ver', 'Claim set version', 'Version of the claim set.'],
			['x-demo-emulated', 'Emulated (local demo only)',
				'Set only by the local stand-ins: the evidence came from the virtual SEV-SNP host, not from AMD hardware. A production verifier never accepts it.'],
			['x-demo-emulated-root', 'Emulated root (local demo only)', 'The report\'s certificate chain ends in the local test root, not AMD\'s.'],
		],
	},
];

function fmtValue(k, v) {
	if ((k === 'iat' || k === 'nbf' || k === 'exp') && typeof v === 'number') {
		return `${v} (${new Date(v * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')})`;
	}
	return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function valueClass(k, v) {
	if (k === 'x-ms-sevsnpvm-is-debuggable' || k === 'x-ms-sevsnpvm-migration-allowed')
		return v === false || v === 'false' ? 'ok' : 'bad';
	if (k === 'x-ms-compliance-status') return v === 'azure-compliant-uvm' ? 'ok' : 'warn';
	if (k === 'x-ms-attestation-type') return v === 'sevsnpvm' ? 'ok' : 'bad';
	if (k === 'x-demo-emulated' || k === 'x-demo-emulated-root') return v === true ? 'warn' : '';
	return '';
}

// The claims, grouped and explained; claims the dictionary does not know are listed last.
export function claimsExplained(claims) {
	const known = new Set();
	const out = [];
	for (const [gi, g] of CLAIM_GROUPS.entries()) {
		const items = [];
		for (const [k, label, means] of g.claims) {
			known.add(k);
			if (claims[k] === undefined) continue;
			const cls = valueClass(k, claims[k]);
			items.push(h('dt', {'data-claim': k}, h('code', {text: k}), h('span', {class: 'claim-label', text: label})),
				h('dd', {}, h('span', {class: 'claim-value' + (cls ? ' ' + cls : ''), text: fmtValue(k, claims[k])}),
					h('span', {class: 'claim-means', text: means})));
		}
		// The first three groups answer what a relying party asks first; the rest fold away.
		if (items.length) {
			out.push(h('details', {class: 'claim-group', open: gi < 3}, h('summary', {}, h('h4', {text: g.title})),
				h('p', {text: g.intro}), h('dl', {class: 'claims'}, items)));
		}
	}
	const rest = Object.keys(claims).filter((k) => !known.has(k));
	if (rest.length) {
		out.push(h('details', {class: 'claim-group'}, h('summary', {}, h('h4', {text: 'Other claims'})),
			h('dl', {class: 'claims'}, rest.map((k) => [h('dt', {'data-claim': k}, h('code', {text: k})),
				h('dd', {}, h('span', {class: 'claim-value', text: fmtValue(k, claims[k])}))]))));
	}
	return out;
}
