// The viewer's pages: sign up and log in, the catalogue (filters, search,
// paging), a title's details, the plans, and the player with its limit
// screen.
import {
	PAGE_SIZE, store, deviceId, api, h, main, show, errorBox, field, levelBadge,
	renderNav, addRoute, onLeave, LEVELS, announce,
} from './core.js';
import { confirmDialog, refreshUser, agePinPrompt, downloadButton, formatDate } from './account.js';

// ------------------------------------------------------------------ auth pages

function authPage(mode) {
	const signup = mode === 'signup';
	const msg = h('div', {});
	const form = h('form', { class: 'card narrow', novalidate: true },
		h('h1', {}, signup ? 'Create your account' : 'Log in'),
		msg,
		signup ? field('Name', 'name', 'text', { autocomplete: 'name', minlength: 2, maxlength: 100 }) : null,
		field('Email', 'email', 'email', { autocomplete: 'email' }),
		field('Password', 'password', 'password', {
			autocomplete: signup ? 'new-password' : 'current-password',
			'aria-describedby': signup ? 'pw-help' : undefined,
		}),
		signup ? h('p', { class: 'help', id: 'pw-help' }, 'At least 8 characters, with an upper-case letter, a lower-case letter and a digit.') : null,
		h('button', { type: 'submit', class: 'button' }, signup ? 'Sign up' : 'Log in'),
		h('p', { class: 'muted' }, signup ? 'Already have an account? ' : 'New here? ',
			h('a', { href: signup ? '#/login' : '#/signup' }, signup ? 'Log in' : 'Create an account')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const fd = Object.fromEntries(new FormData(form));
		const btn = form.querySelector('button[type=submit]');
		btn.disabled = true;
		msg.replaceChildren();
		try {
			const j = await api('POST', signup ? '/auth/register' : '/auth/login', fd);
			store.save(j.data);
			renderNav();
			location.hash = '#/';
		} catch (e) {
			msg.replaceChildren(errorBox(e));
			form.querySelector('input')?.focus();
		} finally {
			btn.disabled = false;
		}
	});
	show(signup ? 'Sign up' : 'Log in', form);
	form.querySelector('input').focus();
}

// ------------------------------------------------------------------ catalogue

// the placeholder's letter: the title's first word that is not an article
function initial(title) {
	const words = String(title || '?').split(/\s+/);
	const w = words.find((x) => !/^(the|a|an)$/i.test(x)) || words[0];
	return w.slice(0, 1).toUpperCase();
}

// The catalogue's own artwork lives under /catalogue/ on this site (the
// demo's is drawn by sp-admin gen-media); anything else, or none, gets a
// lettered placeholder, so a tile never shows a broken image and the page
// never asks another host (the CSP would refuse it).
const catalogueImage = (url) => typeof url === 'string' && url.startsWith('/catalogue/') && !url.includes('..');

function artwork(c) {
	if (catalogueImage(c.thumbnailUrl)) {
		return h('img', { src: c.thumbnailUrl, alt: '', loading: 'lazy', decoding: 'async', width: 480, height: 270 });
	}
	return h('span', { class: 'ph', 'aria-hidden': 'true' }, initial(c.title));
}

function card(c) {
	const locked = c.canAccess === false;
	return h('li', { class: 'tile' + (locked ? ' locked' : '') },
		h('a', { href: '#/content/' + encodeURIComponent(c.id) },
			h('div', { class: 'thumb' }, artwork(c),
				locked ? h('span', { class: 'lock' }, `Needs ${c.accessLevel}`) : null),
			h('div', { class: 'meta' },
				h('strong', {}, c.title),
				h('span', { class: 'muted' }, [c.type, c.releaseDate ? String(c.releaseDate).slice(0, 4) : null].filter(Boolean).join(' · ')),
				levelBadge(c.accessLevel))));
}

// The catalogue's filters: hash parameter → API parameter, label, choices
// ('' is "any"). Genre is free text with suggestions.
const FILTERS = [
	['type', 'type', 'Type', ['', 'movie', 'series', 'documentary', 'short', 'trailer']],
	['level', 'accessLevel', 'Plan', ['', 'Free', 'Basic', 'Premium', 'Ultimate']],
	['sort', 'sortBy', 'Sort by', ['', 'releaseDate', 'views', 'rating', 'title']],
];
const SORT_NAMES = { '': 'Newest', releaseDate: 'Release date', views: 'Most viewed', rating: 'Rating', title: 'Title' };
const GENRES = ['Action', 'Adventure', 'Animation', 'Comedy', 'Documentary', 'Drama', 'Family', 'Horror',
	'Mystery', 'Romance', 'Sci-Fi', 'Thriller'];

