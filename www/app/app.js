// The web client: one page, hash routes, the API under /api/v1 (same origin).
// core.js holds the tokens, the API call, the DOM helpers and the route table;
// each page module below adds its routes to it:
//   viewer.js   sign up / log in, catalogue, details, plans, player
//   account.js  the account: plan, devices, sessions, history, parental controls, downloads
//   admin.js    the admin dashboard
import { routes, leaving, renderNav, main, newPage } from './core.js';
import './viewer.js';
import './account.js';
import './admin.js';

async function route() {
	const hash = location.hash.replace(/^#/, '') || '/';
	const [path, query] = hash.split('?');
	const params = new URLSearchParams(query || '');
	newPage();
	await leaving(path);
	renderNav();
	for (const [pattern, page] of routes) {
		const m = path.match(pattern);
		if (m) return page(...m.slice(1).map(decodeURIComponent), params);
	}
	return routes.find(([p]) => p.test('/'))[1](params);
}

// focus moves to the new page's content (a form focuses its first field itself)
window.addEventListener('hashchange', () => { main().focus({ preventScroll: true }); route(); });
route();
