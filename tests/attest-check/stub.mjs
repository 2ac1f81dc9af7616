// A hostile instance for attest-check's tests: answers POST /<mode>/attest/maa (and /attest/raw)
// the way a compromised or misconfigured instance might, and is its own little "attestation
// service" (OpenID metadata + /certs at its root) so that some tokens verify under --maa <stub>.
//
//   node stub.mjs PORT CAPTURED_TOKEN_FILE CONTOSO_URL FABRIKAM_URL
//
// CAPTURED_TOKEN_FILE holds a real token Contoso issued for an old nonce. GET /stats says how often
// /certs was fetched (a token's jku must never be followed). Binds 127.0.0.1 only.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [port, capturedFile, contoso, fabrikam] = process.argv.slice(2);
const captured = fs.readFileSync(capturedFile, 'utf8').trim();
const self = `http://127.0.0.1:${port}`;
const {privateKey, publicKey} = crypto.generateKeyPairSync('rsa', {modulusLength: 2048});
const kid = 'stub-' + crypto.createHash('sha256').update(publicKey.export({type: 'spki', format: 'der'}))
	.digest('hex').slice(0, 16);
const stats = {certs: 0, openid: 0};

const b64url = (b) => Buffer.from(b).toString('base64url');
const part = (i) => JSON.parse(Buffer.from(captured.split('.')[i], 'base64url').toString('utf8'));

function sign(header, payload) {
	const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
	return `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), privateKey))}`;
}

// The captured claims, made to look fresh for this request's runtime data.
function freshClaims(runtimeB64, iss) {
	const bytes = Buffer.from(runtimeB64 || '', 'base64');
	const c = part(1);
	c['x-ms-runtime'] = JSON.parse(bytes.toString('utf8'));
	c['x-ms-sevsnpvm-reportdata'] = crypto.createHash('sha256').update(bytes).digest('hex') + '0'.repeat(64);
	const now = Math.floor(Date.now() / 1000);
	Object.assign(c, {iat: now, nbf: now, exp: now + 3600});
	if (iss) c.iss = iss;
	return c;
}

const ownHeader = {alg: 'RS256', jku: `${self}/certs`, kid, typ: 'JWT'};

// mode -> (runtime_data) => token, or {status, body} for a whole answer.
const modes = {
	replay: () => captured,
	'alg-none': (rt) => `${b64url(JSON.stringify({alg: 'none', typ: 'JWT'}))}.${b64url(JSON.stringify(freshClaims(rt)))}.`,
	// Fresh claims under the real service's header and old signature.
	tampered: (rt) => {
		const [h, , s] = captured.split('.');
		return `${h}.${b64url(JSON.stringify(freshClaims(rt)))}.${s}`;
	},
	'other-issuer': (rt) => sign(ownHeader, freshClaims(rt, self)),
	// The real issuer's name, the stub's key, and a jku pointing at the stub.
	'jku-trap': (rt) => sign(ownHeader, freshClaims(rt)),
	foreign: (rt) => sign(ownHeader, freshClaims(rt, 'https://attest.evil.example')),
	lookalike: (rt) => sign(ownHeader, freshClaims(rt, 'https://sharedeus.eus.attest.azure.net.evil.example')),
	'with-port': (rt) => sign(ownHeader, freshClaims(rt, 'https://sharedeus.eus.attest.azure.net:8443')),
	'plain-http': (rt) => sign(ownHeader, freshClaims(rt, 'http://sharedeus.eus.attest.azure.net')),
	escape: (rt) => sign(ownHeader, freshClaims(rt, 'https://\u001b]0;pwned\u0007\u001b[31mred.example\u009b2J')),
	'dead-maa': (rt) => sign(ownHeader, freshClaims(rt, `http://127.0.0.1:${process.env.DEAD_PORT}`)),
	// Valid tokens from the stub as issuer (trusted with --maa <stub>), one claim wrong each.
	valid: (rt) => sign(ownHeader, freshClaims(rt, self)),
	debug: (rt) => sign(ownHeader, {...freshClaims(rt, self), 'x-ms-sevsnpvm-is-debuggable': true}),
	'no-debug-claim': (rt) => {
		const c = freshClaims(rt, self);
		delete c['x-ms-sevsnpvm-is-debuggable'];
		return sign(ownHeader, c);
	},
	cvm: (rt) => sign(ownHeader, {...freshClaims(rt, self), 'x-ms-compliance-status': 'azure-compliant-cvm'}),
	sgx: (rt) => sign(ownHeader, {...freshClaims(rt, self), 'x-ms-attestation-type': 'sgx'}),
	expired: (rt) => sign(ownHeader, {...freshClaims(rt, self), exp: Math.floor(Date.now() / 1000) - 3600}),
	// The right nonce echoed, but report_data of the old evidence.
	'old-evidence': (rt) => sign(ownHeader, {...freshClaims(rt, self),
		'x-ms-sevsnpvm-reportdata': part(1)['x-ms-sevsnpvm-reportdata']}),
	'no-token': () => ({status: 200, body: {status: 'success'}}),
	garbage: () => ({status: 200, body: {status: 'success', attestation_token: 'not.a-jwt'}}),
	gateway: () => ({status: 504, body: {status: 'error', message: 'the attestation service did not answer'}}),
};

async function proxy(target, path, body) {
	const r = await fetch(target + path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body});
	return {status: r.status, body: await r.json()};
}

// /attest/raw per mode: "mixed" takes Fabrikam's report (another launch) for Contoso's token.
async function raw(mode, body) {
	if (mode === 'mixed') return proxy(fabrikam, '/attest/raw', body);
	const r = await proxy(contoso, '/attest/raw', body);
	if (mode === 'no-chain') delete r.body.vcek_chain_pem;
	return r;
}

function send(res, status, obj) {
	const text = JSON.stringify(obj);
	res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text)});
	res.end(text);
}

const server = http.createServer((req, res) => {
	let body = '';
	req.on('data', (d) => { body += d; });
	req.on('end', async () => {
		try {
			const u = new URL(req.url, self);
			if (u.pathname === '/.well-known/openid-configuration') {
				stats.openid++;
				return send(res, 200, {issuer: self, jwks_uri: `${self}/certs`});
			}
			if (u.pathname === '/certs') {
				stats.certs++;
				const jwk = publicKey.export({format: 'jwk'});
				return send(res, 200, {keys: [{kid, kty: 'RSA', n: jwk.n, e: jwk.e}]});
			}
			if (u.pathname === '/stats') return send(res, 200, stats);
			const m = /^\/([a-z-]+)\/attest\/(maa|raw)$/.exec(u.pathname);
			if (!m || req.method !== 'POST') return send(res, 404, {status: 'error', message: 'no such path'});
			const [, mode, what] = m;
			if (what === 'raw') {
				const r = await raw(mode, body);
				return send(res, r.status, r.body);
			}
			if (mode === 'mixed' || mode === 'no-chain') return send(res, ...Object.values(await proxy(contoso, '/attest/maa', body)));
			const f = modes[mode];
			if (!f) return send(res, 404, {status: 'error', message: `no mode ${mode}`});
			const out = f(JSON.parse(body || '{}').runtime_data);
			if (typeof out === 'string') return send(res, 200, {status: 'success', attestation_token: out});
			return send(res, out.status, out.body);
		} catch (err) {
			send(res, 500, {status: 'error', message: String(err && err.stack || err)});
		}
	});
});
server.listen(Number(port), '127.0.0.1', () => console.log(`stub listening on ${self}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