function filterForm(params) {
	const select = ([key, , label, choices]) => h('div', { class: 'field' },
		h('label', { for: 'f-' + key }, label),
		h('select', { id: 'f-' + key, name: key },
			choices.map((c) => h('option', { value: c, selected: params.get(key) === c || (!params.get(key) && !c) },
				key === 'sort' ? SORT_NAMES[c] : (c ? c[0].toUpperCase() + c.slice(1) : 'Any')))));
	const form = h('form', { class: 'search', role: 'search' },
		h('div', { class: 'field grow' },
			h('label', { for: 'q', class: 'visually-hidden' }, 'Search titles'),
			h('input', { id: 'q', name: 'q', type: 'search', value: params.get('q') || '', placeholder: 'Search titles and descriptions' })),
		h('button', { type: 'submit', class: 'button' }, 'Search'),
		h('div', { class: 'filters' },
			FILTERS.map(select),
			h('div', { class: 'field' },
				h('label', { for: 'f-genre' }, 'Genre'),
				h('input', { id: 'f-genre', name: 'genre', list: 'genres', value: params.get('genre') || '', placeholder: 'Any', size: 10 }),
				h('datalist', { id: 'genres' }, GENRES.map((g) => h('option', { value: g }))))));
	const go = () => {
		const s = new URLSearchParams();
		for (const [k, v] of new FormData(form)) if (String(v).trim()) s.set(k, String(v).trim());
		location.hash = '#/' + (String(s) ? '?' + s : '');
	};
	form.addEventListener('submit', (ev) => { ev.preventDefault(); go(); });
	// a changed filter applies at once; the search words wait for Enter
	form.querySelectorAll('select').forEach((el) => el.addEventListener('change', go));
	form.querySelector('#f-genre').addEventListener('change', go);
	return form;
}

async function catalogue(params) {
	const q = params.get('q') || '';
	const page = Math.max(1, parseInt(params.get('page') || '1', 10) || 1);
	const filtered = FILTERS.some(([k]) => params.get(k)) || params.get('genre');
	const results = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
	show(q ? `Search: ${q}` : 'Browse', h('h1', {}, q ? `Results for “${q}”` : 'Browse'), filterForm(params), results);
	const qs = new URLSearchParams({ includeLocked: 'true', page: String(page), limit: String(PAGE_SIZE) });
	if (q) qs.set('search', q);
	for (const [key, apiKey] of FILTERS) if (params.get(key)) qs.set(apiKey, params.get(key));
	if (params.get('genre')) qs.set('genre', params.get('genre'));
	if (params.get('sort') === 'title') qs.set('order', 'asc');
	try {
		const j = await api('GET', '/content?' + qs);
		const items = (j.data && j.data.content) || [];
		const p = j.pagination || { page, pages: 1, total: items.length };
		const list = items.length
			? h('ul', { class: 'grid', id: 'catalogue' }, items.map(card))
			: h('p', { class: 'muted', id: 'catalogue-empty' }, q || filtered ? 'Nothing matches that search.' : 'The catalogue is empty.');
		const link = (n, label) => {
			const s = new URLSearchParams(params);
			s.set('page', String(n));
			return h('a', { href: '#/?' + s, class: 'button ghost', rel: label === 'Next' ? 'next' : 'prev' }, label);
		};
		const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
			p.page > 1 ? link(p.page - 1, 'Previous') : h('span', {}),
			h('span', { class: 'muted' }, `Page ${p.page} of ${Math.max(1, p.pages)} · ${p.total} titles`),
			p.page < p.pages ? link(p.page + 1, 'Next') : h('span', {}));
		results.replaceChildren(list, pager);
	} catch (e) {
		results.replaceChildren(errorBox(e));
	}
	results.removeAttribute('aria-busy');
}

// ------------------------------------------------------------------ details

