// Browser test of the viewer's path through the web client (www/).
//
//   SP_TEST_BASE=http://127.0.0.1:18080 SP_SCREENSHOTS=var/test/screenshots \
//     node tests/browser/viewer.test.mjs
//
// Steps, through the pages wherever they offer it: sign up → the catalogue
// shows locked titles → subscribe Basic on the plans page → play a title, see
// currentTime advance and only the Basic renditions offered → a second screen
// (a phone) frees the one device slot and meets the limit screen; ending the
// other session from it lets play start → the account page's continue
// watching resumes the title → the live sessions list signs that screen out
// → parental controls on with a PIN, a wrong PIN refused, off again; on
// again, a title above the age limit asks for the PIN →
// upgrade to Premium, download a title, remove the download → cancel the
// subscription → remove the title from the history → change name and
// password → log out.
import {
	BASE, problems, check, expectErrors, shot, launch, newScreen, apiIn, logIn, waitPlaying, finish,
	waitText,
} from './lib.mjs';

const P = 'viewer';

// on the plans page, take plan `name` through its confirmation dialog
async function choosePlan(page, name) {
	await page.goto(BASE + '/#/plans');
	await page.waitForSelector('ul.plans', { timeout: 10000 });
	const card = page.locator(`li[data-plan-name="${name}"]`);
	await card.getByRole('button').click();
	const dlg = page.getByRole('dialog');
	await dlg.waitFor({ timeout: 5000 });
	await dlg.getByLabel('Payment method').selectOption('card');
	await dlg.getByRole('button', { name: /^Pay / }).click();
	await page.waitForSelector('#plan-done', { timeout: 10000 });
	return card;
}

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

		// filters: each one applies at once and the list matches the API's
		const totalShown = () => a.page.evaluate(() => {
			const m = /· (\d+) titles/.exec(document.querySelector('.pager')?.textContent || '');
			return m ? Number(m[1]) : (document.getElementById('catalogue-empty') ? 0 : -1);
		});
		const settle = async (hashPart, expected) => {
			await a.page.waitForFunction(([hp, n]) => {
				if (!location.hash.includes(hp) || document.querySelector('[aria-busy]')) return false;
				const m = /· (\d+) titles/.exec(document.querySelector('.pager')?.textContent || '');
				return (m ? Number(m[1]) : (document.getElementById('catalogue-empty') ? 0 : -1)) === n;
			}, [hashPart, expected], { timeout: 10000 }).catch(() => {});
			return totalShown();
		};
		const apiTotal = async (qs) => (await apiIn(a.page, 'GET', `/content?includeLocked=true&${qs}`)).json.pagination.total;
		await a.page.goto(BASE + '/#/');
		await a.page.waitForSelector('#catalogue');
		await a.page.getByLabel('Type').selectOption('documentary');
		let want = await apiTotal('type=documentary');
		check(await settle('type=documentary', want) === want, `the Type filter lists the ${want} documentaries`);
		const kinds = await a.page.locator('#catalogue .tile .meta .muted').allTextContents();
		check(kinds.length > 0 && kinds.every((k) => k.startsWith('documentary')), 'every tile shown is a documentary');
		// a genre some documentaries have and others do not, so the list narrows
		const docs = await apiIn(a.page, 'GET', '/content?includeLocked=true&type=documentary&limit=50');
		let genre = null;
		for (const g of new Set(docs.json.data.content.flatMap((c) => c.genre))) {
			const n = await apiTotal(`type=documentary&genre=${encodeURIComponent(g)}`);
			if (n > 0 && n < want) { genre = g; break; }
		}
		check(genre !== null, `the seed has a genre only some documentaries have (${genre})`);
		await a.page.getByLabel('Genre').fill(genre);
		await a.page.getByLabel('Genre').press('Enter');
		want = await apiTotal(`type=documentary&genre=${encodeURIComponent(genre)}`);
		check(await settle(`genre=${encodeURIComponent(genre)}`, want) === want,
			`Type and Genre together list the ${want} documentaries of ${genre}`);
		await a.page.goto(BASE + '/#/');
		await a.page.waitForSelector('#catalogue');
		await a.page.getByLabel('Sort by').selectOption('title');
		want = await apiTotal('sortBy=title');
		await settle('sort=title', want);
		const titles = await a.page.locator('#catalogue .tile strong').allTextContents();
		const sorted = [...titles].sort((x, y) => x.localeCompare(y, 'en', { sensitivity: 'base' }));
		check(titles.length > 1 && titles.join('|') === sorted.join('|'), `Sort by title lists A to Z (${titles[0]} … ${titles[titles.length - 1]})`);
		await shot(a.page, P, 'catalogue-filters');

		// subscribe Basic on the plans page, through its confirmation dialog
		await a.page.goto(BASE + '/#/plans');
		await a.page.waitForSelector('ul.plans', { timeout: 10000 });
		check(await a.page.locator('li[data-plan-name="Free"] .current').count() === 1, 'the plans page marks Free as the current plan');
		await a.page.locator('li[data-plan-name="Basic"]').getByRole('button', { name: 'Subscribe to Basic' }).click();
		await a.page.getByRole('dialog').waitFor({ timeout: 5000 });
		await shot(a.page, P, 'subscribe-confirm');
		await a.page.getByRole('dialog').getByRole('button', { name: /^Pay 9\.99/ }).click();
		await a.page.waitForSelector('#plan-done', { timeout: 10000 });
		check(await a.page.locator('li[data-plan-name="Basic"] .current').count() === 1, 'after paying, Basic is the current plan');
		check(await a.page.locator('li[data-plan-name="Premium"]').getByRole('button', { name: 'Upgrade to Premium' }).count() === 1,
			'Premium now offers an upgrade');
		const stored = await a.page.evaluate(() => JSON.parse(sessionStorage.getItem('sp.user')));
		check(stored.subscription && stored.subscription.plan.name === 'Basic', 'the stored user now has the Basic plan');

		// a Basic title: open its details, play it, Basic renditions only
		const list = await apiIn(a.page, 'GET', '/content?accessLevel=Basic&limit=5');
		const title = list.json.data.content[0];
		await a.page.goto(`${BASE}/#/content/${title.id}`);
		await a.page.waitForSelector('#play', { timeout: 10000 });
		check((await a.page.locator('h1').textContent()) === title.title, `details page of "${title.title}"`);
		check(await a.page.locator('#download').count() === 0, 'no Download on a plan without downloads');
		await a.page.locator('#play').click();
		const playingA = await waitPlaying(a.page, 30);
		check(playingA, 'screen A plays: video.currentTime advances');
		check(await a.page.locator('h1.player-title').textContent() === title.title, 'the player names the title');
		const rend = await a.page.getAttribute('#video', 'data-renditions');
		check(rend && rend.split(',').includes('720p') && !/1080p|4K|2160/.test(rend),
			`the player was offered only Basic renditions (${rend})`);
		await shot(a.page, P, 'playing-basic');
		// the quality picker offers Auto and those renditions; picking one
		// makes the player fetch that rendition
		const options = await a.page.locator('#quality option').allTextContents();
		check(options.join(',') === ['Auto', ...(rend || '').split(',')].join(','),
			`the quality picker offers Auto and the plan's renditions (${options.join(', ')})`);
		for (const q of ['720p', '480p']) {
			const re = new RegExp(`/${q}/`);
			const wanted = a.page.waitForRequest((r) => re.test(r.url()), { timeout: 15000 }).then(() => true, () => false);
			await a.page.getByLabel('Quality').selectOption({ label: q });
			check(await wanted, `picking ${q} makes the player load the ${q} rendition`);
		}

		// a second screen (a phone, another device): Basic allows one device
		// and one stream, so it frees the device slot, then meets the limit
		// screen and ends screen A's session from it
		const b = await newScreen(browser, 'screen B', { width: 390, height: 844 });
		await logIn(b.page, email, password);
		// 403 device limit, 429 stream limit (screen B), 410 heartbeat (screen A)
		expectErrors(3, /status of (403|429|410)/);
		await b.page.goto(`${BASE}/#/play/${title.id}`);
		await b.page.waitForSelector('#device-limit', { timeout: 15000 });
		check(await b.page.locator('#device-limit button[data-device]').count() === 1, 'the device-limit screen offers to remove the one device');
		await b.page.locator('#device-limit button[data-device]').click();
		await b.page.waitForSelector('#limit', { timeout: 15000 });
		check(await b.page.locator('#limit button[data-session]').count() === 1, 'the limit screen offers to end the 1 live session');
		check(await b.page.locator('#limit a[data-plan]').count() === 1, 'the limit screen offers an upgrade');
		await shot(b.page, P, 'limit-screen');
		await b.page.locator('#limit button[data-session]').click();
		check(await waitPlaying(b.page, 30), 'ending the other session from the limit screen lets play start');
		check(await waitText(a.page, 'main', /session was ended/, 15000), 'screen A is told its session was ended');
		check(expectErrors() === 0, 'the 403, 429 and 410 were the only errors on the way');
		expectErrors(0, null);
		await shot(b.page, P, 'playing-after-ending-other');

		// continue watching: leaving the player records the position; the
		// account page offers to resume there, and the player seeks to it
		await b.page.waitForFunction(() => document.getElementById('video').currentTime >= 2.2, null, { timeout: 10000 });
		await b.page.goto(BASE + '/#/account/watching');
		const resume = b.page.locator(`#continue a[data-content="${title.id}"]`);
		await resume.waitFor({ timeout: 10000 });
		const saved = Number(await resume.getAttribute('data-position'));
		check(saved >= 2, `continue watching lists "${title.title}" at ${saved} s`);
		check(await b.page.locator(`#recent button[data-content="${title.id}"]`).count() === 1, 'recent history offers "Remove from history"');
		check(/Titles watched\s*1/.test(await b.page.locator('#stats').innerText()), 'the stats count the title');
		await shot(b.page, P, 'account-watching');
		await resume.click();
		await b.page.waitForFunction(() => document.getElementById('video')?.dataset.start, null, { timeout: 15000 });
		check(Number(await b.page.getAttribute('#video', 'data-start')) === saved, 'the player resumes at the saved position');
		check(await waitPlaying(b.page, 20), 'the resumed title plays');

		// the live sessions: screen A signs screen B out
		expectErrors(1, /status of 410/);
		await a.page.goto(BASE + '/#/account/sessions');
		const row = a.page.locator('#sessions li');
		await row.first().waitFor({ timeout: 10000 });
		check(await row.count() === 1 && await row.locator('[data-current]').count() === 0,
			'active sessions lists the phone\'s session, not marked as this browser');
		await shot(a.page, P, 'account-sessions');
		await row.getByRole('button', { name: 'Sign out this screen' }).click();
		await a.page.waitForSelector('#sessions li', { state: 'detached', timeout: 10000 });
		check(true, '"Sign out this screen" ends it');
		check(await waitText(b.page, 'main', /session was ended/, 15000), 'the phone is told its session was ended');
		check(expectErrors() === 0, 'the 410 was the only error on the way');
		expectErrors(0, null);

		const rated = await apiIn(a.page, 'GET', '/content?accessLevel=Basic&limit=50');
		// parental controls: on with a new PIN, a wrong PIN refused, off with the PIN
		await a.page.goto(BASE + '/#/account/parental');
		await a.page.waitForSelector('#parental');
		await a.page.getByLabel('Hide titles above the age limit').check();
		await a.page.getByLabel('Age limit', { exact: true }).selectOption('13');
		await a.page.getByLabel('Choose a PIN (4–6 digits)').fill('4821');
		await a.page.getByRole('button', { name: 'Save' }).click();
		check(await waitText(a.page, '#pc-status', /are on/, 10000), 'parental controls turn on with a new PIN');
		expectErrors(1, /status of 403/);
		await a.page.getByLabel('Hide titles above the age limit').uncheck();
		await a.page.getByLabel('PIN', { exact: true }).fill('0000');
		await a.page.getByRole('button', { name: 'Save' }).click();
		check(await waitText(a.page, '#parental .alert', /PIN/i, 10000), 'a wrong PIN is refused with a message');
		check(expectErrors() === 0, 'the 403 was the only error on the way');
		expectErrors(0, null);
		await shot(a.page, P, 'parental-controls');
		await a.page.getByLabel('PIN', { exact: true }).fill('4821');
		await a.page.getByRole('button', { name: 'Save' }).click();
		check(await waitText(a.page, '#pc-status', /are off/, 10000), 'parental controls turn off with the PIN');

		// on again; a title above the age limit asks for the PIN, which lifts
		// the controls and shows the title
		await a.page.getByLabel('Hide titles above the age limit').check();
		await a.page.getByLabel('PIN', { exact: true }).fill('4821');
		await a.page.getByRole('button', { name: 'Save' }).click();
		check(await waitText(a.page, '#pc-status', /are on/, 10000), 'parental controls on again');
		const adult = rated.json.data.content.find((c) => ['R', 'TV-MA', 'NC-17'].includes(c.ageRating));
		expectErrors(1, /status of 403/);
		await a.page.goto(`${BASE}/#/content/${adult.id}`);
		await a.page.waitForSelector('#pin-unlock', { timeout: 10000 });
		check(expectErrors() === 0, `"${adult.title}" (${adult.ageRating}) is age-restricted: the page asks for the PIN`);
		expectErrors(0, null);
		await a.page.locator('#pin-unlock').getByLabel('PIN').fill('4821');
		await a.page.locator('#pin-unlock').getByRole('button').click();
		await a.page.waitForSelector('#play', { timeout: 10000 });
		check((await a.page.locator('h1').textContent()) === adult.title, 'the PIN lifts the controls and shows the title');

		// Premium allows downloads: upgrade, download a title from its page,
		// see and remove it on the account's downloads
		await choosePlan(a.page, 'Premium');
		check(await a.page.locator('li[data-plan-name="Premium"] .current').count() === 1, 'upgraded to Premium on the plans page');
		await a.page.goto(`${BASE}/#/content/${title.id}`);
		await a.page.locator('#download').click();
		check(await waitText(a.page, '#download-ok', /expires/, 10000), 'Download on the details page shows the licence and its expiry');
		await shot(a.page, P, 'download-licence');
		await a.page.goto(BASE + '/#/account/downloads');
		const dl = a.page.locator('#downloads li');
		await dl.first().waitFor({ timeout: 10000 });
		check(await dl.count() === 1 && (await dl.first().textContent()).includes(title.title), 'the downloads list shows the title');
		await shot(a.page, P, 'account-downloads');
		await dl.first().getByRole('button', { name: /Remove/ }).click();
		await a.page.waitForSelector('#downloads', { state: 'detached', timeout: 10000 });
		check(true, 'removing the download empties the list');
		await a.page.goto(BASE + '/#/account/devices');
		await a.page.waitForSelector('#devices li', { timeout: 10000 });
		check(await a.page.locator('#devices li').count() === 2 && await a.page.locator('#devices .tag').count() === 1,
			'devices lists the phone and this browser (marked)');

		// cancel the subscription on the account page
		await a.page.goto(BASE + '/#/account');
		await a.page.waitForSelector('#plan-summary');
		check(/Premium/.test(await a.page.locator('#plan-summary').textContent()), 'the account page shows the Premium plan');
		check(await a.page.locator('#sub-history tbody tr').count() === 2, 'the history lists both subscriptions');
		await a.page.locator('#cancel-sub').click();
		await a.page.getByRole('dialog').getByLabel('Reason (optional)').fill('Just testing');
		await a.page.getByRole('dialog').getByRole('button', { name: 'Cancel subscription' }).click();
		check(await waitText(a.page, '#plan-renew', /Off/, 10000), 'cancelling turns auto-renew off');
		check(await a.page.locator('#cancel-sub').count() === 0, 'a cancelled plan offers no second cancel');
		await shot(a.page, P, 'account-cancelled');

		// remove the title from the history
		await a.page.goto(BASE + '/#/account/watching');
		await a.page.locator(`#recent button[data-content="${title.id}"]`).click();
		await a.page.waitForSelector('#recent', { state: 'detached', timeout: 10000 });
		check(await a.page.locator('#continue').count() === 0, '"Remove from history" empties recent history and continue watching');

		// the profile: a new name reaches the nav; the password changes (the
		// new token pair keeps this browser signed in); log out
		await a.page.goto(BASE + '/#/account/profile');
		await a.page.getByLabel('Name').fill('Web Tester Two');
		await a.page.locator('#profile-form').getByRole('button', { name: 'Save' }).click();
		check(await waitText(a.page, '#nav .who', /Web Tester Two/, 10000), 'a new name shows in the nav');
		await a.page.getByLabel('Current password').fill(password);
		await a.page.getByLabel('New password').fill('Webtest456');
		await a.page.getByRole('button', { name: 'Change password' }).click();
		check(await waitText(a.page, '#password-form', /Password changed/, 10000), 'the password changes');
		await a.page.goto(BASE + '/#/account');
		check(await waitText(a.page, '#plan-summary', /Premium/, 10000), 'still signed in after the change (the new tokens)');
		await a.page.goto(BASE + '/#/account/profile');
		await a.page.waitForSelector('#profile-logout');
		await a.page.locator('#profile-logout').click();
		await a.page.waitForSelector('form input[name=email]', { timeout: 10000 });
		check(await a.page.evaluate(() => !sessionStorage.getItem('sp.token')), 'log out drops the tokens');
		await a.ctx.close();
		await b.ctx.close();
	} finally {
		await browser.close();
	}
}

await finish('viewer', run);
