// Shared parts of the browser tests (tests/browser/*.test.mjs): Debian's
// Chromium, headless, driven by playwright-core (tools/web) against a running
// stack. Each test file prints "<name>: N passed, N failed" at the end;
// scripts/dev test runs every *.test.mjs file and sums them.
//
// Any console error, page error or CSP violation on a watched page is kept in
// `problems`, and `finish` fails the file when there is one, except the 429s a
// step announces with `expectErrors(n, /status of 429/)`.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
const require = createRequire(join(root, 'tools/web/package.json'));
const { chromium } = require('playwright-core');

export const BASE = process.env.SP_TEST_BASE || 'http://127.0.0.1:18080';
const SHOTS = process.env.SP_SCREENSHOTS || join(root, 'var/test/screenshots');
const CHROMIUM = process.env.SP_CHROMIUM || '/usr/bin/chromium';
mkdirSync(SHOTS, { recursive: true });

const counts = { passed: 0, failed: 0 };
export const problems = []; // console errors, page errors, CSP violations
const expected = { n: 0, re: null }; // errors a step announced

export function check(ok, what) {
	if (ok) { counts.passed++; console.log(`ok   ${what}`); } else { counts.failed++; console.log(`FAIL ${what}`); }
	return ok;
}

// n console errors matching re are expected next (e.g. the limit step's 429);
// returns how many of them are still unseen when called with no arguments
export function expectErrors(n, re) {
	if (n !== undefined) { expected.n = n; expected.re = re; }
	return expected.n;
}

// screenshots are named <prefix>-<NN>-<name>.png, NN counting per file
let shotNo = 0;
export async function shot(page, prefix, name) {
	shotNo++;
	await page.screenshot({ path: join(SHOTS, `${prefix}-${String(shotNo).padStart(2, '0')}-${name}.png`), fullPage: true });
}

function watch(page, label) {
	page.on('console', (m) => {
		if (m.type() !== 'error') return;
		const t = m.text();
		if (expected.n > 0 && expected.re.test(t)) { expected.n--; return; }
		problems.push(`${label} console: ${t}`);
	});
	page.on('pageerror', (e) => problems.push(`${label} page error: ${e.message}`));
	page.on('crash', () => problems.push(`${label} crashed`));
}

// The test stack trusts forwarded headers from loopback (as the API tests
// use them): each run is its own client address, so the per-IP limits on
// register and login never meet other suites' requests or earlier runs.
export const CLIENT_IP = `198.18.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;

export async function launch() {
	return chromium.launch({
		executablePath: CHROMIUM, headless: true,
		args: ['--autoplay-policy=no-user-gesture-required', '--no-sandbox'],
	});
}

// a browser context of its own (its own sessionStorage and localStorage, so
// its own device id), watched for errors
export async function newScreen(browser, label, viewport) {
	const ctx = await browser.newContext({
		viewport: viewport || { width: 1280, height: 800 },
		extraHTTPHeaders: { 'X-Forwarded-For': CLIENT_IP },
	});
	// reported through the console as errors too; recorded here so a violation
	// can never pass unnoticed
	await ctx.addInitScript(() => {
		document.addEventListener('securitypolicyviolation', (e) => {
			console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
		});
	});
	const page = await ctx.newPage();
	watch(page, label);
	return { ctx, page };
}

// the API with the page's own token
export const apiIn = (page, method, path, body) => page.evaluate(async ([method, path, body]) => {
	const r = await fetch('/api/v1' + path, {
		method,
		headers: { Authorization: 'Bearer ' + sessionStorage.getItem('sp.token'), 'Content-Type': 'application/json' },
		body: body === null ? undefined : JSON.stringify(body),
	});
	return { status: r.status, json: await r.json() };
}, [method, path, body === undefined ? null : body]);

// log in through the page's form
export async function logIn(page, email, password) {
	await page.goto(BASE + '/#/login');
	await page.getByLabel('Email').fill(email);
	await page.getByLabel('Password').fill(password);
	await page.getByRole('button', { name: 'Log in' }).click();
	await page.waitForSelector('#catalogue', { timeout: 15000 });
}

export async function waitPlaying(page, secs) {
	try {
		await page.waitForFunction(() => {
			const v = document.getElementById('video');
			return v && v.currentTime > 1.5;
		}, null, { timeout: secs * 1000, polling: 250 });
		return true;
	} catch { return false; }
}

// waits until the first element matching selector has text matching re
export async function waitText(page, selector, re, ms) {
	try {
		await page.waitForFunction(([sel, src, flags]) => new RegExp(src, flags).test(document.querySelector(sel)?.textContent || ''),
			[selector, re.source, re.flags], { timeout: ms || 10000, polling: 200 });
		return true;
	} catch { return false; }
}

// runs body(), then the problems check, prints the count line and exits
export async function finish(name, body) {
	try {
		await body();
	} catch (e) {
		counts.failed++;
		console.log(`FAIL ${e.stack || e}`);
	}
	for (const p of problems) console.log(`  ${p}`);
	check(problems.length === 0, `no console error, page error or CSP violation (${problems.length})`);
	console.log(`${name}: ${counts.passed} passed, ${counts.failed} failed`);
	process.exit(counts.failed ? 1 : 0);
}
