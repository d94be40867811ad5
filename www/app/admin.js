// The admin dashboard: live metrics, content analytics (charts drawn with
// uPlot, vendored under /vendor/ and loaded on the analytics page only),
// accounts, the catalogue and the plans. Every page is for the admin role:
// anyone else gets the not-allowed page, and so does a 403 from the API.
import { LEVELS, store, api, h, show, errorBox, levelBadge, addRoute, onLeave, announce } from './core.js';

const TYPES = ['movie', 'series', 'documentary', 'short', 'trailer'];
const RESOLUTIONS = ['480p', '720p', '1080p', '4K'];
const REFRESH_MS = 5000;

// ------------------------------------------------------------------ shell

const TABS = [
	['dashboard', '#/admin', 'Dashboard'],
	['analytics', '#/admin/analytics', 'Analytics'],
	['users', '#/admin/users', 'Users'],
	['content', '#/admin/content', 'Content'],
	['plans', '#/admin/plans', 'Plans'],
];

function tabs(active) {
	return h('nav', { class: 'admin-tabs', 'aria-label': 'Admin sections' },
		TABS.map(([key, href, label]) => h('a', { href, 'aria-current': key === active ? 'page' : undefined }, label)));
}

// shows an admin page: the section tabs, then the nodes
function page(active, title, ...nodes) {
	show(title, h('div', { class: 'admin' }, tabs(active), ...nodes));
}

function notAllowed() {
	stopDashboard();
	show('Not allowed',
		h('section', { class: 'card narrow', id: 'not-allowed', 'aria-labelledby': 'na-h' },
			h('h1', { id: 'na-h' }, 'Not allowed'),
			h('p', {}, 'This area is for administrators. Your account does not have access to it.'),
			h('p', {}, h('a', { href: '#/', class: 'button' }, 'Back to browse'))));
}

// true when the page may be drawn; otherwise the login or not-allowed page is shown
function allowed() {
	if (!store.token || !store.user) { location.hash = '#/login'; return false; }
	if (store.user.role !== 'admin') { notAllowed(); return false; }
	return true;
}

// an API failure: a 403 (the role was taken away) shows the not-allowed page
// and answers null; anything else answers an error box to show in place
function failure(e) {
	if (e.status === 403 && e.code === 'FORBIDDEN') { notAllowed(); return null; }
	if (e.status === 401) { location.hash = '#/login'; return null; }
	return errorBox(e);
}

