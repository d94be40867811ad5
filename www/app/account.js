// The account pages (#/account/...): the plan and its history, devices, the
// live streaming sessions, continue watching with history and stats,
// parental controls, offline downloads, and the profile. Also the small
// shared pieces other pages use: a confirmation dialog, refreshing the stored
// user after a change of plan, the parental-controls PIN prompt.
import {
	LEVELS, store, deviceId, api, h, show, errorBox, field, levelBadge, renderNav, addRoute,
	logout, announce,
} from './core.js';

// ------------------------------------------------------------------ shared pieces

export function formatDate(iso) {
	if (!iso) return '—';
	const d = new Date(iso);
	return isNaN(d) ? '—' : d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatDateTime(iso) {
	if (!iso) return '—';
	const d = new Date(iso);
	return isNaN(d) ? '—' : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function formatSeconds(s) {
	s = Math.max(0, Math.floor(Number(s) || 0));
	const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
	return hh ? `${hh}h ${mm}m` : mm ? `${mm}m ${ss}s` : `${ss}s`;
}

// The stored user (and so the nav) follows a change of plan or profile.
export async function refreshUser() {
	try {
		const j = await api('GET', '/auth/me');
		if (j.data && j.data.user) store.save({ user: j.data.user });
	} catch { /* the next page load tries again */ }
	renderNav();
}

// A modal <dialog>: body nodes, a confirm label; onConfirm(form) runs the
// change and returns normally (the dialog closes) or throws (the error is
// shown inside the dialog, which stays open). Escape and Cancel close it.
export function confirmDialog({ title, body, confirm, danger, onConfirm }) {
	const msg = h('div', {});
	const ok = h('button', { type: 'submit', class: 'button' + (danger ? ' danger' : ''), id: 'confirm' }, confirm);
	const cancel = h('button', { type: 'button', class: 'button ghost' }, 'Cancel');
	const form = h('form', { method: 'dialog' },
		h('h2', { id: 'dlg-h' }, title), msg, ...[].concat(body || []),
		h('div', { class: 'actions' }, ok, cancel));
	const dlg = h('dialog', { class: 'card dialog', 'aria-labelledby': 'dlg-h' }, form);
	const back = document.activeElement;
	const close = () => { dlg.close(); dlg.remove(); if (back && back.isConnected) back.focus(); };
	cancel.addEventListener('click', close);
	dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); close(); });
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		ok.disabled = true;
		msg.replaceChildren();
		try {
			await onConfirm(form);
			close();
		} catch (e) {
			msg.replaceChildren(errorBox(e));
			ok.disabled = false;
		}
	});
	document.body.append(dlg);
	dlg.showModal();
	return dlg;
}

// The PIN prompt for a title parental controls hide: the contract unlocks
// nothing per title, so the PIN turns the controls off for the account
// (the account page turns them on again); then retry() runs.
export function agePinPrompt(err, retry) {
	const msg = h('div', {});
	const form = h('form', { class: 'card pin-unlock', id: 'pin-unlock', novalidate: true },
		h('h2', {}, 'Parental controls'),
		h('p', {}, err.message, ' Enter the parental-controls PIN to turn them off and watch.'),
		msg,
		field('PIN', 'unlock-pin', 'password', { inputmode: 'numeric', autocomplete: 'off', pattern: '[0-9]{4,6}', maxlength: 6 }),
		h('button', { type: 'submit', class: 'button' }, 'Turn off and continue'));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		msg.replaceChildren();
		try {
			await api('PUT', '/users/parental-controls', { enabled: false, pin: form['unlock-pin'].value });
			retry();
		} catch (e) {
			msg.replaceChildren(errorBox(e));
			form['unlock-pin'].select();
		}
	});
	return form;
}

// ------------------------------------------------------------------ layout

const TABS = [
	['', 'Plan'],
	['watching', 'Watching'],
	['sessions', 'Screens'],
	['devices', 'Devices'],
	['downloads', 'Downloads'],
	['parental', 'Parental controls'],
	['profile', 'Profile'],
];