async function details(id) {
	show('Loading');
	try {
		const j = await api('GET', '/content/' + encodeURIComponent(id));
		const c = j.data.content;
		const can = j.data.canAccess !== false;
		const recs = j.data.recommendations || [];
		const action = can
			? (store.token ? h('div', { class: 'actions' },
				h('a', { href: '#/play/' + encodeURIComponent(c.id), class: 'button', id: 'play' }, '▶ Play'),
				downloadButton(c.id))
				: h('a', { href: '#/login', class: 'button' }, 'Log in to play'))
			: h('div', { class: 'alert info' }, `This title needs the ${c.accessLevel} plan or higher. `,
				h('a', { href: '#/plans' }, 'See plans'));
		show(c.title,
			h('article', { class: 'details' },
				catalogueImage(c.bannerUrl) ? h('img', { class: 'banner', src: c.bannerUrl, alt: '', width: 1280, height: 400 }) : null,
				h('h1', {}, c.title),
				h('p', { class: 'muted' }, [c.type, c.releaseDate ? String(c.releaseDate).slice(0, 4) : null,
					c.duration ? `${c.duration} min` : null, c.ageRating,
					(c.genre || []).join(', ')].filter(Boolean).join(' · '), ' ', levelBadge(c.accessLevel)),
				h('p', {}, c.description || ''),
				c.director ? h('p', { class: 'muted' }, 'Director: ', c.director) : null,
				action),
			h('section', { 'aria-labelledby': 'recs-h' },
				h('h2', { id: 'recs-h' }, 'More like this'),
				recs.length ? h('ul', { class: 'grid' }, recs.map(card)) : h('p', { class: 'muted' }, 'No recommendations yet.')));
	} catch (e) {
		show('Not available', h('h1', {}, 'Not available'),
			e.code === 'AGE_RESTRICTED' && store.token ? agePinPrompt(e, () => details(id)) : errorBox(e),
			h('a', { href: '#/' }, 'Back to browse'));
		main().querySelector('#pin-unlock input')?.focus();
	}
}

// ------------------------------------------------------------------ plans

// what a signed-in user can do with a plan, given the current subscription
function planAction(p, cur) {
	const rank = (l) => LEVELS.indexOf(l);
	const curPlan = cur && cur.plan;
	if (curPlan ? curPlan.id === p.id : Number(p.price) === 0) {
		return h('p', {}, h('span', { class: 'current', 'aria-current': 'true' }, '✓ Current plan'),
			cur && !cur.autoRenew ? h('span', { class: 'muted' }, ` · ends ${formatDate(cur.endDate)}`) : null);
	}
	if (Number(p.price) === 0) return null;
	const label = !curPlan ? 'Subscribe' : rank(p.accessLevel) > rank(curPlan.accessLevel) ? 'Upgrade' : 'Switch';
	return h('button', {
		type: 'button', class: 'button', 'data-plan': p.id, 'aria-label': `${label} to ${p.name}`,
		onclick: () => subscribeDialog(p, label, curPlan),
	}, label);
}

function subscribeDialog(p, label, curPlan) {
	const method = h('select', { id: 'f-method', name: 'paymentMethod' },
		h('option', { value: 'card' }, 'Card'), h('option', { value: 'paypal' }, 'PayPal'),
		h('option', { value: 'bank_transfer' }, 'Bank transfer'));
	confirmDialog({
		title: `${label} to ${p.name}`,
		body: [
			h('p', {}, `${Number(p.price).toFixed(2)} ${p.currency || 'USD'} for ${p.validityDays} days, up to ${p.resolution}, ${p.maxConcurrentStreams} screen${p.maxConcurrentStreams === 1 ? '' : 's'} at once.`),
			curPlan ? h('p', { class: 'muted' }, `Your ${curPlan.name} plan ends now and ${p.name} starts at once.`) : null,
			h('div', { class: 'field' }, h('label', { for: 'f-method' }, 'Payment method'), method),
			h('div', { class: 'field check' }, h('input', { type: 'checkbox', id: 'f-renew', name: 'autoRenew', checked: true }),
				h('label', { for: 'f-renew' }, 'Renew automatically')),
		],
		confirm: `Pay ${Number(p.price).toFixed(2)} ${p.currency || 'USD'}`,
		onConfirm: async (form) => {
			await api('POST', '/subscriptions/subscribe', {
				planId: p.id, paymentMethod: method.value, autoRenew: form.autoRenew.checked,
			});
			await refreshUser();
			announce(`Subscribed to ${p.name}`);
			plans(`You are now on ${p.name}.`);
		},
	});
}