// replaceChildren, leaving out the nulls of conditional parts
function fill(el, ...nodes) {
	el.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

const loading = () => h('p', { class: 'muted' }, 'Loading…');
const num = (n) => Number(n || 0).toLocaleString('en-US');
const money = (amount, currency) => `${Number(amount || 0).toFixed(2)} ${currency || 'USD'}`;
const when = (t) => (t ? new Date(t).toLocaleString() : '—');

function table(caption, headers, rows, attrs) {
	return h('div', { class: 'table-box' },
		h('table', { class: 'data', ...(attrs || {}) },
			h('caption', {}, caption),
			h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
			h('tbody', {}, rows)));
}

function pager(p, href) {
	const link = (n, label) => h('a', { href: href(n), class: 'button ghost small', rel: label === 'Next' ? 'next' : 'prev' }, label);
	return h('nav', { class: 'pager', 'aria-label': 'Pages' },
		p.page > 1 ? link(p.page - 1, 'Previous') : h('span', {}),
		h('span', { class: 'muted' }, `Page ${p.page} of ${Math.max(1, p.pages)} · ${p.total} in all`),
		p.page < p.pages ? link(p.page + 1, 'Next') : h('span', {}));
}

function pageParam(params) {
	return Math.max(1, parseInt(params.get('page') || '1', 10) || 1);
}

// ------------------------------------------------------------------ dashboard

let dashTimer = null;

function stopDashboard() {
	if (dashTimer) { clearInterval(dashTimer); dashTimer = null; }
}

onLeave((path) => { if (path !== '/admin') stopDashboard(); });

function stat(id, label, value, hint) {
	return h('div', { class: 'stat card' },
		h('span', { class: 'stat-label', id: id + '-l' }, label),
		h('strong', { class: 'stat-value', id, 'aria-labelledby': id + '-l ' + id }, value),
		hint ? h('span', { class: 'muted fine' }, hint) : null);
}

function metricsView(m) {
	const ratio = m.cacheHitRatio === null || m.cacheHitRatio === undefined
		? '—' : `${(m.cacheHitRatio * 100).toFixed(1)} %`;
	const mrr = m.monthlyRecurringRevenue || {};
	const plans = m.subscriptionsByPlan || [];
	const most = Math.max(1, ...plans.map((p) => p.activeSubscriptions || 0));
	const top = m.topStreamers || [];
	const bars = plans.map((p) => {
		const fill = h('span', { class: 'bar-fill level-' + String(p.accessLevel || 'free').toLowerCase() });
		fill.style.width = `${Math.round(((p.activeSubscriptions || 0) / most) * 100)}%`;
		return h('tr', {},
			h('th', { scope: 'row' }, h('a', { href: '#/admin/plans/' + encodeURIComponent(p.planId) }, p.name)),
			h('td', {}, levelBadge(p.accessLevel)),
			h('td', { class: 'num' }, num(p.activeSubscriptions)),
			h('td', { class: 'bar-cell', 'aria-hidden': 'true' }, h('span', { class: 'bar' }, fill)));
	});
	return [
		h('div', { class: 'metric-grid', id: 'metrics' },
			stat('m-streams', 'Live streams', num(m.activeStreams)),
			stat('m-users', 'Streaming users', num(m.activeUsers)),
			stat('m-avg', 'Streams per user', Number(m.avgConcurrentStreams || 0).toFixed(2), 'average now'),
			stat('m-cache', 'Cache hit ratio', ratio, 'catalogue cache'),
			stat('m-mrr', 'Monthly recurring revenue', [Number(mrr.amount || 0).toFixed(2), h('span', { class: 'unit' }, ` ${mrr.currency || 'USD'}`)],
				(mrr.byCurrency || []).length > 1 ? mrr.byCurrency.map((c) => money(c.amount, c.currency)).join(' · ') : 'auto-renewing subscriptions')),
		h('div', { class: 'cols' },
			h('section', { 'aria-labelledby': 'top-h' },
				h('h2', { id: 'top-h' }, 'Top streamers'),
				top.length
					? table('Users with the most live streams', ['User', 'E-mail', 'Streams'], top.map((u) => h('tr', {},
						h('th', { scope: 'row' }, h('a', { href: userHref(u.email, u.userId) }, u.name || u.email)),
						h('td', {}, u.email),
						h('td', { class: 'num' }, num(u.activeStreams)))), { id: 'top-streamers' })
					: h('p', { class: 'muted', id: 'top-streamers' }, 'No one is streaming right now.')),
			h('section', { 'aria-labelledby': 'subs-h' },
				h('h2', { id: 'subs-h' }, 'Subscriptions per plan'),
				table('Subscriptions in force per plan', ['Plan', 'Level', 'Subscriptions', h('span', { class: 'visually-hidden' }, 'Share')], bars, { id: 'subs-by-plan' }))),
	];
}

async function dashboard() {
	if (!allowed()) return;
	stopDashboard();
	const body = h('div', { 'aria-busy': 'true' }, loading());
	const stamp = h('p', { class: 'muted fine', id: 'm-updated' });
	page('dashboard', 'Admin dashboard',
		h('div', { class: 'admin-head' }, h('h1', {}, 'Dashboard'), stamp), body);
	const load = async () => {
		if (document.hidden) return;
		try {
			const j = await api('GET', '/admin/metrics');
			if (!body.isConnected) { stopDashboard(); return; }
			fill(body, ...metricsView(j.data || {}));
			body.removeAttribute('aria-busy');
			stamp.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
		} catch (e) {
			if (!body.isConnected) { stopDashboard(); return; }
			const box = failure(e);
			if (!box) { stopDashboard(); return; }
			fill(body, box);
		}
	};
	await load();
	if (body.isConnected) dashTimer = setInterval(load, REFRESH_MS);
}

// ------------------------------------------------------------------ analytics

const DAY = 86400000;
const iso = (t) => new Date(t).toISOString().slice(0, 10);

// uPlot (tools/web → www/vendor), loaded once, on the first analytics page
let chartLib = null;
function loadChartLib() {
	if (window.uPlot) return Promise.resolve(window.uPlot);
	if (!chartLib) {
		chartLib = new Promise((resolve, reject) => {
			document.head.append(h('link', { rel: 'stylesheet', href: '/vendor/uPlot.min.css' }));
			const s = h('script', { src: '/vendor/uPlot.iife.min.js' });
			s.addEventListener('load', () => resolve(window.uPlot));
			s.addEventListener('error', () => { chartLib = null; reject(new Error('The chart library could not be loaded.')); });
			document.head.append(s);
		});
	}
	return chartLib;
}

// every row of the range (the API pages by 100)
async function analyticsRows(from, to) {
	const rows = [];
	let truncated = false;
	for (let pg = 1; ; pg++) {
		const j = await api('GET', `/admin/analytics/content?${new URLSearchParams({ from, to, page: String(pg), limit: '100' })}`);
		rows.push(...((j.data && j.data.rows) || []));
		const pages = (j.pagination && j.pagination.pages) || 1;
		if (pg >= pages) break;
		if (pg >= 50) { truncated = true; break; }
	}
	return { rows, truncated };
}

function summarise(rows, from, to) {
	const days = [];
	for (let t = Date.parse(from + 'T00:00:00Z'); t <= Date.parse(to + 'T00:00:00Z'); t += DAY) days.push(iso(t));
	const byDay = Object.fromEntries(days.map((d) => [d, { views: 0, watch: 0, viewers: 0, completions: 0 }]));
	const byTitle = new Map();
	for (const r of rows) {
		const d = byDay[r.date];
		if (d) { d.views += r.views || 0; d.watch += r.watchSeconds || 0; d.viewers += r.uniqueViewers || 0; d.completions += r.completions || 0; }
		const k = r.contentId;
		const t = byTitle.get(k) || { id: k, title: r.title || `Title ${k} (removed)`, views: 0, watch: 0, completions: 0 };
		t.views += r.views || 0; t.watch += r.watchSeconds || 0; t.completions += r.completions || 0;
		byTitle.set(k, t);
	}
	const top = [...byTitle.values()].sort((a, b) => b.views - a.views || b.watch - a.watch).slice(0, 10);
	return { days, byDay, top };
}

// whole numbers on a count axis
const COUNT_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];

const minutes = (s) => Math.round((s / 60) * 10) / 10;

function chartColors() {
	const css = getComputedStyle(document.documentElement);
	const v = (name, dflt) => (css.getPropertyValue(name) || dflt).trim();
	return { text: v('--muted', '#b4bac6'), grid: v('--line', '#2c313b'), a: v('--accent', '#4da3ff'), b: '#ffd166' };
}

function axis(c, extra) {
	return { stroke: c.text, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 }, ...extra };
}

// a chart that follows its box's width
function mount(box, make) {
	let u = null;
	const draw = () => {
		const cs = getComputedStyle(box);
		const w = Math.max(260, Math.floor(box.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)));
		if (!u) u = make(w);
		else if (u.width !== w) u.setSize({ width: w, height: u.height });
	};
	draw();
	const ro = new ResizeObserver(() => draw());
	ro.observe(box);
	return u;
}

