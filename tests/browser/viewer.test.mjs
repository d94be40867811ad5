// Browser test of the viewer's path through the web client (www/).
//
//   SP_TEST_BASE=http://127.0.0.1:18080 SP_SCREENSHOTS=var/test/screenshots \
//     node tests/browser/viewer.test.mjs
//
// Steps: sign up → the catalogue shows locked titles → subscribe Basic (through
// the API with the page's own token) → play a title and see currentTime
// advance → upgrade to Premium, a second screen fills the second slot, and a
// third start (on the second screen) meets the limit screen; ending the other
// session from it lets play start → leaving the player stops its session.
import {
	BASE, problems, check, expectErrors, shot, launch, newScreen, apiIn, logIn, waitPlaying, finish,
} from './lib.mjs';

const P = 'viewer';

async function run() {
	const browser = await launch();
	try {
		const a = await newScreen(browser, 'screen A');
		const email = `web-${Date.now()}-${process.pid}@example.com`;
		const password = 'Webtest123';

		// sign up
		await a.page.goto(BASE + '/#/signup');
		await a.page.getByLabel('Name').fill('Web Tester');
		await a.page.getByLabel('Email').fill(email);
		await a.page.getByLabel('Password').fill(password);
		await shot(a.page, P, 'signup');
		await a.page.getByRole('button', { name: 'Sign up' }).click();
		await a.page.waitForSelector('#catalogue', { timeout: 15000 });
		check(await a.page.evaluate(() => !!sessionStorage.getItem('sp.token')), 'sign up stores a token and shows the catalogue');
		const locked = await a.page.locator('.tile.locked').count();
		check(locked > 0 && (await a.page.locator('.tile.locked .lock').first().textContent()).match(/Basic|Premium|Ultimate/),
			`a Free account sees locked titles with the plan that unlocks them (${locked} on page 1)`);
		await shot(a.page, P, 'catalogue-free');

		// paging and search
		await a.page.getByRole('link', { name: 'Next' }).click();
		await a.page.waitForFunction(() => /Page 2 of/.test(document.querySelector('.pager')?.textContent || ''));
		check(true, 'the pager moves to page 2');
		const first = await a.page.locator('#catalogue .tile strong').first().textContent();
		const word = first.split(/\s+/).find((w) => w.length > 3) || first;
		await a.page.getByLabel('Search titles').fill(word);
		await a.page.getByLabel('Search titles').press('Enter');
		await a.page.waitForFunction((w) => /Results for/.test(document.querySelector('h1')?.textContent || '')
			&& document.querySelector('#catalogue'), word, { timeout: 10000 });
		const hits = await a.page.locator('#catalogue .tile strong').allTextContents();
		check(hits.includes(first), `search for "${word}" finds "${first}" (${hits.length} results)`);

		// subscribe Basic through the API with the page's token
		const plans = await apiIn(a.page, 'GET', '/subscriptions/plans');
		const planId = (name) => plans.json.data.plans.find((p) => p.name === name).id;
		const sub = await apiIn(a.page, 'POST', '/subscriptions/subscribe', { planId: planId('Basic'), paymentMethod: 'card' });
		check(sub.status === 201, `subscribe Basic → 201 (got ${sub.status})`);

		// a Basic title: open its details, play it
		const list = await apiIn(a.page, 'GET', '/content?accessLevel=Basic&limit=5');
		const title = list.json.data.content[0];
		await a.page.goto(`${BASE}/#/content/${title.id}`);
		await a.page.waitForSelector('#play', { timeout: 10000 });
		check((await a.page.locator('h1').textContent()) === title.title, `details page of "${title.title}"`);
		await a.page.locator('#play').click();
		const playingA = await waitPlaying(a.page, 30);
		check(playingA, 'screen A plays: video.currentTime advances');
		await shot(a.page, P, 'playing-basic');

		// Premium: two streams. A second screen logs in through the page and
		// takes the second slot from another device (the API), then starts a
		// third stream: the limit screen
		const up = await apiIn(a.page, 'POST', '/subscriptions/subscribe', { planId: planId('Premium'), paymentMethod: 'card' });
		check(up.status === 201, `upgrade to Premium → 201 (got ${up.status})`);
		const b = await newScreen(browser, 'screen B', { width: 390, height: 844 }); // a phone
		await logIn(b.page, email, password);
		const tv = await apiIn(b.page, 'POST', `/content/${title.id}/stream`, { deviceId: 'browser-test-tv', deviceName: 'Living-room TV' });
		check(tv.status === 200, `a second device takes the second slot (got ${tv.status})`);
		expectErrors(1, /status of 429/);
		await b.page.goto(`${BASE}/#/play/${title.id}`);
		await b.page.waitForSelector('#limit', { timeout: 15000 });
		const buttons = b.page.locator('#limit button[data-session]');
		check(await buttons.count() === 2, 'the limit screen offers to end each of the 2 live sessions');
		check(await b.page.locator('#limit a[data-plan]').count() === 1, 'the limit screen offers an upgrade');
		await shot(b.page, P, 'limit-screen');
		check(expectErrors() === 0, 'the 429 was the only error on the way');
		expectErrors(0, null);

		// A is still fine up to here; its session is about to be ended
		check(problems.length === 0, 'no console error or CSP violation on screen A while playing');
		await a.ctx.close();

		await b.page.locator(`#limit button[data-session="${tv.json.data.sessionId}"]`).click();
		const playingB = await waitPlaying(b.page, 30);
		check(playingB, 'ending the other session from the limit screen lets play start');
		await shot(b.page, P, 'playing-after-ending-other');

		// leaving the player stops the session
		await b.page.goto(BASE + '/#/');
		await b.page.waitForSelector('#catalogue', { timeout: 15000 });
		let live = -1;
		for (let i = 0; i < 20; i++) {
			const s = await apiIn(b.page, 'GET', '/stream/sessions');
			const d = s.json.data || {};
			live = (d.sessions || d.activeSessions || []).length;
			if (live === 0) break;
			await b.page.waitForTimeout(250);
		}
		// screen A stopped its own stream when its page went away (pagehide)
		check(live === 0, `leaving the player stops its stream (live sessions now ${live})`);

		// log out
		await b.page.locator('#logout').click();
		await b.page.waitForSelector('form input[name=email]', { timeout: 10000 });
		check(await b.page.evaluate(() => !sessionStorage.getItem('sp.token')), 'log out drops the tokens');
		await shot(b.page, P, 'logged-out');
		await b.ctx.close();
	} finally {
		await browser.close();
	}
}

await finish('viewer', run);