async function plans(done) {
	show('Plans', h('h1', {}, 'Plans'), h('p', { class: 'muted' }, 'Loading…'));
	try {
		const [j, st] = await Promise.all([
			api('GET', '/subscriptions/plans?sortBy=displayOrder'),
			store.token ? api('GET', '/subscriptions/status') : null,
		]);
		const list = (j.data && j.data.plans) || [];
		const cur = st ? st.data.subscription : null;
		main().replaceChildren(...[h('h1', {}, 'Plans'),
			typeof done === 'string' ? h('div', { class: 'alert info', role: 'status', id: 'plan-done', tabindex: '-1' }, done, ' ',
				h('a', { href: '#/account' }, 'Your plan')) : null,
			h('ul', { class: 'plans' }, list.map((p) => h('li', {
				class: 'card plan' + (p.isPopular ? ' popular' : '') + (cur && cur.plan.id === p.id ? ' current-plan' : ''),
				'data-plan-name': p.name,
			},
				h('h2', {}, p.name), levelBadge(p.accessLevel),
				h('p', { class: 'price' }, `${Number(p.price).toFixed(2)} ${p.currency || 'USD'}`, h('span', { class: 'muted' }, ` / ${p.validityDays} days`)),
				p.description ? h('p', { class: 'muted' }, p.description) : null,
				h('ul', { class: 'features' },
					h('li', {}, `Up to ${p.resolution}`),
					h('li', {}, `${p.maxConcurrentStreams} screen${p.maxConcurrentStreams === 1 ? '' : 's'} at once`),
					h('li', {}, `${p.maxDevicesAllowed} device${p.maxDevicesAllowed === 1 ? '' : 's'}`),
					h('li', {}, p.downloadAllowed ? `Downloads (up to ${p.maxDownloads})` : 'No downloads')),
				store.token ? planAction(p, cur)
					: Number(p.price) > 0 ? h('a', { href: '#/signup', class: 'button ghost' }, 'Sign up to subscribe') : null)))].filter(Boolean));
		main().querySelector('#plan-done')?.focus();
	} catch (e) {
		main().append(errorBox(e));
	}
}

// ------------------------------------------------------------------ player

let playback = null; // {sessionId, timer, video, hls}

function currentPosition() {
	return playback && playback.video ? Math.floor(playback.video.currentTime || 0) : 0;
}

async function stopPlayback() {
	const p = playback;
	playback = null;
	if (!p) return;
	clearInterval(p.timer);
	const pos = p.video ? Math.floor(p.video.currentTime || 0) : 0;
	if (p.hls) p.hls.destroy();
	if (p.video) { p.video.pause(); p.video.removeAttribute('src'); p.video.load(); }
	if (p.sessionId) {
		try { await api('POST', '/stream/stop', { sessionId: p.sessionId, playbackPosition: pos }); } catch { /* gone already */ }
	}
}

function limitScreen(id, err) {
	const acts = err.body.actions || [];
	const devices = err.body.activeDevices || [];
	const byId = Object.fromEntries(devices.map((d) => [d.sessionId, d]));
	const msg = h('div', {});
	show('Too many screens',
		h('section', { class: 'card', id: 'limit', 'aria-labelledby': 'limit-h' },
			h('h1', { id: 'limit-h' }, 'Too many screens'),
			h('p', {}, err.message),
			msg,
			h('ul', { class: 'sessions' }, acts.filter((a) => a.action === 'terminate_session').map((a) => {
				const d = byId[a.sessionId] || {};
				return h('li', {},
					h('span', {}, d.deviceName || 'A device', d.startedAt ? h('span', { class: 'muted' }, ` · since ${new Date(d.startedAt).toLocaleTimeString()}`) : null),
					h('button', {
						type: 'button', class: 'button', 'data-session': a.sessionId,
						onclick: async (ev) => {
							ev.currentTarget.disabled = true;
							try {
								await api('DELETE', '/stream/sessions/' + encodeURIComponent(a.sessionId));
								player(id);
							} catch (e) {
								msg.replaceChildren(errorBox(e));
							}
						},
					}, a.label || 'End this session'));
			})),
			acts.filter((a) => a.action === 'upgrade').map((a) =>
				h('p', {}, h('a', { href: '#/plans', class: 'button ghost', 'data-plan': a.planId }, a.label || 'Upgrade your plan'))),
			h('p', {}, h('a', { href: '#/content/' + encodeURIComponent(id) }, 'Back'))));
	main().querySelector('button')?.focus();
}