function dailyChart(uPlot, box, s) {
	const c = chartColors();
	const xs = s.days.map((d) => Date.parse(d + 'T00:00:00Z') / 1000);
	const views = s.days.map((d) => s.byDay[d].views);
	const watch = s.days.map((d) => minutes(s.byDay[d].watch));
	return mount(box, (width) => new uPlot({
		width, height: 280,
		tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
		cursor: { drag: { x: false, y: false } },
		scales: { x: { time: true, range: (_u, lo, hi) => [lo - 43200, hi + 43200] }, views: { auto: true, range: (_u, lo, hi) => [0, Math.max(1, hi)] }, mins: { range: (_u, lo, hi) => [0, Math.max(1, hi)] } },
		series: [
			{ label: 'Day', value: (_u, v) => (v === null ? '—' : iso(v * 1000)) },
			{ label: 'Views', scale: 'views', stroke: c.a, fill: 'rgba(77, 163, 255, 0.35)', width: 1,
				paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } },
			{ label: 'Watch time (min)', scale: 'mins', stroke: c.b, width: 2, points: { show: true, size: 6, fill: c.b } },
		],
		axes: [
			axis(c, { incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 56 * 86400], space: 46,
				values: (_u, ticks) => ticks.map((t) => iso(t * 1000).slice(5)) }),
			axis(c, { scale: 'views', label: 'Views', labelSize: 20, incrs: COUNT_STEPS }),
			axis(c, { scale: 'mins', side: 1, label: 'Minutes', labelSize: 20, grid: { show: false } }),
		],
	}, [xs, views, watch], box));
}

function topChart(uPlot, box, top) {
	const c = chartColors();
	const xs = top.map((_t, i) => i + 1);
	const short = (t) => (t.length > 14 ? t.slice(0, 13) + '…' : t);
	return mount(box, (width) => new uPlot({
		width, height: 300,
		cursor: { drag: { x: false, y: false } },
		scales: { x: { time: false, range: [0.4, top.length + 0.6] }, y: { range: (_u, lo, hi) => [0, Math.max(1, hi)] } },
		series: [
			{ label: 'Title', value: (_u, v) => (v === null ? '—' : (top[v - 1] || {}).title) },
			{ label: 'Views', stroke: c.a, fill: 'rgba(77, 163, 255, 0.6)', width: 1,
				paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } },
		],
		axes: [
			axis(c, { splits: () => xs, values: (_u, ticks) => ticks.map((t) => (top[t - 1] ? `${t}. ${short(top[t - 1].title)}` : '')), rotate: -30, size: 90, grid: { show: false } }),
			axis(c, { label: 'Views', labelSize: 20, incrs: COUNT_STEPS }),
		],
	}, [xs, top.map((t) => t.views)], box));
}

async function analytics(params) {
	if (!allowed()) return;
	const yesterday = iso(Date.now() - DAY);
	const to = /^\d{4}-\d{2}-\d{2}$/.test(params.get('to') || '') ? params.get('to') : yesterday;
	const from = /^\d{4}-\d{2}-\d{2}$/.test(params.get('from') || '') ? params.get('from') : iso(Date.parse(to + 'T00:00:00Z') - 29 * DAY);
	const form = h('form', { class: 'range card', id: 'range-form', novalidate: true },
		h('div', { class: 'field' }, h('label', { for: 'a-from' }, 'From'), h('input', { id: 'a-from', name: 'from', type: 'date', value: from, required: true })),
		h('div', { class: 'field' }, h('label', { for: 'a-to' }, 'To'), h('input', { id: 'a-to', name: 'to', type: 'date', value: to, required: true })),
		h('button', { type: 'submit', class: 'button' }, 'Show'));
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		location.hash = '#/admin/analytics?' + new URLSearchParams({ from: form.from.value, to: form.to.value });
	});
	const body = h('div', { 'aria-busy': 'true' }, loading());
	page('analytics', 'Content analytics', h('h1', {}, 'Content analytics'),
		h('p', { class: 'muted' }, 'Daily aggregates per title (UTC days), as the worker\'s aggregate job wrote them; a day appears once it has been aggregated.'),
		form, body);
	let data;
	try {
		data = await analyticsRows(from, to);
	} catch (e) {
		const box = failure(e);
		if (box) { fill(body, box); body.removeAttribute('aria-busy'); }
		return;
	}
	if (!body.isConnected) return;
	const s = summarise(data.rows, from, to);
	const totalViews = data.rows.reduce((a, r) => a + (r.views || 0), 0);
	const totalWatch = data.rows.reduce((a, r) => a + (r.watchSeconds || 0), 0);
	const daily = h('div', { class: 'chart', id: 'chart-daily', role: 'img', 'aria-label': `Views and watch time per day from ${from} to ${to}; the table below lists the same numbers.` });
	const topBox = h('div', { class: 'chart', id: 'chart-top', role: 'img', 'aria-label': 'Views of the ten most viewed titles; the table below lists the same numbers.' });
	const dayRows = s.days.filter((d) => s.byDay[d].views || s.byDay[d].watch).map((d) => h('tr', {},
		h('th', { scope: 'row' }, d),
		h('td', { class: 'num' }, num(s.byDay[d].views)),
		h('td', { class: 'num' }, num(s.byDay[d].viewers)),
		h('td', { class: 'num' }, num(minutes(s.byDay[d].watch))),
		h('td', { class: 'num' }, num(s.byDay[d].completions))));
	const topRows = s.top.map((t, i) => h('tr', {},
		h('td', { class: 'num' }, String(i + 1)),
		h('th', { scope: 'row' }, h('a', { href: '#/admin/content/' + encodeURIComponent(t.id) }, t.title)),
		h('td', { class: 'num' }, num(t.views)),
		h('td', { class: 'num' }, num(minutes(t.watch))),
		h('td', { class: 'num' }, num(t.completions))));
	const nothing = !data.rows.length;
	fill(body,
		h('div', { class: 'metric-grid' },
			stat('a-views', 'Views', num(totalViews)),
			stat('a-watch', 'Watch time', `${num(minutes(totalWatch))} min`),
			stat('a-titles', 'Titles watched', num(new Set(data.rows.map((r) => r.contentId)).size))),
		data.truncated ? h('div', { class: 'alert info' }, 'The range holds more rows than shown; choose a shorter range.') : null,
		nothing ? h('div', { class: 'alert info', id: 'no-data' }, 'No aggregated watch data in this range yet.') : null,
		h('section', { 'aria-labelledby': 'daily-h' },
			h('h2', { id: 'daily-h' }, 'Views and watch time per day'), daily,
			table('Per day (days without any view left out)', ['Day', 'Views', 'Viewers', 'Watch time (min)', 'Completions'], dayRows, { id: 'daily-table' })),
		h('section', { 'aria-labelledby': 'topt-h' },
			h('h2', { id: 'topt-h' }, 'Top titles'), topBox,
			table('The most viewed titles of the range', ['#', 'Title', 'Views', 'Watch time (min)', 'Completions'], topRows, { id: 'top-table' })));
	body.removeAttribute('aria-busy');
	try {
		const uPlot = await loadChartLib();
		if (!daily.isConnected) return;
		dailyChart(uPlot, daily, s);
		if (s.top.length) topChart(uPlot, topBox, s.top);
		else fill(topBox, h('p', { class: 'muted' }, 'No title was watched in this range.'));
	} catch (e) {
		fill(daily, h('p', { class: 'muted' }, `${e.message} The tables below hold the same numbers.`));
	}
}

