// Accessibility of the web client's pages: axe-core (tools/web) runs the
// WCAG 2.1 A and AA rules (labels, names, contrast, landmarks, ARIA) on every
// page a viewer or an administrator reaches, at desktop and phone widths.
// Any violation fails the page, listed with its rule and the elements. A
// keyboard walk (skip link, Tab to a title, Enter) checks the pages work
// without a mouse.
//
//   SP_TEST_BASE=http://127.0.0.1:18080 SP_ADMIN_EMAIL=… SP_ADMIN_PASSWORD=… \
//     node tests/browser/a11y.test.mjs
//
// axe is injected through the browser's debugging protocol, which the page's
// CSP does not govern, so these contexts bypass the CSP: the other browser
// tests are the ones that hold the pages to it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, CLIENT_IP, root, check, launch, logIn, finish } from './lib.mjs';

const AXE = readFileSync(join(root, 'tools/web/node_modules/axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

async function context(browser, viewport) {
	const ctx = await browser.newContext({
		viewport, bypassCSP: true, extraHTTPHeaders: { 'X-Forwarded-For': CLIENT_IP },
	});
	return { ctx, page: await ctx.newPage() };
}

// the route's page drawn: nothing loading, no "Loading…" left
async function settled(page) {
	await page.waitForFunction(() => {
		const m = document.getElementById('main');
		return m && m.children.length > 0 && !document.querySelector('[aria-busy="true"]')
			&& !/Loading…|Starting…/.test(m.textContent);
	}, null, { timeout: 15000, polling: 100 }).catch(() => {});
	await page.waitForTimeout(150);
}

async function audit(page, hash, label) {
	await page.goto(BASE + '/' + hash);
	await settled(page);
	const result = await page.evaluate(async ([src, tags]) => {
		if (!window.axe) (0, eval)(src); // eslint-disable-line no-eval
		const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
		return r.violations.map((v) => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
		}));
	}, [AXE, TAGS]);
	check(result.length === 0, `${label} (${hash}): no WCAG 2.1 A/AA violation`);
	for (const v of result) console.log(`  ${v.impact} ${v.id}: ${v.help} — ${v.nodes.join(', ')}`);
}

// Keyboard alone: the first Tab reaches "Skip to content"; Tab on reaches a
// title's tile, Enter opens its details, and focus moves to the new page.
async function keyboard(page) {
	await page.goto('about:blank');
	await page.goto(BASE + '/#/');
	await settled(page);
	await page.keyboard.press('Tab');
	check(await page.evaluate(() => document.activeElement?.textContent) === 'Skip to content',
		'keyboard: the first Tab reaches "Skip to content"');
	let onTile = false;
	for (let i = 0; i < 40 && !onTile; i++) {
		await page.keyboard.press('Tab');
		onTile = await page.evaluate(() => !!document.activeElement?.closest('#catalogue .tile'));
	}
	check(onTile, 'keyboard: Tab reaches the titles');
	const href = await page.evaluate(() => document.activeElement.getAttribute('href'));
	await page.keyboard.press('Enter');
	await settled(page);
	check(await page.evaluate((h) => location.hash === h && !!document.querySelector('article.details h1'), href),
		'keyboard: Enter on a title opens its details');
	check(await page.evaluate(() => document.activeElement?.id === 'main'),
		'keyboard: focus moves to the new page');
}

async function run() {
	const browser = await launch();
	try {
		for (const [width, height, tag] of [[1280, 800, 'desktop'], [390, 844, 'phone']]) {
			const { ctx, page } = await context(browser, { width, height });
			// signed out
			await audit(page, '#/', `catalogue, signed out, ${tag}`);
			await audit(page, '#/login', `log in, ${tag}`);
			await audit(page, '#/signup', `sign up, ${tag}`);
			await audit(page, '#/plans', `plans, signed out, ${tag}`);
			const first = await page.evaluate(async () =>
				(await (await fetch('/api/v1/content?limit=1')).json()).data.content[0].id);
			await audit(page, `#/content/${first}`, `details, ${tag}`);
			if (tag === 'desktop') await keyboard(page);
			// a viewer
			await page.goto(BASE + '/#/signup');
			await page.getByLabel('Name').fill('Access Tester');
			await page.getByLabel('Email').fill(`a11y-${tag}-${Date.now()}-${process.pid}@example.com`);
			await page.getByLabel('Password').fill('Access12345');
			await page.getByRole('button', { name: 'Sign up' }).click();
			await page.waitForSelector('#catalogue', { timeout: 15000 });
			await audit(page, '#/', `catalogue, signed in, ${tag}`);
			await audit(page, '#/plans', `plans, signed in, ${tag}`);
			const free = await page.evaluate(async () =>
				(await (await fetch('/api/v1/content?accessLevel=Free&limit=1')).json()).data.content[0].id);
			await audit(page, `#/play/${free}`, `player, ${tag}`);
			for (const tab of ['', '/watching', '/sessions', '/devices', '/downloads', '/parental', '/profile']) {
				await audit(page, `#/account${tab}`, `account${tab || ' (plan)'}, ${tag}`);
			}
			await ctx.close();
		}
		// the administrator
		const { ctx, page } = await context(browser, { width: 1280, height: 800 });
		await logIn(page, process.env.SP_ADMIN_EMAIL || 'admin@streaming.local',
			process.env.SP_ADMIN_PASSWORD || 'Admin12345');
		for (const hash of ['#/admin', '#/admin/analytics', '#/admin/users', '#/admin/content',
			'#/admin/content/new', '#/admin/plans', '#/admin/plans/new']) {
			await audit(page, hash, 'admin');
		}
		await ctx.close();
	} finally {
		await browser.close();
	}
}

await finish('a11y', run);