// the tab bar and a body to fill; returns the body
function frame(tab, title) {
	const body = h('div', { class: 'tab-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
	show(title,
		h('h1', {}, 'Account'),
		h('nav', { class: 'tabs', 'aria-label': 'Account sections' },
			TABS.map(([t, label]) => h('a', {
				href: '#/account' + (t ? '/' + t : ''), 'aria-current': t === tab ? 'page' : undefined,
			}, label))),
		h('section', { class: 'tab', 'aria-labelledby': 'tab-h' }, h('h2', { id: 'tab-h' }, title), body));
	return body;
}

function fill(body, ...nodes) {
	body.replaceChildren(...nodes.filter(Boolean));
	body.removeAttribute('aria-busy');
}

function empty(text) {
	return h('p', { class: 'muted empty' }, text);
}

// a row's action button: runs fn, shows errors in msg, re-renders with again()
function actionButton(label, attrs, msg, fn) {
	return h('button', {
		type: 'button', class: 'button small ghost', ...attrs,
		onclick: async (ev) => {
			const b = ev.currentTarget;
			b.disabled = true;
			msg.replaceChildren();
			try {
				await fn();
			} catch (e) {
				msg.replaceChildren(errorBox(e));
				b.disabled = false;
			}
		},
	}, label);
}

function needLogin() {
	if (store.token) return false;
	location.hash = '#/login';
	return true;
}

// ------------------------------------------------------------------ plan

function planSummary(s, msg, again) {
	if (!s) {
		return h('div', { class: 'card summary', id: 'plan-summary' },
			h('p', {}, 'You are on the ', h('strong', {}, 'Free'), ' plan.'),
			h('p', {}, h('a', { href: '#/plans', class: 'button' }, 'Choose a plan')));
	}
	const cancelled = !!s.cancellationDetails;
	return h('div', { class: 'card summary', id: 'plan-summary' },
		h('p', { class: 'plan-name' }, h('strong', {}, s.plan.name), ' ', levelBadge(s.plan.accessLevel),
			' ', h('span', { class: 'status status-' + s.status }, s.status)),
		h('dl', { class: 'facts' },
			h('dt', {}, s.autoRenew ? 'Renews on' : 'Ends on'), h('dd', { id: 'plan-end' }, formatDate(s.endDate),
				s.daysRemaining !== undefined ? h('span', { class: 'muted' }, ` (${s.daysRemaining} days left)`) : null),
			h('dt', {}, 'Auto-renew'), h('dd', { id: 'plan-renew' }, s.autoRenew ? 'On' : 'Off'),
			h('dt', {}, 'Screens at once'), h('dd', {}, String(s.plan.maxConcurrentStreams ?? '—')),
			h('dt', {}, 'Devices'), h('dd', {}, String(s.plan.maxDevicesAllowed ?? '—')),
			h('dt', {}, 'Best quality'), h('dd', {}, s.plan.resolution || '—'),
			cancelled ? [h('dt', {}, 'Cancelled'), h('dd', {}, formatDateTime(s.cancellationDetails.cancelledAt))] : null),
		h('div', { class: 'actions' },
			s.plan.accessLevel !== LEVELS[LEVELS.length - 1] ? h('a', { href: '#/plans', class: 'button' }, 'Upgrade') : null,
			!cancelled && s.autoRenew ? h('button', {
				type: 'button', class: 'button ghost danger', id: 'cancel-sub',
				onclick: () => confirmDialog({
					title: `Cancel ${s.plan.name}?`,
					body: [h('p', {}, `Your plan stays active until ${formatDate(s.endDate)} and is not renewed.`),
						h('div', { class: 'field' }, h('label', { for: 'f-reason' }, 'Reason (optional)'),
							h('input', { id: 'f-reason', name: 'reason', type: 'text', maxlength: 500 }))],
					confirm: 'Cancel subscription',
					danger: true,
					onConfirm: async (form) => {
						const reason = form.reason.value.trim();
						await api('PUT', '/subscriptions/cancel', reason ? { reason } : {});
						await refreshUser();
						announce('Subscription cancelled');
						again();
					},
				}),
			}, 'Cancel subscription') : null),
		msg);
}

async function planTab() {
	if (needLogin()) return;
	const body = frame('', 'Your plan');
	const msg = h('div', {});
	try {
		const [st, hist] = await Promise.all([
			api('GET', '/subscriptions/status'),
			api('GET', '/subscriptions/history?limit=20'),
		]);
		const subs = (hist.data && hist.data.subscriptions) || [];
		fill(body, planSummary(st.data.subscription, msg, planTab),
			h('h3', {}, 'Subscription history'),
			subs.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'sub-history' },
				h('thead', {}, h('tr', {}, ['Plan', 'Status', 'Started', 'Ended', 'Paid'].map((c) => h('th', { scope: 'col' }, c)))),
				h('tbody', {}, subs.map((s) => h('tr', {},
					h('td', {}, s.plan ? s.plan.name : '—'),
					h('td', {}, s.status),
					h('td', {}, formatDate(s.startDate)),
					h('td', {}, formatDate(s.endedAt || s.endDate)),
					h('td', {}, s.paymentDetails ? `${Number(s.paymentDetails.amount).toFixed(2)} ${s.paymentDetails.currency}` : '—'))))))
				: empty('No subscriptions yet.'));
	} catch (e) {
		fill(body, errorBox(e));
	}
}