// a new device beyond the plan's device count: remove one, then try again
function deviceLimitScreen(id, err) {
	const devices = err.body.devices || [];
	const msg = h('div', {});
	show('Too many devices',
		h('section', { class: 'card', id: 'device-limit', 'aria-labelledby': 'dl-h' },
			h('h1', { id: 'dl-h' }, 'Too many devices'),
			h('p', {}, err.message),
			msg,
			h('ul', { class: 'sessions' }, devices.map((d) => h('li', {},
				h('span', {}, d.deviceName || d.deviceId, d.lastUsed ? h('span', { class: 'muted' }, ` · last used ${new Date(d.lastUsed).toLocaleString()}`) : null),
				h('button', {
					type: 'button', class: 'button', 'data-device': d.deviceId,
					onclick: async (ev) => {
						ev.currentTarget.disabled = true;
						try {
							await api('DELETE', '/users/devices/' + encodeURIComponent(d.deviceId));
							player(id);
						} catch (e) {
							msg.replaceChildren(errorBox(e));
						}
					},
				}, `Remove ${d.deviceName || 'this device'}`)))),
			h('p', {}, h('a', { href: '#/plans', class: 'button ghost' }, 'Plans with more devices')),
			h('p', {}, h('a', { href: '#/content/' + encodeURIComponent(id) }, 'Back'))));
	main().querySelector('button')?.focus();
}

// a name people recognise in the lists of devices and screens
function browserName() {
	const ua = navigator.userAgent;
	const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox'
		: /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
	const os = /iPhone|iPad/.test(ua) ? 'iOS' : /Android/.test(ua) ? 'Android' : /Mac OS X/.test(ua) ? 'macOS'
		: /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
	return os ? `${browser} on ${os}` : browser;
}

// where this title was left off (continue watching), 0 when nowhere
async function savedPosition(id) {
	try {
		const j = await api('GET', '/watch-history/continue-watching?limit=20');
		const w = ((j.data && j.data.continueWatching) || []).find((x) => String(x.content && x.content.id) === String(id));
		return w ? Math.max(0, Number(w.watchedDuration) || 0) : 0;
	} catch { return 0; }
}

// Auto lets hls.js choose by bandwidth; a rendition pins it. Only the
// renditions of the session's master playlist (the plan's) are listed.
function qualityPicker(hls, names) {
	const select = h('select', { id: 'quality' },
		h('option', { value: '-1' }, 'Auto'),
		names.map((n, i) => h('option', { value: String(i) }, n)));
	select.addEventListener('change', () => { hls.currentLevel = Number(select.value); });
	return h('p', {}, h('label', { for: 'quality' }, 'Quality '), select);
}