// ------------------------------------------------------------------ users

function userHref(email, id) {
	return '#/admin/users?' + new URLSearchParams({ search: email || '', id: String(id) });
}

function status(u) {
	return h('span', { class: 'pills' },
		h('span', { class: 'pill ' + (u.isActive ? 'ok' : 'off') }, u.isActive ? 'Active' : 'Deactivated'),
		u.isLocked ? h('span', { class: 'pill warn' }, 'Locked') : null,
		u.role === 'admin' ? h('span', { class: 'pill' }, 'Admin') : null);
}

function userEditor(u, closeHref, onSaved) {
	const close = h('a', { href: closeHref, class: 'fine' }, 'Close');
	const msg = h('div', { role: 'status' });
	const role = h('select', { id: 'u-role', name: 'role' },
		['user', 'admin'].map((r) => h('option', { value: r, selected: u.role === r }, r === 'admin' ? 'Administrator' : 'User')));
	const active = h('input', { id: 'u-active', name: 'isActive', type: 'checkbox', checked: u.isActive });
	const form = h('form', { id: 'user-form', novalidate: true },
		h('div', { class: 'field' }, h('label', { for: 'u-role' }, 'Role'), role),
		h('div', { class: 'field check' }, active, h('label', { for: 'u-active' }, 'Account active (can sign in)')),
		h('button', { type: 'submit', class: 'button' }, 'Save changes'));
	const save = async (body, btn) => {
		btn.disabled = true;
		fill(msg);
		try {
			const j = await api('PUT', '/admin/users/' + encodeURIComponent(u.id), body);
			onSaved(j.data.user, body.unlock ? 'Account unlocked.' : 'Changes saved.');
		} catch (e) {
			const box = failure(e);
			if (box) fill(msg, box);
			btn.disabled = false;
		}
	};
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const body = {};
		if (role.value !== u.role) body.role = role.value;
		if (active.checked !== u.isActive) body.isActive = active.checked;
		if (!Object.keys(body).length) { fill(msg, h('p', { class: 'muted' }, 'Nothing changed.')); return; }
		save(body, form.querySelector('button'));
	});
	const unlock = u.isLocked || u.failedLogins > 0
		? h('button', { type: 'button', class: 'button ghost', id: 'unlock', onclick: (ev) => save({ unlock: true }, ev.currentTarget) },
			u.isLocked ? 'Unlock account' : 'Clear failed sign-ins')
		: null;
	const plan = u.currentPlan;
	return h('section', { class: 'card editor', id: 'user-edit', 'aria-labelledby': 'ue-h' },
		h('div', { class: 'admin-head' }, h('h2', { id: 'ue-h' }, u.name), close), msg,
		h('dl', { class: 'user-facts' },
			h('dt', {}, 'E-mail'), h('dd', {}, u.email),
			h('dt', {}, 'Status'), h('dd', { id: 'u-status' }, status(u)),
			h('dt', {}, 'Failed sign-ins'), h('dd', { id: 'u-failed' }, String(u.failedLogins || 0)),
			h('dt', {}, 'Plan'), h('dd', {}, plan ? [levelBadge(plan.accessLevel), ` ${plan.name} until ${when(plan.endDate)}`] : 'Free'),
			h('dt', {}, 'Joined'), h('dd', {}, when(u.createdAt)),
			h('dt', {}, 'Last sign-in'), h('dd', {}, when(u.lastLoginAt))),
		unlock ? h('p', {}, unlock) : null,
		form);
}