// ------------------------------------------------------------------ devices

async function devicesTab() {
	if (needLogin()) return;
	const body = frame('devices', 'Devices');
	const msg = h('div', {});
	try {
		const j = await api('GET', '/users/devices');
		const list = (j.data && j.data.devices) || [];
		const me = deviceId();
		fill(body, h('p', { class: 'muted' }, 'Each plan allows a number of devices. Removing one frees its slot.'), msg,
			list.length ? h('ul', { class: 'rows', id: 'devices' }, list.map((d) => h('li', {},
				h('span', { class: 'row-main' }, h('strong', {}, d.deviceName || d.deviceId),
					d.deviceId === me ? h('span', { class: 'tag' }, 'This browser') : null,
					h('span', { class: 'muted' }, `${d.deviceType || 'device'} · last used ${formatDateTime(d.lastUsed)}`)),
				actionButton('Remove', { 'data-device': d.deviceId, 'aria-label': `Remove ${d.deviceName || d.deviceId}` }, msg, async () => {
					await api('DELETE', '/users/devices/' + encodeURIComponent(d.deviceId));
					announce('Device removed');
					devicesTab();
				}))))
				: empty('No devices yet: a device is registered when it first plays or downloads.'));
	} catch (e) {
		fill(body, errorBox(e));
	}
}

// ------------------------------------------------------------------ live sessions

// sessions and licences name their title by id: look the titles up (a few at most)
async function titlesOf(ids) {
	const titles = {};
	await Promise.all([...new Set(ids)].map(async (id) => {
		try { titles[id] = (await api('GET', '/content/' + encodeURIComponent(id))).data.content.title; } catch { /* keep the id */ }
	}));
	return titles;
}

async function sessionsTab() {
	if (needLogin()) return;
	const body = frame('sessions', 'Screens watching now');
	const msg = h('div', {});
	try {
		const j = await api('GET', '/stream/sessions');
		const list = (j.data && j.data.sessions) || [];
		const titles = await titlesOf(list.map((x) => x.contentId));
		const me = deviceId();
		fill(body, msg,
			list.length ? h('ul', { class: 'rows', id: 'sessions' }, list.map((s) => h('li', { 'data-session': s.sessionId },
				h('span', { class: 'row-main' },
					h('strong', {}, s.deviceName || s.deviceId),
					s.deviceId === me ? h('span', { class: 'tag', 'data-current': 'true' }, 'This browser') : null,
					h('span', { class: 'muted' }, 'Watching ',
						h('a', { href: '#/content/' + encodeURIComponent(s.contentId) }, titles[s.contentId] || `title ${s.contentId}`),
						` · ${s.quality || ''} · since ${formatDateTime(s.startedAt)}`)),
				actionButton('Sign out this screen', { 'data-session': s.sessionId }, msg, async () => {
					await api('DELETE', '/stream/sessions/' + encodeURIComponent(s.sessionId));
					announce('Screen signed out');
					sessionsTab();
				}))))
				: empty('Nothing is playing on any screen.'),
			h('p', {}, h('button', { type: 'button', class: 'button ghost small', onclick: () => sessionsTab() }, 'Refresh')));
	} catch (e) {
		fill(body, errorBox(e));
	}
}

