// Browser test of the admin pages of the web client (www/app/admin.js).
//
//   SP_TEST_BASE=http://127.0.0.1:18080 SP_SCREENSHOTS=var/test/screenshots \
//     SP_ADMIN_EMAIL=admin@streaming.local SP_ADMIN_PASSWORD=Admin12345 \
//     node tests/browser/admin.test.mjs
//
// Steps: a viewer (signed up and subscribed through the API) plays a title in
// its own browser → the admin logs in through the page and sees that session
// on the dashboard (live streams, top streamers), which refreshes by itself
// and stops polling once left → the aggregate job runs (scripts/dev worker,
// on the stack named by SP_STACK, default "test") and the analytics page
// draws its charts and tables → a plan is created (per-field errors first),
// edited and deactivated → a title is created (per-field errors first),
// found, edited and deactivated → an account locked by failed logins is
// unlocked from the users page and signs in, then is switched off (its
// sign-in refused) and on again → a non-admin gets the
// not-allowed page, also when the API's 403 is what tells → phone width.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
	BASE, root, problems, check, expectErrors, shot, launch, newScreen, logIn, waitPlaying, finish,
} from './lib.mjs';

const P = 'admin';
const ADMIN_EMAIL = process.env.SP_ADMIN_EMAIL || 'admin@streaming.local';
const ADMIN_PASSWORD = process.env.SP_ADMIN_PASSWORD || 'Admin12345';
const DEV = process.env.SP_DEV || join(root, 'scripts/dev');
const STACK = process.env.SP_STACK || process.env.SP_TEST_STACK || 'test';
const PASSWORD = 'Admintest123';
const RUN = `${Date.now()}-${process.pid}`;

// each caller its own client address (the test stack trusts forwarded
// headers from loopback), so the per-IP limit on login and register (5 per
// 15 minutes) never meets another step, run or suite
const octet = () => Math.floor(Math.random() * 250) + 1;
const freshIp = () => `198.19.${octet()}.${octet()}`;