async function users(params) {
	if (!allowed()) return;
	const search = params.get('search') || '';
	const pg = pageParam(params);
	const sel = params.get('id');
	const href = (o) => '#/admin/users?' + new URLSearchParams(Object.entries({ search, page: String(pg), ...o }).filter(([, v]) => v));
	const form = h('form', { class: 'search', role: 'search' },
		h('label', { for: 'u-search', class: 'visually-hidden' }, 'Search users'),
		h('input', { id: 'u-search', name: 'search', type: 'search', value: search, placeholder: 'Name or e-mail (from the start)', maxlength: 100 }),
		h('button', { type: 'submit', class: 'button' }, 'Search'),
		h('button', { type: 'button', class: 'button ghost', id: 'u-refresh', onclick: () => users(params) }, 'Refresh'));
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const v = form.search.value.trim();
		const next = '#/admin/users' + (v ? '?' + new URLSearchParams({ search: v }) : '');
		if (location.hash === next) users(new URLSearchParams(v ? { search: v } : {})); else location.hash = next;
	});
	const body = h('div', { 'aria-busy': 'true' }, loading());
	page('users', 'Users', h('h1', {}, 'Users'), form, body);
	let j;
	try {
		j = await api('GET', '/admin/users?' + new URLSearchParams({ page: String(pg), limit: '20', ...(search ? { search } : {}) }));
	} catch (e) {
		const box = failure(e);
		if (box) { fill(body, box); body.removeAttribute('aria-busy'); }
		return;
	}
	const list = j.data.users || [];
	const draw = (note) => {
		const picked = list.find((u) => u.id === sel);
		const rows = list.map((u) => h('tr', { class: u.id === sel ? 'selected' : undefined, 'data-user': u.id },
			h('th', { scope: 'row' }, u.name),
			h('td', {}, u.email),
			h('td', {}, status(u)),
			h('td', {}, u.currentPlan ? u.currentPlan.name : 'Free'),
			h('td', {}, when(u.lastLoginAt)),
			h('td', {}, h('a', { href: href({ id: u.id }), 'aria-label': `Manage ${u.name}` }, 'Manage'))));
		const editor = picked ? userEditor(picked, href({ id: '' }), (nu, text) => {
			list[list.indexOf(picked)] = nu;
			draw(text);
		}) : null;
		fill(body,
			sel && !picked ? h('div', { class: 'alert info' }, 'That account is not on this page; search for it by e-mail.') : null,
			editor,
			list.length ? table(search ? `Accounts starting with “${search}”` : 'Accounts, newest first',
				['Name', 'E-mail', 'Status', 'Plan', 'Last sign-in', h('span', { class: 'visually-hidden' }, 'Actions')], rows, { id: 'users-table' })
				: h('p', { class: 'muted' }, 'No account matches.'),
			pager(j.pagination || { page: pg, pages: 1, total: list.length }, (n) => href({ page: String(n), id: '' })));
		if (note && editor) {
			fill(editor.querySelector('[role=status]'), h('p', { class: 'ok-text' }, note));
			announce(note);
		}
	};
	draw();
	body.removeAttribute('aria-busy');
}

// ------------------------------------------------------------------ forms

// A form from field specs: {name, label, type, options?, help?, required?,
// get(obj)?, put(value)?}; type is text, textarea, number, date, select,
// checkbox, list (comma-separated) or lines (one per line). Each field has
// a place for its own error message.
function specInput(f, value) {
	const id = 'e-' + f.name;
	const common = { id, name: f.name, 'aria-describedby': `${f.help ? id + '-help ' : ''}${id}-err`, required: f.required };
	if (f.type === 'textarea' || f.type === 'lines') {
		return h('textarea', { ...common, rows: f.type === 'lines' ? 4 : 5 }, value === undefined || value === null ? '' : value);
	}
	if (f.type === 'select') {
		return h('select', common, (f.optional ? [h('option', { value: '' }, '—')] : []).concat(
			f.options.map((o) => h('option', { value: o, selected: String(value) === o }, o))));
	}
	if (f.type === 'checkbox') return h('input', { ...common, type: 'checkbox', checked: !!value });
	return h('input', { ...common, type: f.type === 'list' ? 'text' : f.type, value: value === undefined || value === null ? '' : value, step: f.step, min: f.min, max: f.max, maxlength: f.maxlength });
}

function toForm(f, obj) {
	const v = f.get ? f.get(obj) : obj[f.name];
	if (f.type === 'list') return (v || []).join(', ');
	if (f.type === 'lines') return (v || []).join('\n');
	return v;
}

function fromForm(f, el) {
	if (f.type === 'checkbox') return el.checked;
	const raw = el.value;
	if (f.type === 'list') return raw.split(',').map((x) => x.trim()).filter(Boolean);
	if (f.type === 'lines') return raw.split('\n').map((x) => x.trim()).filter(Boolean);
	if (f.type === 'number') return raw.trim() === '' ? raw : Number(raw);
	return raw.trim();
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// builds the form; submit(body) → the saved object, or throws ApiError.
// Only the fields that changed are sent when editing; an empty optional
// field is left out.
function specForm(id, fields, obj, creating, submitLabel, submit) {
	const top = h('div', {});
	const els = {};
	const rows = fields.map((f) => {
		const el = specInput(f, toForm(f, obj));
		els[f.name] = el;
		const err = h('p', { class: 'field-error', id: `e-${f.name}-err` });
		const help = f.help ? h('p', { class: 'help', id: `e-${f.name}-help` }, f.help) : null;
		const label = h('label', { for: 'e-' + f.name }, f.label, f.required && creating ? h('span', { 'aria-hidden': 'true', class: 'req' }, ' *') : null);
		return f.type === 'checkbox'
			? h('div', { class: 'field check' + (f.wide ? ' wide' : '') }, el, label, err)
			: h('div', { class: 'field' + (f.wide ? ' wide' : '') }, label, el, help, err);
	});
	const btn = h('button', { type: 'submit', class: 'button' }, submitLabel);
	const form = h('form', { id, class: 'card edit-form', novalidate: true }, top, h('div', { class: 'form-grid' }, rows), h('div', { class: 'form-actions' }, btn));
	const original = (f) => {
		const v = toForm(f, obj);
		return fromForm(f, { value: v === undefined || v === null ? '' : String(v), checked: !!v });
	};
	const clear = () => {
		fill(top);
		for (const f of fields) {
			els[f.name].removeAttribute('aria-invalid');
			form.querySelector(`#e-${f.name}-err`).textContent = '';
		}
	};
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clear();
		const body = {};
		for (const f of fields) {
			const v = fromForm(f, els[f.name]);
			if (v === '' && !(f.required && creating)) continue;
			if (!creating && same(v, original(f))) continue;
			body[f.put ? f.put.name : f.name] = f.put ? f.put.value(v) : v;
		}
		if (!creating && !Object.keys(body).length) { fill(top, h('p', { class: 'muted' }, 'Nothing changed.')); return; }
		btn.disabled = true;
		try {
			await submit(body);
		} catch (e) {
			const box = failure(e);
			if (!box) return;
			const unplaced = [];
			for (const fe of (e.body && e.body.errors) || []) {
				const name = String(fe.field || '').split(/[[.]/)[0];
				const el = els[name];
				if (!el) { unplaced.push(fe); continue; }
				el.setAttribute('aria-invalid', 'true');
				const p = form.querySelector(`#e-${name}-err`);
				p.textContent = p.textContent ? `${p.textContent} ${fe.message}` : fe.message;
			}
			fill(top, h('div', { class: 'alert', role: 'alert' },
				(e.body && e.body.errors && e.body.errors.length) ? 'Please correct the fields marked below.' : e.message,
				unplaced.length ? h('ul', {}, unplaced.map((x) => h('li', {}, `${x.field}: ${x.message}`))) : null));
			const bad = form.querySelector('[aria-invalid=true]');
			if (bad) bad.focus(); else top.focus();
		} finally {
			btn.disabled = false;
		}
	});
	form.saved = (o) => { obj = o; };
	form.notify = (text) => { fill(top, h('p', { class: 'ok-text', role: 'status' }, text)); announce(text); };
	return form;
}