// ------------------------------------------------------------------ watching

function progressBar(pct) {
	const p = Math.max(0, Math.min(100, Number(pct) || 0));
	return h('progress', { max: '100', value: String(p), 'aria-label': `${p}% watched` });
}

async function watchingTab() {
	if (needLogin()) return;
	const body = frame('watching', 'Watching');
	const msg = h('div', {});
	try {
		const [cw, recent, stats] = await Promise.all([
			api('GET', '/watch-history/continue-watching?limit=20'),
			api('GET', '/watch-history/recent?limit=50'),
			api('GET', '/watch-history/stats'),
		]);
		const cont = (cw.data && cw.data.continueWatching) || [];
		const rec = (recent.data && recent.data.recent) || [];
		const st = (stats.data && stats.data.stats) || {};
		fill(body,
			h('h3', {}, 'Continue watching'),
			cont.length ? h('ul', { class: 'resume-list', id: 'continue' }, cont.map((w) => h('li', { class: 'card resume' },
				h('a', { href: '#/play/' + encodeURIComponent(w.content.id), 'data-content': w.content.id, 'data-position': w.watchedDuration },
					h('strong', {}, w.content.title),
					h('span', { class: 'muted' }, `Resume at ${formatSeconds(w.watchedDuration)}`)),
				progressBar(w.progress))))
				: empty('Nothing to continue.'),
			h('h3', {}, 'Recently watched'), msg,
			rec.length ? h('ul', { class: 'rows', id: 'recent' }, rec.map((w) => h('li', {},
				h('span', { class: 'row-main' },
					h('a', { href: '#/content/' + encodeURIComponent(w.content.id) }, w.content.title),
					h('span', { class: 'muted' }, `${w.status} · ${w.progress}% · ${formatDateTime(w.lastWatchedAt)}`)),
				actionButton('Remove from history', { 'data-content': w.content.id, 'aria-label': `Remove from history: ${w.content.title}` }, msg, async () => {
					await api('DELETE', '/watch-history/' + encodeURIComponent(w.content.id));
					announce('Removed from history');
					watchingTab();
				}))))
				: empty('No history yet.'),
			h('h3', {}, 'Your stats'),
			h('dl', { class: 'facts stats', id: 'stats' },
				h('dt', {}, 'Watch time'), h('dd', {}, formatSeconds(st.totalWatchTime)),
				h('dt', {}, 'Titles watched'), h('dd', {}, String(st.totalContentWatched ?? 0)),
				h('dt', {}, 'Completed'), h('dd', {}, String(st.completedContent ?? 0)),
				h('dt', {}, 'Average completion'), h('dd', {}, `${Math.round(Number(st.averageCompletionRate) || 0)}%`),
				h('dt', {}, 'Favourite genres'), h('dd', {}, (st.favoriteGenres || []).map((g) => g.genre).join(', ') || '—')));
	} catch (e) {
		fill(body, errorBox(e));
	}
}

// ------------------------------------------------------------------ parental controls

const AGES = [0, 7, 10, 13, 14, 17, 18];