// the API from node
async function call(method, path, body, token, ip) {
	const headers = { 'X-Forwarded-For': ip || freshIp() };
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	if (token) headers.Authorization = 'Bearer ' + token;
	const r = await fetch(BASE + '/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
	let json = null;
	try { json = await r.json(); } catch { json = null; }
	return { status: r.status, json };
}

async function register(name, email) {
	const r = await call('POST', '/auth/register', { name, email, password: PASSWORD });
	if (r.status !== 201) throw new Error(`register ${email}: ${r.status} ${JSON.stringify(r.json)}`);
	return r.json.data;
}

async function screen(browser, label, viewport) {
	const s = await newScreen(browser, label, viewport);
	await s.ctx.setExtraHTTPHeaders({ 'X-Forwarded-For': freshIp() });
	return s;
}

function worker(job, now) {
	return new Promise((resolve) => {
		execFile(DEV, ['worker', job, '--now', now], { env: { ...process.env, SP_STACK: STACK, SP_LOG_FILE: '' }, timeout: 60000 },
			(err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}`.trim() }));
	});
}

const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
const tab = (page, name) => page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name, exact: true });
const text = (page, sel) => page.locator(sel).first().textContent({ timeout: 10000 });

async function run() {
	const browser = await launch();
	try {
		// ---------------------------------------------------------- a viewer plays
		const viewerEmail = `admin-view-${RUN}@example.com`;
		const viewer = await register('Dashboard Viewer', viewerEmail);
		const plans = await call('GET', '/subscriptions/plans');
		const basic = plans.json.data.plans.find((p) => p.name === 'Basic');
		const sub = await call('POST', '/subscriptions/subscribe', { planId: basic.id, paymentMethod: 'card' }, viewer.token);
		check(sub.status === 201, `the viewer subscribes to Basic → 201 (got ${sub.status})`);
		const titles = await call('GET', '/content?accessLevel=Basic&limit=5', undefined, viewer.token);
		const title = titles.json.data.content[0];

		const v = await screen(browser, 'viewer');
		// a page that fetches nothing: a late answer of another page must not
		// replace the player
		await v.page.goto(BASE + '/#/login');
		await v.page.waitForSelector('form input[name=email]');
		await v.page.evaluate((d) => {
			sessionStorage.setItem('sp.token', d.token);
			sessionStorage.setItem('sp.refresh', d.refreshToken);
			sessionStorage.setItem('sp.user', JSON.stringify(d.user));
		}, viewer);
		await v.page.goto(`${BASE}/#/play/${title.id}`);
		check(await waitPlaying(v.page, 45), `the viewer plays "${title.title}": video.currentTime advances`);

		// ---------------------------------------------------------- the admin sees it
		const a = await screen(browser, 'admin');
		let metricsCalls = 0;
		a.page.on('request', (r) => { if (r.url().includes('/api/v1/admin/metrics')) metricsCalls++; });
		await logIn(a.page, ADMIN_EMAIL, ADMIN_PASSWORD);
		await a.page.getByRole('link', { name: 'Admin', exact: true }).click();
		await a.page.waitForSelector('#metrics', { timeout: 15000 });
		let seen = false;
		try {
			await a.page.waitForFunction((email) => (document.querySelector('#top-streamers')?.textContent || '').includes(email),
				viewerEmail, { timeout: 20000, polling: 250 });
			seen = true;
		} catch { seen = false; }
		check(seen, 'the dashboard lists the viewer among the top streamers');
		const live = parseInt((await text(a.page, '#m-streams')).replace(/\D/g, ''), 10);
		check(live >= 1, `the dashboard shows live streams ≥ 1 (${live})`);
		const row = a.page.locator('#top-streamers tr', { hasText: viewerEmail });
		check((await row.locator('td.num').textContent()).trim() === '1', 'the viewer streams 1 title');
		check((await a.page.locator('#subs-by-plan tbody tr').count()) >= 4, 'subscriptions per plan list every plan');
		check(/USD/.test(await text(a.page, '#m-mrr')), 'monthly recurring revenue is shown');
		await shot(a.page, P, 'dashboard');

		// it refreshes by itself, and stops when left
		const stamp = await text(a.page, '#m-updated');
		let refreshed = true;
		try {
			await a.page.waitForFunction((s) => document.querySelector('#m-updated')?.textContent !== s, stamp, { timeout: 12000 });
		} catch { refreshed = false; }
		check(refreshed, 'the dashboard refreshes by itself');

		await row.getByRole('link').click();
		await a.page.waitForSelector('#user-edit', { timeout: 10000 });
		check((await text(a.page, '#user-edit')).includes(viewerEmail), 'a top streamer links to that account');
		const before = metricsCalls;
		await a.page.waitForTimeout(6000);
		check(metricsCalls === before, `the dashboard stops polling once left (${metricsCalls - before} calls since)`);

		// ---------------------------------------------------------- analytics
		const now = `${day(1)}T00:30:00.000Z`; // the day after today: today is aggregated
		const job = await worker('aggregate', now);
		check(job.ok, `scripts/dev worker aggregate --now ${now} (stack ${STACK}) runs${job.ok ? '' : ': ' + job.out.slice(-300)}`);
		await tab(a.page, 'Analytics').click();
		await a.page.waitForSelector('#range-form');
		await a.page.getByLabel('From', { exact: true }).fill(day(-6));
		await a.page.getByLabel('To', { exact: true }).fill(day(0));
		await a.page.getByRole('button', { name: 'Show' }).click();
		await a.page.waitForFunction(() => document.querySelector('#chart-daily canvas') && document.querySelector('#daily-table'), null, { timeout: 15000 });
		await a.page.waitForSelector('#chart-top canvas', { timeout: 10000 });
		const dayRows = await a.page.locator('#daily-table tbody tr').count();
		check(dayRows >= 1, `the daily table has rows (${dayRows})`);
		check(await a.page.locator('#daily-table tbody tr', { hasText: day(0) }).count() === 1, 'today is among the aggregated days');
		check(await a.page.locator('#top-table tbody tr', { hasText: title.title }).count() === 1, `"${title.title}" is among the top titles`);
		check(await a.page.locator('#chart-daily canvas').count() >= 1 && await a.page.locator('#chart-top canvas').count() >= 1,
			'both charts are drawn (uPlot canvases)');
		const drawn = await a.page.evaluate(() => {
			const c = document.querySelector('#chart-daily canvas');
			const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			let n = 0;
			for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
			return n;
		});
		check(drawn > 500, `the daily chart has ink (${drawn} pixels)`);
		await a.page.waitForTimeout(500);
		const charts = await a.page.evaluate(() => [document.querySelectorAll('#chart-daily .uplot').length, document.querySelectorAll('#chart-top .uplot').length]);
		check(charts[0] === 1 && charts[1] === 1, `one chart each, drawn once (${charts})`);
		await shot(a.page, P, 'analytics');

		// ---------------------------------------------------------- plans
		await tab(a.page, 'Plans').click();
		await a.page.waitForSelector('#plans-table');
		check(await a.page.locator('#plans-table tbody tr').count() >= 4, 'the plans page lists the plans');
		await a.page.locator('#new-plan').click();
		await a.page.waitForSelector('#plan-form');
		await a.page.locator('#e-name').fill('X');
		await a.page.locator('#e-price').fill('');
		expectErrors(1, /status of 400/);
		await a.page.getByRole('button', { name: 'Create plan' }).click();
		await a.page.waitForFunction(() => document.querySelector('#e-name-err')?.textContent && document.querySelector('#e-price-err')?.textContent);
		check(await a.page.locator('#e-name').getAttribute('aria-invalid') === 'true', 'a bad plan name is marked at its field');
		check(expectErrors() === 0, 'the 400 was the only error on the way');
		await shot(a.page, P, 'plan-errors');
		const planName = `Family ${RUN.slice(-9)}`;
		await a.page.locator('#e-name').fill(planName);
		await a.page.locator('#e-accessLevel').selectOption('Ultimate');
		await a.page.locator('#e-price').fill('24.99');
		await a.page.locator('#e-resolution').selectOption('4K');
		await a.page.locator('#e-maxConcurrentStreams').fill('4');
		await a.page.locator('#e-maxDevicesAllowed').fill('8');
		await a.page.locator('#e-features').fill('4K\n4 screens');
		await a.page.locator('#e-displayOrder').fill('90');
		await a.page.getByRole('button', { name: 'Create plan' }).click();
		await a.page.waitForFunction(() => /Plan created/.test(document.querySelector('#plan-form')?.textContent || ''), null, { timeout: 10000 });
		const planId = decodeURIComponent(a.page.url().match(/#\/admin\/plans\/([^?]+)/)[1]);
		check((await text(a.page, 'h1')) === planName, `plan "${planName}" created (id ${planId})`);
		await a.page.locator('#e-price').fill('21.49');
		await a.page.locator('#e-isPopular').check();
		await a.page.getByRole('button', { name: 'Save changes' }).click();
		await a.page.waitForFunction(() => /Changes saved/.test(document.querySelector('#plan-form')?.textContent || ''), null, { timeout: 10000 });
		const adminToken = await a.page.evaluate(() => sessionStorage.getItem('sp.token'));
		let pl = await call('GET', `/subscriptions/plans/${planId}`, undefined, adminToken);
		check(pl.json.data.plan.price === 21.49 && pl.json.data.plan.isPopular === true,
			`the plan's price and flag are saved (price ${pl.json.data.plan.price})`);
		await shot(a.page, P, 'plan-edited');
		a.page.once('dialog', (d) => d.accept());
		await a.page.locator('#p-toggle').click();
		await a.page.waitForFunction(() => /Plan deactivated/.test(document.querySelector('#plan-form')?.textContent || ''), null, { timeout: 10000 });
		pl = await call('GET', `/subscriptions/plans/${planId}`, undefined, adminToken);
		check(pl.json.data.plan.isActive === false, 'the plan is deactivated');
		await a.page.getByRole('link', { name: '← All plans' }).click();
		await a.page.waitForSelector('#plans-table');
		check(await a.page.locator(`#inactive-plans tr[data-plan="${planId}"]`).count() === 1
			&& await a.page.locator(`#plans-table tr[data-plan="${planId}"]`).count() === 0,
			'the plans page lists the plan among the deactivated ones');

		// ---------------------------------------------------------- content
		await tab(a.page, 'Content').click();
		await a.page.waitForSelector('#content-table');
		check(await a.page.locator('#content-table tbody tr').count() > 5, 'the content page lists titles');
		await a.page.locator('#new-content').click();
		await a.page.waitForSelector('#content-form');
		const unlabelled = await a.page.evaluate(() => [...document.querySelector('#content-form').elements]
			.filter((e) => e.tagName !== 'BUTTON' && !e.labels.length).length);
		check(unlabelled === 0, `every field of the title form has its label (${unlabelled} without)`);
		expectErrors(1, /status of 400/);
		await a.page.getByRole('button', { name: 'Create title' }).click();
		await a.page.waitForFunction(() => document.querySelectorAll('#content-form [aria-invalid=true]').length >= 3, null, { timeout: 10000 });
		const marked = await a.page.locator('#content-form [aria-invalid=true]').evaluateAll((els) => els.map((e) => e.name));
		check(['title', 'description', 'genre', 'duration', 'releaseDate'].every((n) => marked.includes(n)),
			`an empty title form marks each missing field (${marked.join(', ')})`);
		check(expectErrors() === 0, 'the 400 was the only error on the way');
		await shot(a.page, P, 'content-errors');
		const word = 'Quillborne';
		const ctitle = `${word} Crossing ${RUN.slice(-5)}`;
		await a.page.locator('#e-title').fill(ctitle);
		await a.page.locator('#e-description').fill('A ferry, a storm and a crossing nobody planned.');
		await a.page.locator('#e-type').selectOption('documentary');
		await a.page.locator('#e-accessLevel').selectOption('Premium');
		await a.page.locator('#e-genre').fill('Drama, Adventure');
		await a.page.locator('#e-duration').fill('0');
		await a.page.locator('#e-releaseDate').fill('2025-03-14');
		expectErrors(1, /status of 400/);
		await a.page.getByRole('button', { name: 'Create title' }).click();
		await a.page.waitForFunction(() => document.querySelector('#e-duration-err')?.textContent, null, { timeout: 10000 });
		check(await a.page.locator('#content-form [aria-invalid=true]').count() === 1, 'a duration of 0 is the one field marked');
		check(expectErrors() === 0, 'the 400 was the only error on the way');
		await a.page.locator('#e-duration').fill('88');
		await a.page.getByRole('button', { name: 'Create title' }).click();
		await a.page.waitForFunction(() => /Title created/.test(document.querySelector('#content-form')?.textContent || ''), null, { timeout: 10000 });
		const contentId = decodeURIComponent(a.page.url().match(/#\/admin\/content\/([^?]+)/)[1]);
		check((await text(a.page, 'h1')) === ctitle, `title "${ctitle}" created (id ${contentId})`);

		await a.page.goto(`${BASE}/#/admin/content?q=${word}`);
		await a.page.waitForSelector('#content-table');
		check(await a.page.locator(`#content-table tr[data-content="${contentId}"]`).count() === 1, `searching "${word}" finds the new title`);
		await a.page.locator(`#content-table tr[data-content="${contentId}"]`).getByRole('link').click();
		await a.page.waitForSelector('#content-form');
		await a.page.locator('#e-title').fill(ctitle + ' (Director\'s Cut)');
		await a.page.locator('#e-isFeatured').check();
		await a.page.getByRole('button', { name: 'Save changes' }).click();
		await a.page.waitForFunction(() => /Changes saved/.test(document.querySelector('#content-form')?.textContent || ''), null, { timeout: 10000 });
		let ct = await call('GET', `/content/${contentId}`, undefined, adminToken);
		check(ct.json.data.content.title === ctitle + ' (Director\'s Cut)' && ct.json.data.content.isFeatured === true
			&& ct.json.data.content.duration === 88 && (await text(a.page, 'h1')) === ctitle + ' (Director\'s Cut)',
		'the title\'s edit is saved, and the page shows the new title');
		await shot(a.page, P, 'content-edited');
		a.page.once('dialog', (d) => d.accept());
		await a.page.locator('#c-toggle').click();
		await a.page.waitForFunction(() => /Title deactivated/.test(document.querySelector('#content-form')?.textContent || ''), null, { timeout: 10000 });
		ct = await call('GET', `/content/${contentId}`, undefined, viewer.token);
		check(ct.status === 404, `a deactivated title is 404 for viewers (got ${ct.status})`);

		// ---------------------------------------------------------- lock and unlock
		// auth.lockout_seconds is 3 on the test stack, so the admin looks at
		// once; a lock that ran out before the page showed it is tried again
		const victimEmail = `admin-lock-${RUN}@example.com`;
		const victim = await register('Locked Out', victimEmail);
		await a.page.goto(`${BASE}/#/admin/users?search=${encodeURIComponent(victimEmail)}`);
		await a.page.locator('#users-table tbody tr', { hasText: victimEmail }).getByRole('link', { name: /Manage/ }).click();
		await a.page.waitForSelector('#user-edit');
		check(await a.page.locator('#unlock').count() === 0, 'an account without failed sign-ins offers no unlock');
		let unlocked = false;
		for (let attempt = 1; attempt <= 3 && !unlocked; attempt++) {
			const ip = freshIp();
			for (let i = 0; i < 5; i++) await call('POST', '/auth/login', { email: victimEmail, password: 'Wrong-pass1' }, undefined, ip);
			await a.page.locator('#u-refresh').click();
			try {
				await a.page.locator('#u-status').getByText('Locked').waitFor({ timeout: 2000 });
			} catch { continue; }
			if (attempt === 1) await shot(a.page, P, 'user-locked');
			await a.page.locator('#unlock').click();
			await a.page.waitForFunction(() => /Account unlocked/.test(document.querySelector('#user-edit')?.textContent || ''), null, { timeout: 10000 });
			unlocked = !(await text(a.page, '#u-status')).includes('Locked');
		}
		const listed = await call('GET', `/admin/users?search=${encodeURIComponent(victimEmail)}`, undefined, adminToken);
		const vu = listed.json.data.users.find((u) => u.id === victim.user.id);
		check(unlocked && vu && !vu.isLocked && vu.failedLogins === 0,
			'the users page shows the account locked, and unlocking it clears the lock');
		await shot(a.page, P, 'user-unlocked');
		const vic = await screen(browser, 'unlocked user');
		await logIn(vic.page, victimEmail, PASSWORD);
		check(true, 'the unlocked account signs in through the page');
		await vic.ctx.close();

		// switching the account off and on again
		await a.page.locator('#u-active').uncheck();
		await a.page.getByRole('button', { name: 'Save changes' }).click();
		await a.page.waitForFunction(() => /Changes saved/.test(document.querySelector('#user-edit')?.textContent || ''), null, { timeout: 10000 });
		check(/Deactivated/.test(await text(a.page, '#u-status')), 'the users page switches the account off');
		let login = await call('POST', '/auth/login', { email: victimEmail, password: PASSWORD });
		check(login.status === 403, `a switched-off account cannot sign in (got ${login.status})`);
		await a.page.locator('#u-active').check();
		await a.page.getByRole('button', { name: 'Save changes' }).click();
		await a.page.waitForFunction(() => /Changes saved/.test(document.querySelector('#user-edit')?.textContent || ''), null, { timeout: 10000 });
		login = await call('POST', '/auth/login', { email: victimEmail, password: PASSWORD });
		check(login.status === 200 && !/Deactivated/.test(await text(a.page, '#u-status')), `switched on again, it signs in (got ${login.status})`);

		// ---------------------------------------------------------- phone width
		await a.page.setViewportSize({ width: 390, height: 844 });
		await a.page.goto(`${BASE}/#/admin`);
		await a.page.waitForSelector('#metrics');
		const overflow = await a.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		check(overflow <= 0, `the dashboard fits a phone's width (overflow ${overflow}px)`);
		await shot(a.page, P, 'dashboard-phone');
		await a.page.goto(`${BASE}/#/admin/analytics?from=${day(-6)}&to=${day(0)}`);
		await a.page.waitForSelector('#chart-daily canvas', { timeout: 15000 });
		const overflowA = await a.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		check(overflowA <= 0, `the analytics page fits a phone's width (overflow ${overflowA}px)`);
		await shot(a.page, P, 'analytics-phone');
		for (const [route, sel] of [['users', '#users-table'], ['content', '#content-table'], ['plans', '#plans-table']]) {
			await a.page.goto(`${BASE}/#/admin/${route}`);
			await a.page.waitForSelector(sel);
			const o = await a.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
			check(o <= 0, `the ${route} page fits a phone's width; its table scrolls in its own box (overflow ${o}px)`);
		}
		await shot(a.page, P, 'plans-phone');

		// ---------------------------------------------------------- not allowed
		check(await v.page.getByRole('link', { name: 'Admin', exact: true }).count() === 0
			&& !/null/.test(await v.page.locator('#nav').textContent()), 'a viewer has no Admin link (and no stray text in its place)');
		await v.page.goto(`${BASE}/#/admin`);
		await v.page.waitForSelector('#not-allowed', { timeout: 10000 });
		check((await text(v.page, '#not-allowed h1')) === 'Not allowed', 'a viewer opening #/admin gets the not-allowed page');
		await shot(v.page, P, 'not-allowed');
		// a client that believes it is an admin: the API's 403 decides
		await v.page.evaluate(() => {
			const u = JSON.parse(sessionStorage.getItem('sp.user'));
			sessionStorage.setItem('sp.user', JSON.stringify({ ...u, role: 'admin' }));
		});
		expectErrors(1, /status of 403/);
		await v.page.goto(`${BASE}/#/admin/users`);
		await v.page.waitForSelector('#not-allowed', { timeout: 10000 });
		check(true, 'a 403 from the API shows the not-allowed page');
		check(expectErrors() === 0, 'the 403 was the only error on the way');
		expectErrors(0, null);

		await v.ctx.close();
		await a.ctx.close();
	} finally {
		await browser.close();
	}
}

await finish(P, run);
