// The web client's core: the session's tokens, the API call, DOM helpers, the
// navigation bar and the route table every page module adds to (app.js wires
// them up). No inline scripts or styles (the page's CSP forbids them); the DOM
// is built with createElement and textContent, never from HTML strings.

const API = '/api/v1';
export const LEVELS = ['Free', 'Basic', 'Premium', 'Ultimate'];
export const PAGE_SIZE = 12;

// ------------------------------------------------------------------ state

export const store = {
	get token() { return sessionStorage.getItem('sp.token'); },
	get refresh() { return sessionStorage.getItem('sp.refresh'); },
	get user() {
		try { return JSON.parse(sessionStorage.getItem('sp.user') || 'null'); } catch { return null; }
	},
	save(data) {
		if (data.token) sessionStorage.setItem('sp.token', data.token);
		if (data.refreshToken) sessionStorage.setItem('sp.refresh', data.refreshToken);
		if (data.user) sessionStorage.setItem('sp.user', JSON.stringify(data.user));
	},
	clear() {
		['sp.token', 'sp.refresh', 'sp.user'].forEach((k) => sessionStorage.removeItem(k));
	},
};

// one id per browser, kept across sessions: the API counts devices by it
export function deviceId() {
	let id = localStorage.getItem('sp.deviceId');
	if (!id) {
		id = 'web-' + (crypto.randomUUID ? crypto.randomUUID()
			: Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(''));
		localStorage.setItem('sp.deviceId', id);
	}
	return id;
}

// ------------------------------------------------------------------ API

export class ApiError extends Error {
	constructor(status, body) {
		super((body && body.message) || `Request failed (${status})`);
		this.status = status;
		this.body = body || {};
		this.code = this.body.code || '';
	}
}

let refreshing = null;

async function refreshTokens() {
	const rt = store.refresh;
	if (!rt) return false;
	if (!refreshing) {
		refreshing = fetch(API + '/auth/refresh', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ refreshToken: rt }),
		}).then(async (r) => {
			if (!r.ok) return false;
			const j = await r.json();
			store.save(j.data || {});
			return true;
		}).catch(() => false).finally(() => { refreshing = null; });
	}
	return refreshing;
}

// api(method, path, body?) → the response's JSON envelope; throws ApiError.
// A 401 with a refresh token tries one refresh and repeats the request.
async function request(method, path, body, retried) {
	const headers = {};
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	if (store.token) headers.Authorization = 'Bearer ' + store.token;
	let r;
	try {
		r = await fetch(API + path, {
			method, headers, body: body === undefined ? undefined : JSON.stringify(body),
			keepalive: method === 'POST' && path === '/stream/stop',
		});
	} catch (e) {
		throw new ApiError(0, { message: 'The service cannot be reached. Check your connection.' });
	}
	let j = null;
	try { j = await r.json(); } catch { j = null; }
	if (r.status === 401 && !retried && store.token && path !== '/auth/refresh') {
		if (await refreshTokens()) return request(method, path, body, true);
		store.clear();
		renderNav();
	}
	if (!r.ok || !j || j.success === false) throw new ApiError(r.status, j);
	return j;
}

// Each page drawn gets a new number (app.js calls newPage before it routes).
// A read (GET) answered after the user moved on to another page is dropped:
// the page that asked is gone, and its answer or error must never paint over
// the new page. Writes always settle, so their callers learn the outcome.
let pageSeq = 0;

export function newPage() {
	pageSeq++;
}

export async function api(method, path, body) {
	const seq = pageSeq;
	const settle = await request(method, path, body, false).then((j) => () => j, (e) => () => { throw e; });
	if (method === 'GET' && seq !== pageSeq) return new Promise(() => {});
	return settle();
}

// ------------------------------------------------------------------ DOM helpers

export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else if (k === 'class') el.className = v;
		else el.setAttribute(k, v === true ? '' : v);
	}
	for (const c of children.flat()) {
		if (c === null || c === undefined || c === false) continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

export const main = () => document.getElementById('main');

export function show(title, ...nodes) {
	const m = main();
	m.replaceChildren(...nodes);
	document.title = title ? `${title} · Streaming` : 'Streaming';
	announce(title || 'Streaming');
}

export function announce(text) {
	const s = document.getElementById('status');
	if (s) s.textContent = text;
}

export function errorBox(err) {
	const box = h('div', { class: 'alert', role: 'alert' }, err.message);
	const fields = (err.body && err.body.errors) || [];
	if (fields.length) box.append(h('ul', {}, fields.map((f) => h('li', {}, `${f.field}: ${f.message}`))));
	return box;
}

export function field(label, name, type, extra) {
	const id = 'f-' + name;
	return h('div', { class: 'field' },
		h('label', { for: id }, label),
		h('input', { id, name, type, required: true, ...(extra || {}) }));
}

export function levelBadge(level) {
	return h('span', { class: 'badge level-' + String(level || 'Free').toLowerCase() }, level || 'Free');
}

// ------------------------------------------------------------------ nav

export function renderNav() {
	const nav = document.getElementById('nav');
	const u = store.user;
	if (store.token && u) {
		nav.replaceChildren(
			h('a', { href: '#/' }, 'Browse'),
			h('a', { href: '#/plans' }, 'Plans'),
			h('a', { href: '#/account' }, 'Account'),
			...(u.role === 'admin' ? [h('a', { href: '#/admin' }, 'Admin')] : []),
			h('span', { class: 'who' }, u.name || u.email),
			h('button', { type: 'button', class: 'link', id: 'logout', onclick: logout }, 'Log out'));
	} else {
		nav.replaceChildren(
			h('a', { href: '#/' }, 'Browse'),
			h('a', { href: '#/plans' }, 'Plans'),
			h('a', { href: '#/login' }, 'Log in'),
			h('a', { href: '#/signup', class: 'button small' }, 'Sign up'));
	}
}

export async function logout() {
	try { await api('POST', '/auth/logout', {}); } catch { /* the tokens are dropped either way */ }
	store.clear();
	renderNav();
	location.hash = '#/login';
}

// ------------------------------------------------------------------ routes

// The route table: [pattern, page]. A page gets the pattern's captures
// (decoded) and the hash's query parameters. Each page module adds its own
// routes when app.js imports it; the first match wins, and the catalogue is
// the fallback.
export const routes = [];

export function addRoute(pattern, page) {
	routes.push([pattern, page]);
}

// pages that hold something open (the player's session) register a leave
// hook, run before any other page is shown
const leaveHooks = [];

export function onLeave(hook) {
	leaveHooks.push(hook);
}

export async function leaving(path) {
	for (const hook of leaveHooks) await hook(path);
}