// ------------------------------------------------------------------ content

const CONTENT_FIELDS = [
	{ name: 'title', label: 'Title', type: 'text', required: true, maxlength: 200, wide: true },
	{ name: 'description', label: 'Description', type: 'textarea', required: true, wide: true },
	{ name: 'type', label: 'Type', type: 'select', options: TYPES, required: true },
	{ name: 'accessLevel', label: 'Access level', type: 'select', options: LEVELS, required: true, help: 'The lowest plan level that may watch it.' },
	{ name: 'genre', label: 'Genres', type: 'list', required: true, help: 'Comma-separated, 1 to 10.' },
	{ name: 'duration', label: 'Duration (minutes)', type: 'number', required: true, min: 1, max: 10000 },
	{ name: 'releaseDate', label: 'Release date', type: 'date', required: true, get: (c) => (c.releaseDate ? String(c.releaseDate).slice(0, 10) : '') },
	{ name: 'ageRating', label: 'Age rating', type: 'text', maxlength: 10, help: 'For example PG-13 or TV-MA.' },
	{ name: 'director', label: 'Director', type: 'text', maxlength: 200 },
	{ name: 'language', label: 'Language', type: 'text', maxlength: 20, help: 'A language code such as en.' },
	{ name: 'thumbnailUrl', label: 'Thumbnail URL', type: 'text', maxlength: 500, help: 'A path starting with / or an http(s) URL.' },
	{ name: 'tags', label: 'Tags', type: 'list', help: 'Comma-separated.' },
	{ name: 'isFeatured', label: 'Featured', type: 'checkbox' },
];

async function contentList(params) {
	if (!allowed()) return;
	const q = params.get('q') || '';
	const pg = pageParam(params);
	const form = h('form', { class: 'search', role: 'search' },
		h('label', { for: 'c-search', class: 'visually-hidden' }, 'Search the catalogue'),
		h('input', { id: 'c-search', name: 'q', type: 'search', value: q, placeholder: 'Words of the title or description', maxlength: 200 }),
		h('button', { type: 'submit', class: 'button' }, 'Search'));
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const v = form.q.value.trim();
		location.hash = '#/admin/content' + (v ? '?' + new URLSearchParams({ q: v }) : '');
	});
	const body = h('div', { 'aria-busy': 'true' }, loading());
	page('content', 'Content',
		h('div', { class: 'admin-head' }, h('h1', {}, 'Content'), h('a', { href: '#/admin/content/new', class: 'button', id: 'new-content' }, 'Add a title')),
		form, body);
	try {
		const qs = new URLSearchParams({ includeLocked: 'true', page: String(pg), limit: '20', ...(q ? { search: q } : { sortBy: 'title' }) });
		const j = await api('GET', '/content?' + qs);
		const items = j.data.content || [];
		fill(body,
			items.length ? table(q ? `Titles matching “${q}”` : 'Active titles, by title', ['Title', 'Type', 'Level', 'Released', 'Views', h('span', { class: 'visually-hidden' }, 'Actions')],
				items.map((c) => h('tr', { 'data-content': c.id },
					h('th', { scope: 'row' }, c.title),
					h('td', {}, c.type),
					h('td', {}, levelBadge(c.accessLevel)),
					h('td', {}, c.releaseDate ? String(c.releaseDate).slice(0, 10) : '—'),
					h('td', { class: 'num' }, num(c.views)),
					h('td', {}, h('a', { href: '#/admin/content/' + encodeURIComponent(c.id), 'aria-label': `Edit ${c.title}` }, 'Edit')))), { id: 'content-table' })
				: h('p', { class: 'muted' }, q ? 'Nothing matches that search.' : 'The catalogue is empty.'),
			h('p', { class: 'muted fine' }, 'Deactivated titles leave the list; open one by its address (#/admin/content/ID) to reactivate it.'),
			pager(j.pagination || { page: pg, pages: 1, total: items.length },
				(n) => '#/admin/content?' + new URLSearchParams({ ...(q ? { q } : {}), page: String(n) })));
	} catch (e) {
		const box = failure(e);
		if (box) fill(body, box);
	}
	body.removeAttribute('aria-busy');
}