async function player(id) {
	await stopPlayback();
	if (!store.token) { location.hash = '#/login'; return; }
	show('Starting playback', h('p', { class: 'muted' }, 'Starting…'));
	let s;
	const resume = savedPosition(id);
	try {
		const j = await api('POST', '/content/' + encodeURIComponent(id) + '/stream', {
			deviceId: deviceId(), deviceName: browserName(), deviceType: 'web',
		});
		s = j.data;
	} catch (e) {
		if (e.status === 429 && e.code === 'CONCURRENT_LIMIT_EXCEEDED') return limitScreen(id, e);
		if (e.code === 'DEVICE_LIMIT_REACHED') return deviceLimitScreen(id, e);
		if (e.code === 'AGE_RESTRICTED') {
			show('Cannot play', h('h1', {}, 'Cannot play this title'), agePinPrompt(e, () => player(id)),
				h('p', {}, h('a', { href: '#/' }, 'Back to browse')));
			main().querySelector('#pin-unlock input')?.focus();
			return;
		}
		const up = e.code === 'TIER_TOO_LOW' || e.code === 'SUBSCRIPTION_REQUIRED';
		show('Cannot play', h('h1', {}, 'Cannot play this title'), errorBox(e),
			h('p', {}, up ? h('a', { href: '#/plans', class: 'button' }, 'See plans') : null, ' ',
				h('a', { href: '#/content/' + encodeURIComponent(id) }, 'Back')));
		return;
	}
	if (location.hash !== '#/play/' + encodeURIComponent(id)) {
		// the user left while the start was on its way
		api('POST', '/stream/stop', { sessionId: s.sessionId, playbackPosition: 0 }).catch(() => {});
		return;
	}
	const video = h('video', { id: 'video', controls: true, playsinline: true, muted: true, autoplay: true });
	const note = h('p', { class: 'muted' }, `Quality ${s.quality} · screen ${s.currentStreams} of ${s.maxConcurrentStreams}`);
	const msg = h('div', {});
	const picker = h('div', { class: 'quality' });
	const heading = h('h1', { class: 'player-title' }, 'Playing');
	// the title's name, once the start has shown it may be watched
	api('GET', '/content/' + encodeURIComponent(id)).then((j) => j.data.content, () => null).then((c) => {
		if (c && c.title) { heading.textContent = c.title; document.title = `${c.title} · Streaming`; }
	});
	show('Playing', heading, h('div', { class: 'player' }, video), msg, note, picker,
		h('p', {}, h('a', { href: '#/content/' + encodeURIComponent(id) }, 'Back to details')));
	playback = { sessionId: s.sessionId, video, hls: null, timer: null };
	// start where the title was left off, unless that is (nearly) its end
	const from = await resume;
	if (from > 0) {
		const seek = () => {
			if (from < (video.duration || 0) - 1) {
				video.currentTime = from;
				video.dataset.start = String(from);
				note.append(` · resumed at ${Math.floor(from / 60)}:${String(Math.floor(from % 60)).padStart(2, '0')}`);
			}
		};
		if (video.readyState >= 1) seek(); else video.addEventListener('loadedmetadata', seek, { once: true });
	}
	// hls.js where the browser has Media Source Extensions (it says which
	// renditions the master playlist offered); native HLS otherwise (Safari)
	const Hls = window.Hls;
	const shown = (names) => {
		video.dataset.renditions = names.join(',');
		note.append(` · renditions ${names.join(', ')}`);
	};
	if (Hls && Hls.isSupported()) {
		const hls = new Hls();
		playback.hls = hls;
		hls.on(Hls.Events.ERROR, (_ev, data) => {
			if (data.fatal) msg.replaceChildren(h('div', { class: 'alert', role: 'alert' }, 'Playback failed. Try again.'));
		});
		hls.on(Hls.Events.MANIFEST_PARSED, (_ev, data) => {
			const names = (data.levels || []).map((l) => l.name || (l.height ? l.height + 'p' : '?'));
			shown(names);
			if (names.length > 1) picker.replaceChildren(qualityPicker(hls, names));
		});
		hls.loadSource(s.streamUrl);
		hls.attachMedia(video);
	} else if (video.canPlayType('application/vnd.apple.mpegurl')) {
		video.src = s.streamUrl;
	} else {
		msg.replaceChildren(h('div', { class: 'alert', role: 'alert' }, 'This browser cannot play HLS video.'));
	}
	video.play().catch(() => { /* autoplay refused: the controls are there */ });
	const every = Math.max(1, Number(s.heartbeatInterval) || 30) * 1000;
	const mine = playback;
	playback.timer = setInterval(async () => {
		try {
			await api('POST', '/content/stream/heartbeat', { sessionId: mine.sessionId, playbackPosition: currentPosition() });
		} catch (e) {
			if (e.status === 410 && playback === mine) {
				playback.sessionId = null;
				await stopPlayback();
				msg.replaceChildren(h('div', { class: 'alert', role: 'alert' }, 'This session was ended (perhaps from another screen).'));
			}
		}
	}, every);
}

window.addEventListener('pagehide', () => {
	if (playback && playback.sessionId) {
		// keepalive lets the stop outlive the page
		api('POST', '/stream/stop', { sessionId: playback.sessionId, playbackPosition: currentPosition() }).catch(() => {});
		playback.sessionId = null;
	}
});


onLeave(async (path) => {
	if (playback && !path.startsWith('/play/')) await stopPlayback();
});

addRoute(/^\/login$/, () => authPage('login'));
addRoute(/^\/signup$/, () => authPage('signup'));
addRoute(/^\/plans$/, () => plans());
addRoute(/^\/content\/([^/]+)$/, (id) => details(id));
addRoute(/^\/play\/([^/]+)$/, (id) => player(id));
addRoute(/^\/$/, (params) => catalogue(params));

export { card, catalogue };
