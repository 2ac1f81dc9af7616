// Multi-party view: fills the three panes from the #mp-config JSON block (written by
// arm/deploy.sh with Azure URLs) or, when that is absent, from this page's own port (make run).

function localDefaults() {
	const port = parseInt(location.port, 10);
	if (!/^https?:$/.test(location.protocol) || !port) return null;
	const base = (p) => `${location.protocol}//${location.hostname}:${p}/`;
	return {
		contoso: {url: base(port + 1), key: 'contoso-secret-key', vault: base(port + 21).replace(/\/$/, '')},
		fabrikam: {url: base(port + 2), key: 'fabrikam-secret-key', vault: base(port + 22).replace(/\/$/, '')},
		snooper: {url: base(port + 3), key: 'contoso-secret-key', vault: base(port + 21).replace(/\/$/, '')},
	};
}

function readConfig() {
	const el = document.getElementById('mp-config');
	const text = el ? el.textContent.trim() : '';
	if (!text) return {config: localDefaults(), source: 'local'};
	try {
		const c = JSON.parse(text);
		if (c && typeof c === 'object') return {config: c, source: 'config'};
	} catch (err) {
		return {config: null, error: 'The #mp-config block is not valid JSON: ' + err.message};
	}
	return {config: null, error: 'The #mp-config block is not a JSON object.'};
}

// Only http(s) URLs may be framed or linked.
function safeUrl(u) {
	try {
		const url = new URL(String(u), location.href);
		return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
	} catch {
		return null;
	}
}

function fill(name, pane, c) {
	const label = pane.querySelector('.mp-key');
	const link = pane.querySelector('.mp-open');
	const frame = pane.querySelector('iframe');
	const url = c && safeUrl(c.url);
	if (!url) {
		label.textContent = 'no URL configured';
		frame.remove();
		return;
	}
	const key = c.key || '(key not set)';
	const vault = c.vault || '(vault not set)';
	label.textContent = name === 'snooper' ? `🔒 ${key} (ACCESS DENIED) · ${vault}` : `🔑 ${key} · ${vault}`;
	link.href = url;
	frame.src = url;
}

function init() {
	const {config, error} = readConfig();
	const grid = document.getElementById('mpGrid');
	if (!config) {
		const msg = document.createElement('p');
		msg.className = 'mp-error';
		msg.textContent = error || 'No pane URLs: open this page from `make run` (http://127.0.0.1:8000/) ' +
			'or let arm/deploy.sh write the #mp-config block.';
		grid.before(msg);
	}
	for (const pane of document.querySelectorAll('.mp-pane')) {
		const name = pane.dataset.pane;
		fill(name, pane, config ? config[name] : null);
	}
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