async function contentEdit(id) {
	if (!allowed()) return;
	const creating = id === 'new';
	let c = { type: 'movie', accessLevel: 'Free', language: 'en', genre: [], tags: [] };
	if (!creating) {
		page('content', 'Loading', loading());
		try {
			c = (await api('GET', '/content/' + encodeURIComponent(id))).data.content;
		} catch (e) {
			const box = failure(e);
			if (box) page('content', 'Not found', h('h1', {}, 'Title not found'), box, h('p', {}, h('a', { href: '#/admin/content' }, 'Back to the catalogue')));
			return;
		}
	}
	const heading = h('h1', {}, creating ? 'Add a title' : c.title);
	const state = h('p', { class: 'muted', id: 'c-state' });
	const toggle = h('button', { type: 'button', class: 'button ghost', id: 'c-toggle' });
	const drawState = () => {
		fill(state, c.isActive === false ? h('span', { class: 'pill off' }, 'Deactivated: hidden from viewers') : h('span', { class: 'pill ok' }, 'Active: listed for viewers'),
			' ', c.id ? h('a', { href: '#/content/' + encodeURIComponent(c.id) }, 'View as a viewer') : null);
		toggle.textContent = c.isActive === false ? 'Reactivate' : 'Deactivate';
	};
	const form = specForm('content-form', CONTENT_FIELDS, c, creating, creating ? 'Create title' : 'Save changes', async (body) => {
		if (creating) {
			const j = await api('POST', '/content', body);
			location.hash = '#/admin/content/' + encodeURIComponent(j.data.content.id) + '?created=1';
			return;
		}
		const j = await api('PUT', '/content/' + encodeURIComponent(c.id), body);
		c = j.data.content;
		form.saved(c);
		heading.textContent = c.title;
		document.title = `Edit ${c.title} · Streaming`;
		drawState();
		form.notify('Changes saved.');
	});
	toggle.addEventListener('click', async () => {
		const off = c.isActive !== false;
		if (off && !confirm(`Deactivate “${c.title}”? Viewers will no longer see it.`)) return;
		toggle.disabled = true;
		try {
			const j = off ? await api('DELETE', '/content/' + encodeURIComponent(c.id))
				: await api('PUT', '/content/' + encodeURIComponent(c.id), { isActive: true });
			c = j.data.content;
			drawState();
			form.notify(off ? 'Title deactivated.' : 'Title reactivated.');
		} catch (e) {
			const box = failure(e);
			if (box) fill(form.querySelector('div'), box);
		}
		toggle.disabled = false;
	});
	if (!creating) drawState();
	page('content', creating ? 'Add a title' : `Edit ${c.title}`,
		h('p', {}, h('a', { href: '#/admin/content' }, '← All titles')),
		h('div', { class: 'admin-head' }, heading, creating ? null : toggle),
		creating ? null : state, form);
	if (location.hash.endsWith('?created=1')) form.notify('Title created.');
	if (creating) form.querySelector('input').focus();
}

// ------------------------------------------------------------------ plans

const PLAN_FIELDS = [
	{ name: 'name', label: 'Name', type: 'text', required: true, maxlength: 50 },
	{ name: 'accessLevel', label: 'Access level', type: 'select', options: LEVELS, required: true },
	{ name: 'price', label: 'Price', type: 'number', required: true, step: '0.01', min: 0 },
	{ name: 'currency', label: 'Currency', type: 'text', maxlength: 3, help: 'ISO 4217, for example USD.' },
	{ name: 'validityDays', label: 'Validity (days)', type: 'number', required: true, min: 1, max: 3650 },
	{ name: 'resolution', label: 'Best resolution', type: 'select', options: RESOLUTIONS, required: true },
	{ name: 'maxConcurrentStreams', label: 'Screens at once', type: 'number', required: true, min: 1, max: 100 },
	{ name: 'maxDevicesAllowed', label: 'Devices', type: 'number', required: true, min: 1, max: 100 },
	{ name: 'maxDownloads', label: 'Downloads', type: 'number', min: 0, max: 1000, help: 'Live offline licences per subscriber.' },
	{ name: 'displayOrder', label: 'Display order', type: 'number' },
	{ name: 'description', label: 'Description', type: 'textarea', wide: true },
	{ name: 'features', label: 'Features', type: 'lines', wide: true, help: 'One per line, as the plans page lists them.' },
	{ name: 'downloadAllowed', label: 'Downloads allowed', type: 'checkbox' },
	{ name: 'adsEnabled', label: 'With ads', type: 'checkbox' },
	{ name: 'isPopular', label: 'Marked popular', type: 'checkbox' },
];

// the plans on sale (full objects), and the deactivated ones as the metrics
// name them (id, name, level; their details open on the edit page), each
// with its subscriptions in force
async function allPlans() {
	const [list, m] = await Promise.all([api('GET', '/subscriptions/plans?sortBy=displayOrder'), api('GET', '/admin/metrics')]);
	const active = list.data.plans || [];
	const byPlan = (m.data || {}).subscriptionsByPlan || [];
	const subs = Object.fromEntries(byPlan.map((p) => [p.planId, p.activeSubscriptions]));
	return {
		active: active.map((p) => ({ ...p, subscriptions: subs[p.id] || 0 })),
		inactive: byPlan.filter((p) => !active.some((a) => a.id === p.planId)),
	};
}

const editLink = (id, name) => h('a', { href: '#/admin/plans/' + encodeURIComponent(id), 'aria-label': `Edit ${name}` }, 'Edit');