async function parentalTab() {
	if (needLogin()) return;
	const body = frame('parental', 'Parental controls');
	try {
		const j = await api('GET', '/users/parental-controls');
		const pc = j.data.parentalControls;
		const msg = h('div', {});
		const enabled = h('input', { type: 'checkbox', id: 'f-pc-enabled', name: 'enabled', checked: pc.enabled });
		const age = h('select', { id: 'f-pc-age', name: 'maxAge' },
			AGES.map((a) => h('option', { value: String(a), selected: a === pc.maxAge }, a === 18 ? 'Everything (18+)' : `Up to age ${a}`)));
		const form = h('form', { class: 'card', id: 'parental', novalidate: true },
			h('p', { id: 'pc-status' }, 'Parental controls are ', h('strong', {}, pc.enabled ? 'on' : 'off'),
				pc.enabled ? ` · titles above age ${pc.maxAge} are hidden.` : '.'),
			msg,
			h('div', { class: 'field check' }, enabled, h('label', { for: 'f-pc-enabled' }, 'Hide titles above the age limit')),
			h('div', { class: 'field' }, h('label', { for: 'f-pc-age' }, 'Age limit'), age),
			field(pc.pinSet ? 'PIN' : 'Choose a PIN (4–6 digits)', 'pc-pin', 'password',
				{ inputmode: 'numeric', autocomplete: 'off', pattern: '[0-9]{4,6}', maxlength: 6, 'aria-describedby': 'pc-help' }),
			h('p', { class: 'help', id: 'pc-help' }, pc.pinSet ? 'Every change needs the PIN.' : 'The PIN guards every later change.'),
			h('button', { type: 'submit', class: 'button' }, 'Save'));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			msg.replaceChildren();
			try {
				await api('PUT', '/users/parental-controls', {
					enabled: enabled.checked, maxAge: Number(age.value), pin: form['pc-pin'].value,
				});
				announce('Parental controls saved');
				parentalTab();
			} catch (e) {
				msg.replaceChildren(errorBox(e));
				form['pc-pin'].focus();
			}
		});
		const resetMsg = h('div', {});
		const reset = h('form', { class: 'card', id: 'pin-reset', novalidate: true },
			h('h3', {}, 'Forgot the PIN?'),
			h('p', { class: 'muted' }, 'Your account password sets a new PIN.'),
			resetMsg,
			h('input', { type: 'text', name: 'username', autocomplete: 'username', value: (store.user || {}).email || '', hidden: true, readonly: true }),
			field('Account password', 'pr-password', 'password', { autocomplete: 'current-password' }),
			field('New PIN', 'pr-pin', 'password', { inputmode: 'numeric', autocomplete: 'off', pattern: '[0-9]{4,6}', maxlength: 6 }),
			h('button', { type: 'submit', class: 'button ghost' }, 'Set new PIN'));
		reset.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			resetMsg.replaceChildren();
			try {
				await api('POST', '/users/parental-controls/reset-pin', { password: reset['pr-password'].value, newPin: reset['pr-pin'].value });
				announce('PIN replaced');
				parentalTab();
			} catch (e) {
				resetMsg.replaceChildren(errorBox(e));
			}
		});
		fill(body, form, pc.pinSet ? reset : null);
	} catch (e) {
		fill(body, errorBox(e));
	}
}

// ------------------------------------------------------------------ downloads

async function downloadsTab() {
	if (needLogin()) return;
	const body = frame('downloads', 'Downloads');
	const msg = h('div', {});
	try {
		const j = await api('GET', '/downloads');
		const list = (j.data && j.data.downloads) || [];
		const titles = await titlesOf(list.map((d) => d.contentId));
		const me = deviceId();
		fill(body, h('p', { class: 'muted' }, 'Offline licences for your devices. Plans with downloads offer “Download” on a title’s page.'), msg,
			list.length ? h('ul', { class: 'rows', id: 'downloads' }, list.map((d) => h('li', { 'data-download': d.id },
				h('span', { class: 'row-main' },
					h('a', { href: '#/content/' + encodeURIComponent(d.contentId) }, titles[d.contentId] || `Title ${d.contentId}`),
					h('span', { class: 'muted' }, `${d.quality} · ${d.deviceId === me ? 'this browser' : d.deviceId} · expires ${formatDate(d.expiresAt)}`)),
				actionButton('Remove', { 'data-download': d.id, 'aria-label': `Remove the download of ${titles[d.contentId] || d.contentId}` }, msg, async () => {
					await api('DELETE', '/downloads/' + encodeURIComponent(d.id));
					announce('Download removed');
					downloadsTab();
				}))))
				: empty('No downloads.'));
	} catch (e) {
		fill(body, errorBox(e));
	}
}