async function planList() {
	if (!allowed()) return;
	const body = h('div', { 'aria-busy': 'true' }, loading());
	page('plans', 'Plans',
		h('div', { class: 'admin-head' }, h('h1', {}, 'Plans'), h('a', { href: '#/admin/plans/new', class: 'button', id: 'new-plan' }, 'Add a plan')), body);
	try {
		const { active, inactive } = await allPlans();
		fill(body,
			table('Plans on sale, in display order', ['Plan', 'Level', 'Price', 'Days', 'Screens', 'Devices', 'Resolution', 'Subscribers', h('span', { class: 'visually-hidden' }, 'Actions')],
				active.map((p) => h('tr', { 'data-plan': p.id },
					h('th', { scope: 'row' }, p.name, p.isPopular ? h('span', { class: 'pill' }, 'Popular') : null),
					h('td', {}, levelBadge(p.accessLevel)),
					h('td', { class: 'num' }, money(p.price, p.currency)),
					h('td', { class: 'num' }, String(p.validityDays)),
					h('td', { class: 'num' }, String(p.maxConcurrentStreams)),
					h('td', { class: 'num' }, String(p.maxDevicesAllowed)),
					h('td', {}, p.resolution),
					h('td', { class: 'num' }, num(p.subscriptions)),
					h('td', {}, editLink(p.id, p.name)))), { id: 'plans-table' }),
			inactive.length ? h('section', { 'aria-labelledby': 'inactive-h' },
				h('h2', { id: 'inactive-h' }, 'Deactivated plans'),
				table('Not on sale; subscribers keep them until their subscription ends', ['Plan', 'Level', 'Subscribers', h('span', { class: 'visually-hidden' }, 'Actions')],
					inactive.map((p) => h('tr', { 'data-plan': p.planId, class: 'inactive' },
						h('th', { scope: 'row' }, p.name),
						h('td', {}, levelBadge(p.accessLevel)),
						h('td', { class: 'num' }, num(p.activeSubscriptions)),
						h('td', {}, editLink(p.planId, p.name)))), { id: 'inactive-plans' })) : null);
	} catch (e) {
		const box = failure(e);
		if (box) fill(body, box);
	}
	body.removeAttribute('aria-busy');
}

async function planEdit(id) {
	if (!allowed()) return;
	const creating = id === 'new';
	let p = { accessLevel: 'Basic', currency: 'USD', validityDays: 30, resolution: '720p', maxConcurrentStreams: 1, maxDevicesAllowed: 1, maxDownloads: 0, displayOrder: 0, features: [] };
	let subscribers = 0;
	if (!creating) {
		page('plans', 'Loading', loading());
		try {
			const j = await api('GET', '/subscriptions/plans/' + encodeURIComponent(id));
			p = j.data.plan;
			subscribers = j.data.subscribersCount || 0;
		} catch (e) {
			const box = failure(e);
			if (box) page('plans', 'Not found', h('h1', {}, 'Plan not found'), box, h('p', {}, h('a', { href: '#/admin/plans' }, 'Back to the plans')));
			return;
		}
	}
	const heading = h('h1', {}, creating ? 'Add a plan' : p.name);
	const state = h('p', { class: 'muted', id: 'p-state' });
	const toggle = h('button', { type: 'button', class: 'button ghost', id: 'p-toggle' });
	const drawState = () => {
		fill(state, p.isActive === false ? h('span', { class: 'pill off' }, 'Deactivated: not on sale') : h('span', { class: 'pill ok' }, 'On sale'),
			` · ${num(subscribers)} subscription${subscribers === 1 ? '' : 's'} in force`);
		toggle.textContent = p.isActive === false ? 'Reactivate' : 'Deactivate';
	};
	const form = specForm('plan-form', PLAN_FIELDS, p, creating, creating ? 'Create plan' : 'Save changes', async (body) => {
		if (creating) {
			const j = await api('POST', '/subscriptions/plans', body);
			location.hash = '#/admin/plans/' + encodeURIComponent(j.data.plan.id) + '?created=1';
			return;
		}
		const j = await api('PUT', '/subscriptions/plans/' + encodeURIComponent(p.id), body);
		p = j.data.plan;
		form.saved(p);
		heading.textContent = p.name;
		document.title = `Edit ${p.name} · Streaming`;
		drawState();
		form.notify('Changes saved.');
	});
	toggle.addEventListener('click', async () => {
		const off = p.isActive !== false;
		if (off && !confirm(`Deactivate the plan “${p.name}”? It leaves sale; current subscribers keep it until their subscription ends.`)) return;
		toggle.disabled = true;
		try {
			const j = off ? await api('DELETE', '/subscriptions/plans/' + encodeURIComponent(p.id))
				: await api('PUT', '/subscriptions/plans/' + encodeURIComponent(p.id), { isActive: true });
			p = { ...p, ...j.data.plan };
			drawState();
			form.notify(off ? 'Plan deactivated.' : 'Plan reactivated.');
		} catch (e) {
			const box = failure(e);
			if (box) fill(form.querySelector('div'), box);
		}
		toggle.disabled = false;
	});
	if (!creating) drawState();
	page('plans', creating ? 'Add a plan' : `Edit ${p.name}`,
		h('p', {}, h('a', { href: '#/admin/plans' }, '← All plans')),
		h('div', { class: 'admin-head' }, heading, creating ? null : toggle),
		creating ? null : state, form);
	if (location.hash.endsWith('?created=1')) form.notify('Plan created.');
	if (creating) form.querySelector('input').focus();
}

// ------------------------------------------------------------------ routes

addRoute(/^\/admin\/?$/, () => dashboard());
addRoute(/^\/admin\/analytics$/, (params) => analytics(params));
addRoute(/^\/admin\/users$/, (params) => users(params));
addRoute(/^\/admin\/content$/, (params) => contentList(params));
addRoute(/^\/admin\/content\/([^/]+)$/, (id) => contentEdit(id));
addRoute(/^\/admin\/plans$/, () => planList());
addRoute(/^\/admin\/plans\/([^/]+)$/, (id) => planEdit(id));
addRoute(/^\/admin\/.*$/, () => (allowed() ? page('', 'Not found', h('h1', {}, 'No such admin page'), h('p', {}, h('a', { href: '#/admin' }, 'Back to the dashboard'))) : null));

export { notAllowed };