// the details page's Download action: a licence for this browser
export function downloadButton(contentId) {
	const u = store.user;
	const plan = u && u.subscription && u.subscription.plan;
	if (!plan || !(Number(plan.maxDownloads) > 0)) return null;
	const out = h('div', { class: 'download-result', 'aria-live': 'polite' });
	const b = h('button', {
		type: 'button', class: 'button ghost', id: 'download',
		onclick: async () => {
			b.disabled = true;
			out.replaceChildren();
			try {
				const j = await api('POST', '/content/' + encodeURIComponent(contentId) + '/download', { deviceId: deviceId() });
				const d = j.data.download;
				out.replaceChildren(h('div', { class: 'alert info', id: 'download-ok' },
					`Downloaded in ${d.quality} for this browser; the licence expires ${formatDate(d.expiresAt)}. `,
					h('a', { href: '#/account/downloads' }, 'Your downloads')));
			} catch (e) {
				out.replaceChildren(errorBox(e));
			}
			b.disabled = false;
		},
	}, '⤓ Download');
	return h('span', { class: 'download' }, b, out);
}

// ------------------------------------------------------------------ profile

async function profileTab() {
	if (needLogin()) return;
	const body = frame('profile', 'Profile');
	const u = store.user || {};
	const nameMsg = h('div', {});
	const nameForm = h('form', { class: 'card', id: 'profile-form', novalidate: true },
		h('h3', {}, 'Your details'), nameMsg,
		field('Name', 'p-name', 'text', { value: u.name || '', autocomplete: 'name', minlength: 2, maxlength: 100 }),
		h('p', { class: 'muted' }, 'Email: ', u.email || '—'),
		h('button', { type: 'submit', class: 'button' }, 'Save'));
	nameForm.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		nameMsg.replaceChildren();
		try {
			const j = await api('PUT', '/users/profile', { name: nameForm['p-name'].value.trim() });
			store.save({ user: { ...u, ...j.data.user } });
			renderNav();
			nameMsg.replaceChildren(h('div', { class: 'alert info', role: 'status' }, 'Saved.'));
		} catch (e) {
			nameMsg.replaceChildren(errorBox(e));
		}
	});
	const pwMsg = h('div', {});
	const pwForm = h('form', { class: 'card', id: 'password-form', novalidate: true },
		h('h3', {}, 'Change password'), pwMsg,
		// for password managers: the account the new password belongs to
		h('input', { type: 'text', name: 'username', autocomplete: 'username', value: u.email || '', hidden: true, readonly: true }),
		field('Current password', 'p-current', 'password', { autocomplete: 'current-password' }),
		field('New password', 'p-new', 'password', { autocomplete: 'new-password', 'aria-describedby': 'p-new-help' }),
		h('p', { class: 'help', id: 'p-new-help' }, 'At least 8 characters, with an upper-case letter, a lower-case letter and a digit. Other devices are signed out.'),
		h('button', { type: 'submit', class: 'button' }, 'Change password'));
	pwForm.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		pwMsg.replaceChildren();
		try {
			const j = await api('PUT', '/auth/change-password', {
				currentPassword: pwForm['p-current'].value, newPassword: pwForm['p-new'].value,
			});
			store.save(j.data);
			pwForm.reset();
			pwMsg.replaceChildren(h('div', { class: 'alert info', role: 'status' }, 'Password changed; other devices were signed out.'));
		} catch (e) {
			pwMsg.replaceChildren(errorBox(e));
		}
	});
	fill(body, nameForm, pwForm,
		h('div', { class: 'card' }, h('h3', {}, 'Sign out'),
			h('button', { type: 'button', class: 'button ghost', id: 'profile-logout', onclick: logout }, 'Log out')));
}

addRoute(/^\/account\/?$/, () => planTab());
addRoute(/^\/account\/devices$/, () => devicesTab());
addRoute(/^\/account\/sessions$/, () => sessionsTab());
addRoute(/^\/account\/watching$/, () => watchingTab());
addRoute(/^\/account\/parental$/, () => parentalTab());
addRoute(/^\/account\/downloads$/, () => downloadsTab());
addRoute(/^\/account\/profile$/, () => profileTab());
