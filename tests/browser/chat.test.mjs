#!/usr/bin/env node
// End-to-end test of the rustchat browser page (crates/server/assets/index.html).
//
// Usage: node tests/browser/chat.test.mjs http[s]://127.0.0.1:PORT [--screenshots DIR] [--update-docs]
//
// Two Chromium pages (two browser contexts, so two separate users) and one raw TCP client
// speaking the line protocol on the same port meet in #lobby: alice (page A), bob (page B) and
// carol (the terminal). Each says something and sees the others; a message holding HTML renders
// as literal text, escape sequences and bidi overrides as visible escapes; private messages, the
// room list, history on join, reconnection with nick and room restored, keyboard use and the
// phone-width layout are checked. Then accounts: page A registers alice through the sign-in form
// (a too-short password refused in the form first), stays signed in across a reload (its saved
// token on the WebSocket upgrade), page B's /nick alice opens the form, a typed /login is never
// shown or recalled, page A signs out (its token revoked), signs in again through the form, and
// page B registers a new name (the nick first). A password never reaches the page's text.
// Then room moderation: signed-in alice registers #club and sets a topic (HTML in it stays text;
// page B sees it in the room header, cut with an ellipsis at phone width), page B signs out and
// joins as the guest bob, sees alice marked @, is voiced (+ on both pages, live) and devoiced,
// is refused with the moderated error under +m, is kicked (told so; #club leaves its rooms),
// banned for 10 minutes, and comes back through an invitation's Join button; a message alice
// redacts leaves both pages. Given an https:// URL (a server with TLS on, whose certificate
// comes from a CA made by the test: the pages are told to accept it), the pages load over https
// and must talk wss:// to the same origin, while the terminal stays on plaintext. Screenshots go to DIR
// (default target/browser); --update-docs also writes docs/screenshot-page.png.
//
// The browser is Debian's /usr/bin/chromium (override with $CHROMIUM), driven by playwright-core,
// which downloads nothing. `scripts/setup-browser` installs both. Exits non-zero on failure.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OVERALL_TIMEOUT_MS = 60_000;
const WAIT_MS = 5_000;
const XSS = '<script>alert(1)</script><b>x</b>';
const PASSWORD = 'Tr0ubadour & 3 horses';
const WRONG_PASSWORD = 'not-alices-9-password';
const SIGNIN_KEY = 'rustchat-signin';
const TOPIC = 'Rust club <b>weekly</b>: bring your questions about lifetimes, async, unsafe and macros; newcomers welcome, meetings on Thursdays at 18:00 UTC';

const args = process.argv.slice(2);
const url = args.find((a) => /^https?:\/\//.test(a));
const SECURE = url?.startsWith('https://') ?? false;
const flag = (name) => args.includes(name);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const screenshots = path.resolve(option('--screenshots') ?? path.join(ROOT, 'target/browser'));
if (!url) {
  console.error('usage: node tests/browser/chat.test.mjs http://HOST:PORT [--screenshots DIR] [--update-docs]');
  process.exit(2);
}

let passed = 0;
let failed = 0;
const problems = []; // page errors, console errors and dialogs, reported by every page

setTimeout(() => {
  console.error(`not ok - the whole test took more than ${OVERALL_TIMEOUT_MS / 1000} s`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS).unref();

async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(error?.stack || error).split('\n').slice(0, 4).join('\n  ')}`);
    throw error;
  }
}

const assert = (ok, what) => { if (!ok) throw new Error(what); };

// ---- the terminal client: the line protocol over plain TCP ------------------------------
class LineClient {
  static connect(address) {
    const { hostname, port } = new URL(address);
    return new Promise((resolve, reject) => {
      const client = new LineClient();
      client.socket = net.connect({ host: hostname, port: Number(port) }, () => resolve(client));
      client.socket.once('error', reject);
      client.socket.setEncoding('utf8');
      client.socket.on('data', (chunk) => client.receive(chunk));
    });
  }

  constructor() {
    this.lines = [];
    this.partial = '';
  }

  receive(chunk) {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop();
    this.lines.push(...parts);
  }

  send(line) {
    this.socket.write(line + '\n');
  }

  /** Waits until some line received so far contains `text`; returns it. */
  async waitFor(text, timeout = WAIT_MS) {
    const until = Date.now() + timeout;
    while (Date.now() < until) {
      const line = this.lines.find((l) => l.includes(text));
      if (line !== undefined) return line;
      await sleep(20);
    }
    throw new Error(`the terminal client never got a line with ${JSON.stringify(text)}; got:\n    ${this.lines.join('\n    ')}`);
  }

  close() {
    this.socket.end();
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the pages ----------------------------------------------------------------------------
async function openPage(browser, name) {
  // Over https the certificate comes from the test's own CA, which this fresh profile does
  // not know: accepted for these pages only.
  const context = await browser.newContext({
    viewport: { width: 1200, height: 800 },
    ignoreHTTPSErrors: SECURE,
  });
  // Keep a handle on each WebSocket the page opens, so the test can cut the connection.
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
      constructor(...a) {
        super(...a);
        window.__sockets.push(this);
        // The first frames each socket receives, for checks on the welcome.
        this.__frames = [];
        this.addEventListener('message', (e) => { if (this.__frames.length < 20) this.__frames.push(e.data); });
      }
    };
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`); });
  page.on('dialog', async (d) => { problems.push(`${name}: a ${d.type()} dialog opened: ${d.message()}`); await d.dismiss(); });
  await page.goto(url);
  await page.waitForSelector('#status[data-state=connected]');
  return page;
}

/** Types a line into the message box and presses Enter, as a person would. */
async function type(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Waits for a visible log entry whose sender and text are exactly these. */
async function waitForMessage(page, from, text, selector = 'li.msg') {
  await page.waitForFunction(({ from, text, selector }) => [...document.querySelectorAll(`#log ${selector}`)]
    .some((li) => li.checkVisibility() && li.querySelector('.from')?.textContent.endsWith(from) && li.querySelector('.text')?.textContent === text),
  { from, text, selector }).catch(async () => {
    const log = await visibleLog(page);
    throw new Error(`no ${selector} from ${from} saying ${JSON.stringify(text)}; visible log:\n    ${log.join('\n    ')}`);
  });
}

async function waitForText(page, selector, text) {
  await page.waitForFunction(({ selector, text }) => [...document.querySelectorAll(selector)]
    .some((e) => e.textContent.includes(text)), { selector, text });
}

/** Waits for a log entry shown in the current view (not one of another room's) holding `text`. */
async function waitForShown(page, selector, text) {
  await page.waitForFunction(({ selector, text }) => [...document.querySelectorAll(`#log ${selector}`)]
    .some((li) => li.checkVisibility() && li.textContent.includes(text)), { selector, text }).catch(async () => {
    const log = await visibleLog(page);
    throw new Error(`no visible ${selector} with ${JSON.stringify(text)}; visible log:\n    ${log.join('\n    ')}`);
  });
}

/** The current room's member list as shown: `@alice`, `+bob`, `carol`. */
const memberList = (page) => page.$$eval('#member-list li button', (buttons) => buttons
  .map((b) => (b.querySelector('.role')?.textContent ?? '') + b.querySelector('.member-name').textContent));

async function waitForMembers(page, want) {
  await page.waitForFunction((want) => [...document.querySelectorAll('#member-list li button')]
    .map((b) => (b.querySelector('.role')?.textContent ?? '') + b.querySelector('.member-name').textContent)
    .join() === want.join(), want).catch(async () => {
    throw new Error(`the member list is ${JSON.stringify(await memberList(page))}, not ${JSON.stringify(want)}`);
  });
}

const visibleLog = (page) => page.$$eval('#log li', (lis) => lis.filter((li) => li.checkVisibility()).map((li) => li.textContent));
const texts = (page, selector) => page.$$eval(selector, (els) => els.map((e) => e.textContent));

async function main() {
  fs.mkdirSync(screenshots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives the browser a fresh temporary profile (user-data-dir) of its own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let carol;
  try {
    let alice;
    let bob;
    await check('two pages load and connect', async () => {
      [alice, bob] = await Promise.all([openPage(browser, 'alice'), openPage(browser, 'bob')]);
      assert(await alice.textContent('#status') === 'Connected', 'status should say Connected');
      assert(await alice.textContent('#room-title') === '#lobby', 'a new page is in #lobby');
    });

    await check(`the page's WebSocket is ${SECURE ? 'wss' : 'ws'}:// to its own origin, with permessage-deflate`, async () => {
      const seen = await alice.evaluate(() => ({ page: location.origin, socket: window.__sockets[0]?.url, extensions: window.__sockets[0]?.extensions }));
      const want = seen.page.replace(/^http/, 'ws');
      assert(seen.socket?.startsWith(`${want}/`), `page ${seen.page} opened ${seen.socket}`);
      // Chromium offers permessage-deflate; the server takes it, keeping no context either way.
      assert(seen.extensions === 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
        `negotiated extensions: ${JSON.stringify(seen.extensions)}`);
      assert(seen.page.startsWith(SECURE ? 'https://' : 'http://'), `loaded from ${seen.page}`);
    });

    await check('the terminal client, silent for 300 ms, is greeted and joins on Enter', async () => {
      carol = await LineClient.connect(url);
      await sleep(300);
      await carol.waitFor('*** rustchat: press Enter to join');
      carol.send('');
      await carol.waitFor('*** welcome, guest-');
    });

    await check('nicks: page A sets alice, page B bob, the terminal /nick carol', async () => {
      for (const [page, nick] of [[alice, 'alice'], [bob, 'bob']]) {
        await page.fill('#nick', nick);
        await page.press('#nick', 'Enter');
        await waitForText(page, '#log li.notice', `is now known as ${nick}`);
      }
      carol.send('/nick carol');
      await carol.waitFor('is now known as carol');
      await waitForText(alice, '#log li.notice', 'is now known as carol');
      await alice.waitForFunction(() => ['alice', 'bob', 'carol'].every((n) => [...document.querySelectorAll('#member-list .member-name')].some((e) => e.textContent === n)));
    });

    await check('a taken nick is refused with a visible error', async () => {
      await bob.fill('#nick', 'alice');
      await bob.press('#nick', 'Enter');
      await waitForText(bob, '#nick-error', 'nick taken');
      await bob.fill('#nick', 'bob');
    });

    await check('each sends a message and sees the other two', async () => {
      await type(alice, 'hello from alice');
      await type(bob, 'hi from bob');
      carol.send('hey from the terminal');
      for (const [page, others] of [[alice, ['bob', 'carol']], [bob, ['alice', 'carol']]]) {
        const said = { alice: 'hello from alice', bob: 'hi from bob', carol: 'hey from the terminal' };
        for (const other of others) await waitForMessage(page, other, said[other]);
      }
      await carol.waitFor('#lobby <alice> hello from alice');
      await carol.waitFor('#lobby <bob> hi from bob');
    });

    await check('own messages are marked and times are HH:MM', async () => {
      const own = await texts(alice, '#log li.msg.own .text');
      assert(own.includes('hello from alice'), `alice's own message is marked: ${own}`);
      assert(!own.includes('hi from bob'), 'bob\'s message is not marked as alice\'s');
      const times = await texts(alice, '#log li time');
      assert(times.length && times.every((t) => /^\d\d:\d\d$/.test(t)), `times: ${times}`);
    });

    await check('HTML in a message is shown as literal text', async () => {
      await type(bob, XSS);
      await waitForMessage(alice, 'bob', XSS);
      await carol.waitFor(`<bob> ${XSS}`);
      await sleep(200);
      for (const page of [alice, bob]) {
        const found = await page.evaluate(() => ({
          injected: document.querySelectorAll('#log script, #log b').length,
          children: [...document.querySelectorAll('#log .text')].reduce((n, e) => n + e.childElementCount, 0),
        }));
        assert(found.injected === 0 && found.children === 0, `elements were created from message text: ${JSON.stringify(found)}`);
      }
      assert(!problems.some((p) => p.includes('dialog')), problems.join('; '));
    });

    await check('escape sequences and bidi overrides are shown escaped, as in the terminal', async () => {
      carol.send('\u001b]0;pwned\u0007\u001b[31mred \u202etxt.exe');
      const shown = String.raw`\x1b]0;pwned\x07\x1b[31mred \u{202e}txt.exe`;
      for (const page of [alice, bob]) await waitForMessage(page, 'carol', shown);
      const raw = await alice.$$eval('#log .text', (els) => els.some((e) => /[\u001b\u202e]/.test(e.textContent)));
      assert(!raw, 'a control character or bidi override reached the page');
    });

    await check('private messages: /msg typed in the page and in the terminal', async () => {
      carol.send('/msg alice psst, from the terminal');
      await waitForMessage(alice, 'carol → alice', 'psst, from the terminal', 'li.private');
      await type(alice, '/msg bob a secret for bob');
      await waitForMessage(bob, 'alice → bob', 'a secret for bob', 'li.private');
      await waitForMessage(alice, 'alice → bob', 'a secret for bob', 'li.private');
      const bobLog = (await texts(bob, '#log li')).join('\n');
      assert(!bobLog.includes('psst'), 'bob must not see a private message to alice');
    });

    await check('http(s) URLs are links that open safely; other schemes stay text', async () => {
      const said = 'docs: https://doc.rust-lang.org/std/, (see https://en.wikipedia.org/wiki/Rust_(programming_language)). not javascript:alert(1) nor ftp://x.example';
      carol.send(said);
      await waitForMessage(alice, 'carol', said);
      const links = await alice.$$eval('#log li.msg .text a', (as) => as.map((a) => ({ href: a.href, text: a.textContent, rel: a.rel, target: a.target })));
      const want = ['https://doc.rust-lang.org/std/', 'https://en.wikipedia.org/wiki/Rust_(programming_language)'];
      assert(JSON.stringify(links.map((l) => l.href)) === JSON.stringify(want), `links: ${JSON.stringify(links)}`);
      assert(links.every((l) => l.text === l.href && l.rel === 'noopener noreferrer' && l.target === '_blank'), `link attributes: ${JSON.stringify(links)}`);
    });

    await check('page A switches to #rust from the room list and sees its history', async () => {
      carol.send('/join #rust');
      await carol.waitFor('-> carol joined #rust');
      carol.send('anyone tried the new borrow checker diagnostics?');
      carol.send('/me is reading the 2024 edition guide');
      await carol.waitFor('* carol is reading the 2024 edition guide');
      await type(alice, '/list');
      await alice.click('#room-list button[data-room="#rust"]');
      await alice.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust');
      await waitForMessage(alice, 'carol', 'anyone tried the new borrow checker diagnostics?');
      await waitForMessage(alice, '* carol', 'is reading the 2024 edition guide', 'li.action');
      const visible = (await visibleLog(alice)).join('\n');
      assert(!visible.includes('hi from bob'), '#lobby messages are hidden in #rust');
      await alice.waitForFunction(() => [...document.querySelectorAll('#member-list .member-name')].map((e) => e.textContent).join() === 'alice,carol');
      await carol.waitFor('-> alice joined #rust');
    });

    await check('page B joins #rust with /join and the two talk there', async () => {
      await type(bob, '/join #rust');
      await bob.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust');
      await type(bob, 'yes! the suggestions got much better');
      await waitForMessage(alice, 'bob', 'yes! the suggestions got much better');
      await type(alice, 'same here, and the compile times too');
      await waitForMessage(bob, 'alice', 'same here, and the compile times too');
      await carol.waitFor('#rust <alice> same here');
      carol.send('nice: cargo check on the workspace went from 40 s to 25 s here');
      await type(bob, '/me waves from the browser');
      await waitForMessage(alice, '* bob', 'waves from the browser', 'li.action');
      await waitForMessage(alice, 'carol', 'nice: cargo check on the workspace went from 40 s to 25 s here');
    });

    await check('a message naming you is highlighted, and counted on its room while you are elsewhere', async () => {
      await bob.click('#room-list button[data-room="#lobby"]');
      await bob.waitForFunction(() => document.querySelector('#room-title').textContent === '#lobby');
      await type(bob, 'Alice: the release notes are up');
      await type(bob, 'malice is not a mention of her');
      // Both lines counted as unread, one of them as a mention.
      await alice.waitForFunction(() => {
        const button = document.querySelector('#room-list button[data-room="#lobby"]');
        return button?.querySelector('.unread.mention')?.textContent === '@1'
          && Number(button.querySelector('.unread:not(.mention)')?.textContent) >= 2;
      }).catch(async () => {
        throw new Error(`#lobby's badges: ${await texts(alice, '#room-list button[data-room="#lobby"] .unread')}`);
      });
      assert(await alice.title() === '(1) #rust — rustchat', `title: ${await alice.title()}`);
      await alice.click('#room-list button[data-room="#lobby"]');
      await waitForMessage(alice, 'bob', 'Alice: the release notes are up', 'li.msg.mention');
      const plain = await alice.$$eval('#log li.msg', (lis) => lis.filter((li) => li.textContent.includes('malice')).map((li) => li.className));
      assert(plain.length === 1 && !plain[0].includes('mention'), `"malice" is not a mention: ${plain}`);
      assert(await alice.title() === '#lobby — rustchat', `title once seen: ${await alice.title()}`);
      await alice.click('#room-list button[data-room="#rust"]');
      await alice.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust');
      await bob.click('#room-list button[data-room="#rust"]');
      await bob.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust');
    });

    await check('desktop screenshots at 1200x800, light and dark', async () => {
      await alice.fill('#text', '');
      await alice.focus('#text');
      const file = path.join(screenshots, 'screenshot-page.png');
      await alice.screenshot({ path: file });
      if (flag('--update-docs')) fs.copyFileSync(file, path.join(ROOT, 'docs/screenshot-page.png'));
      await alice.emulateMedia({ colorScheme: 'dark' });
      await alice.screenshot({ path: path.join(screenshots, 'screenshot-page-dark.png') });
      await alice.emulateMedia({ colorScheme: 'light' });
      console.log(`  screenshots: ${screenshots}`);
    });

    await check('after the connection drops, page A reconnects and restores nick and room', async () => {
      await alice.evaluate(() => window.__sockets.at(-1).close());
      await alice.waitForFunction(() => /^Reconnecting in \d+s/.test(document.querySelector('#status').textContent));
      await alice.waitForSelector('#status[data-state=connected]', { timeout: 8000 });
      await alice.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust'
        && document.querySelector('#nick').value === 'alice'
        && document.querySelectorAll('#member-list .member-name').length === 3);
      await carol.waitFor('<- alice left #rust');
      carol.send('welcome back alice');
      await waitForMessage(alice, 'carol', 'welcome back alice');
      const own = await alice.$$eval('#log li.msg.own .text', (els) => els.map((e) => e.textContent));
      assert(own.includes('same here, and the compile times too'), 'own messages still marked');
      await waitForText(alice, '#log li.notice', 'Reconnected.');
    });

    await check('a reload comes back to the same nick and room without saying "Reconnected."', async () => {
      await alice.reload();
      await alice.waitForSelector('#status[data-state=connected]', { timeout: 8000 });
      await alice.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust'
        && document.querySelector('#nick').value === 'alice'
        && [...document.querySelectorAll('#member-list .member-name')].some((e) => e.textContent === 'alice'), null, { timeout: 8000 });
      await waitForMessage(alice, 'carol', 'welcome back alice');
      const log = (await texts(alice, '#log li')).join('\n');
      assert(!log.includes('Reconnected.') && !log.includes('Disconnected'), `after a reload:\n${log}`);
    });

    await check('keyboard: a room button works with Enter', async () => {
      await bob.focus('#room-list button[data-room="#lobby"]');
      await bob.keyboard.press('Enter');
      await bob.waitForFunction(() => document.querySelector('#room-title').textContent === '#lobby');
      await waitForMessage(bob, 'carol', 'hey from the terminal');
      await bob.focus('#room-list button[data-room="#rust"]');
      await bob.keyboard.press('Enter');
      await bob.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust');
    });

    await check('a typed /history is replayed where the user is looking', async () => {
      await type(bob, '/history #rust 2');
      await waitForText(bob, '#log li.info:not([hidden])', 'History of #rust:');
      const last = (await visibleLog(bob)).slice(-3);
      const ok = last[0].includes('History of #rust:') && last[1].endsWith('waves from the browser') && last[2].endsWith('welcome back alice');
      assert(ok, `the replay ends the log:\n${last.join('\n')}`);
    });

    await check('phone width 390x844: no horizontal overflow, panels open as drawers', async () => {
      await bob.setViewportSize({ width: 390, height: 844 });
      const size = await bob.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        sidebar: getComputedStyle(document.querySelector('#rooms')).display,
        input: document.querySelector('#text').getBoundingClientRect().right,
      }));
      assert(size.page <= 390 && size.body <= 390, `the page overflows: ${JSON.stringify(size)}`);
      assert(size.sidebar === 'none', 'the room panel is collapsed');
      assert(size.input <= 390, 'the message box fits');
      await bob.screenshot({ path: path.join(screenshots, 'screenshot-page-phone.png') });
      await bob.click('#rooms-toggle');
      await bob.waitForSelector('#rooms button[data-room="#lobby"]', { state: 'visible' });
      await bob.screenshot({ path: path.join(screenshots, 'screenshot-page-phone-rooms.png') });
      await bob.keyboard.press('Escape');
      await bob.waitForSelector('#rooms', { state: 'hidden' });
      assert(await bob.evaluate(() => document.activeElement?.id) === 'rooms-toggle', 'Escape gives the focus back to the Rooms button');
    });

    await check('phone width: the Members drawer closes with its × button and with a tap beside it', async () => {
      await bob.click('#members-toggle');
      await bob.waitForSelector('#members .member-name', { state: 'visible' });
      await bob.screenshot({ path: path.join(screenshots, 'screenshot-page-phone-members.png') });
      await bob.click('#members .panel-close');
      await bob.waitForSelector('#members', { state: 'hidden' });
      await bob.click('#members-toggle');
      await bob.waitForSelector('#members .member-name', { state: 'visible' });
      // The drawer is on the right: a tap on the left, on the dimmed chat, closes it.
      await bob.mouse.click(40, 420);
      await bob.waitForSelector('#members', { state: 'hidden' });
      const sent = await bob.$$eval('#log li.msg.own', (lis) => lis.length);
      await bob.click('#members-toggle');
      await bob.waitForSelector('#members .member-name', { state: 'visible' });
      await bob.keyboard.press('Escape');
      await bob.waitForSelector('#members', { state: 'hidden' });
      assert(await bob.$$eval('#log li.msg.own', (lis) => lis.length) === sent, 'closing a drawer sends nothing');
    });

    // ---- accounts ---------------------------------------------------------------------------
    let token; // page A's saved sign-in: {account, token, id}
    await check('sign-in form: page A registers its nick; a too-short password is refused in the form', async () => {
      await alice.click('#signin-open');
      await alice.waitForSelector('#signin', { state: 'visible' });
      assert(await alice.inputValue('#signin-name') === 'alice', 'the form offers the current nick');
      assert(await alice.evaluate(() => document.activeElement?.id) === 'signin-password', 'the focus is on the password');
      await alice.fill('#signin-password', 'short');
      await alice.click('#signin-register');
      await waitForText(alice, '#signin-error', 'password too short: 5 bytes, expected at least 8');
      assert(await alice.isVisible('#signin'), 'the dialog stays open after a failure');
      await alice.screenshot({ path: path.join(screenshots, 'screenshot-page-signin.png') });
      await alice.fill('#signin-password', PASSWORD);
      await alice.click('#signin-register');
      await alice.waitForSelector('#signin', { state: 'hidden' });
      await waitForText(alice, '#account', 'signed in as alice');
      assert(await alice.isHidden('#signin-open') && await alice.isVisible('#signout'), 'the header offers Sign out');
      token = await (await alice.waitForFunction((key) => {
        const saved = JSON.parse(localStorage.getItem(key) || 'null');
        return saved?.token && saved;
      }, SIGNIN_KEY)).jsonValue();
      assert(token.account === 'alice' && /^rct_[0-9a-f]{64}$/.test(token.token) && Number.isInteger(token.id), `saved: ${JSON.stringify(token)}`);
    });

    await check('the password is nowhere in the page: text, inputs, storage', async () => {
      const leaks = await alice.evaluate((password) => ({
        text: document.documentElement.textContent.includes(password),
        inputs: [...document.querySelectorAll('input')].filter((i) => i.value.includes(password)).map((i) => i.id),
        storage: JSON.stringify({ ...localStorage, ...sessionStorage }).includes(password),
      }), PASSWORD);
      assert(!leaks.text && !leaks.inputs.length && !leaks.storage, `the password leaked: ${JSON.stringify(leaks)}`);
    });

    await check('a reload stays signed in: the token goes on the upgrade and the welcome names the account', async () => {
      await alice.reload();
      await alice.waitForSelector('#status[data-state=connected]', { timeout: 8000 });
      await waitForText(alice, '#account', 'signed in as alice');
      await alice.waitForFunction(() => document.querySelector('#room-title').textContent === '#rust'
        && document.querySelector('#nick').value === 'alice', null, { timeout: 8000 });
      const seen = await alice.evaluate((key) => ({
        url: window.__sockets[0]?.url,
        first: window.__sockets[0]?.__frames[0],
        saved: JSON.parse(localStorage.getItem(key) || 'null'),
      }), SIGNIN_KEY);
      assert(seen.url?.endsWith(`/ws?token=${token.token}`), `the socket opened ${seen.url}`);
      const welcome = JSON.parse(seen.first);
      assert(welcome.type === 'welcome' && welcome.account === 'alice' && welcome.nick === 'alice', `first event: ${seen.first}`);
      assert(seen.saved?.token === token.token, `the saved token is kept: ${JSON.stringify(seen.saved)}`);
      const log = (await texts(alice, '#log li')).join('\n');
      assert(!log.includes('expired') && !log.includes('is registered'), `after a signed-in reload:\n${log}`);
    });

    await check("page B's /nick to the registered name opens the sign-in form with it (phone width)", async () => {
      await type(bob, '/nick alice');
      await bob.waitForSelector('#signin', { state: 'visible' });
      await waitForText(bob, '#signin-error', 'nick alice is registered — /login alice <password> if it is yours');
      assert(await bob.inputValue('#signin-name') === 'alice', 'the form is filled in with the name');
      assert(await bob.inputValue('#nick') === 'bob', 'bob keeps his nick');
      const box = await bob.evaluate(() => {
        const r = document.querySelector('#signin').getBoundingClientRect();
        return { left: r.left, right: r.right, page: document.documentElement.scrollWidth };
      });
      assert(box.left >= 0 && box.right <= 390 && box.page <= 390, `the dialog does not fit the phone: ${JSON.stringify(box)}`);
      await bob.screenshot({ path: path.join(screenshots, 'screenshot-page-phone-signin.png') });
      await bob.keyboard.press('Escape');
      await bob.waitForSelector('#signin', { state: 'hidden' });
      assert(await bob.evaluate(() => document.activeElement?.id) === 'text', 'Escape gives the focus back to the message box');
    });

    await check('a /login typed in the message box is never shown nor recalled with the arrows', async () => {
      const sent = await bob.$$eval('#log li', (lis) => lis.length);
      await type(bob, `/login alice ${WRONG_PASSWORD}`);
      await waitForText(bob, '#log li.error', 'wrong account name or password');
      assert(await bob.inputValue('#text') === '', 'the message box is emptied');
      const recalled = [];
      for (let i = 0; i < 20; i += 1) {
        await bob.press('#text', 'ArrowUp');
        recalled.push(await bob.inputValue('#text'));
      }
      await bob.fill('#text', '');
      assert(recalled.includes('/nick alice') && !recalled.some((l) => l.includes(WRONG_PASSWORD)), `recalled: ${JSON.stringify(recalled)}`);
      const shownText = await bob.evaluate(() => document.documentElement.textContent);
      assert(!shownText.includes(WRONG_PASSWORD), 'the typed password is in the page');
      assert(await bob.$$eval('#log li', (lis) => lis.length) > sent, 'the refusal is in the log');
    });

    await check('page A signs out: header and storage cleared, the token revoked', async () => {
      await alice.click('#signout');
      await alice.waitForFunction(() => !document.querySelector('#account').textContent.includes('signed in')
        && !document.querySelector('#signin-open').hidden && document.querySelector('#signout').hidden
        && /^guest-\d+$/.test(document.querySelector('#nick').value));
      await waitForText(alice, '#log li', 'You are signed out.');
      assert(await alice.evaluate((key) => localStorage.getItem(key)) === null, 'localStorage still holds the sign-in');
      // A fresh connection with the old token joins as a guest and hears why.
      const frames = await alice.evaluate(async (token) => {
        const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
        const ws = new WebSocket(`${scheme}${location.host}/ws?token=${token}`, 'rustchat.json');
        const got = [];
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 4000);
          const done = () => { clearTimeout(timer); resolve(); };
          ws.onmessage = (e) => { got.push(JSON.parse(e.data)); if (got.some((f) => f.type === 'error')) done(); };
          ws.onclose = done;
        });
        ws.close();
        return got;
      }, token.token);
      const welcome = frames.find((f) => f.type === 'welcome');
      const refused = frames.find((f) => f.type === 'error');
      assert(welcome?.account === null && /^guest-\d+$/.test(welcome.nick), `the revoked token signed in: ${JSON.stringify(frames)}`);
      assert(refused?.kind === 'auth_failed', `no auth_failed after the welcome: ${JSON.stringify(frames)}`);
    });

    await check('page A signs in again with the form: a wrong password is refused in it, Enter submits', async () => {
      await alice.click('#signin-open');
      await alice.waitForSelector('#signin', { state: 'visible' });
      assert(await alice.evaluate(() => document.activeElement?.id) === 'signin-name', 'a guest starts at the name');
      await alice.fill('#signin-name', 'alice');
      await alice.fill('#signin-password', WRONG_PASSWORD);
      await alice.click('#signin-submit');
      await waitForText(alice, '#signin-error', 'wrong account name or password');
      assert(await alice.isVisible('#signin'), 'the dialog stays open after a wrong password');
      await alice.fill('#signin-password', PASSWORD);
      await alice.press('#signin-password', 'Enter');
      await alice.waitForSelector('#signin', { state: 'hidden' });
      await waitForText(alice, '#account', 'signed in as alice');
      await alice.waitForFunction(() => document.querySelector('#nick').value === 'alice');
      const saved = await (await alice.waitForFunction((key) => JSON.parse(localStorage.getItem(key) || 'null'), SIGNIN_KEY)).jsonValue();
      // (The id may be the revoked one's again: ids are the table's row ids.)
      assert(saved.account === 'alice' && /^rct_[0-9a-f]{64}$/.test(saved.token) && saved.token !== token.token, `a new token is saved: ${JSON.stringify(saved)}`);
      const shownText = await alice.evaluate(() => document.documentElement.textContent);
      assert(!shownText.includes(PASSWORD) && !shownText.includes(WRONG_PASSWORD), 'a password is in the page');
      await type(alice, '/tokens');
      await waitForText(alice, '#log li.info', 'Your access tokens (1):');
      const list = (await texts(alice, '#log li.info .text')).find((t) => t.startsWith('Your access tokens'));
      assert(/browser page .* \(this browser\)/.test(list) && !list.includes('rct_'), `the token list: ${list}`);
    });

    await check('page B registers a new name from the form: the nick first, then the account', async () => {
      await bob.click('#signin-open');
      await bob.waitForSelector('#signin', { state: 'visible' });
      await bob.fill('#signin-name', 'bobcat');
      await bob.fill('#signin-password', PASSWORD);
      await bob.click('#signin-register');
      await bob.waitForSelector('#signin', { state: 'hidden' });
      await waitForText(bob, '#account', 'signed in as bobcat');
      assert(await bob.inputValue('#nick') === 'bobcat', 'the nick is the account');
      await waitForText(alice, '#log li.notice', 'bob is now known as bobcat');
      await bob.waitForFunction((key) => JSON.parse(localStorage.getItem(key) || 'null')?.account === 'bobcat', SIGNIN_KEY);
      const size = await bob.evaluate(() => document.documentElement.scrollWidth);
      assert(size <= 390, `the signed-in header overflows the phone: ${size}`);
      await bob.screenshot({ path: path.join(screenshots, 'screenshot-page-phone-signed-in.png') });
    });

    // ---- room moderation -------------------------------------------------------------------
    await check('moderation: page A registers #club and sets a topic, shown in its header as text', async () => {
      await type(alice, '/join #club');
      await alice.waitForFunction(() => document.querySelector('#room-title').textContent === '#club');
      assert(await alice.isHidden('#room-topic'), 'a room without a topic shows none');
      await type(alice, '/room register #club');
      await waitForShown(alice, 'li.mod', 'You registered #club and own it');
      await waitForMembers(alice, ['@alice']);
      await type(alice, `/topic #club ${TOPIC}`);
      await alice.waitForFunction((topic) => document.querySelector('#topic-text').textContent === topic
        && document.querySelector('#room-topic').title === topic && document.querySelector('#room-topic').checkVisibility(), TOPIC);
      await waitForShown(alice, 'li.mod', `Topic of #club: ${TOPIC} (set by alice)`);
      assert(await alice.$$eval('#room-topic *', (els) => els.filter((e) => e.matches('b, script')).length) === 0, 'HTML in the topic became elements');
      const mark = await alice.$eval('#member-list .role', (e) => ({ title: e.title, hidden: e.getAttribute('aria-hidden'), label: e.parentElement.querySelector('.sr-only')?.textContent }));
      assert(mark.title === 'operator' && mark.hidden === 'true' && mark.label === ', operator', `the operator mark: ${JSON.stringify(mark)}`);
    });

    await check('moderation: page B signs out, joins #club as the guest bob, and sees the topic and @alice', async () => {
      await bob.click('#signout');
      await bob.waitForFunction(() => /^guest-\d+$/.test(document.querySelector('#nick').value) && document.querySelector('#signout').hidden);
      await bob.fill('#nick', 'bob');
      await bob.press('#nick', 'Enter');
      await type(bob, '/join #club');
      await bob.waitForFunction(() => document.querySelector('#room-title').textContent === '#club');
      await waitForMembers(alice, ['@alice', 'bob']);
      await bob.waitForFunction((topic) => document.querySelector('#topic-text').textContent === topic
        && document.querySelector('#room-topic').title === topic, TOPIC);
      await waitForShown(bob, 'li.mod', `Topic of #club: ${TOPIC} (set by alice)`);
      // At phone width the long topic is cut with an ellipsis, and nothing overflows the page.
      const fit = await bob.evaluate(() => {
        const topic = document.querySelector('#room-topic');
        return { cut: topic.scrollWidth > topic.clientWidth, overflow: getComputedStyle(topic).textOverflow,
          right: topic.getBoundingClientRect().right, page: document.documentElement.scrollWidth };
      });
      assert(fit.cut && fit.overflow === 'ellipsis' && fit.right <= 390 && fit.page <= 390, `the topic at phone width: ${JSON.stringify(fit)}`);
      await bob.screenshot({ path: path.join(screenshots, 'screenshot-page-phone-topic.png') });
      await waitForMembers(bob, ['@alice', 'bob']);
    });

    await check('moderation: voicing bob marks him + on both pages at once; /op of a guest is refused', async () => {
      await type(alice, '/voice #club bob');
      await waitForShown(alice, 'li.mod', 'You gave bob voice in #club');
      await waitForShown(bob, 'li.mod.you', 'alice gave you voice in #club');
      await waitForMembers(alice, ['@alice', '+bob']);
      await waitForMembers(bob, ['@alice', '+bob']);
      const voiced = await bob.$eval('#member-list .role-voiced', (e) => ({ title: e.title, label: e.parentElement.querySelector('.sr-only')?.textContent }));
      assert(voiced.title === 'voiced' && voiced.label === ', voiced', `the voiced mark: ${JSON.stringify(voiced)}`);
      await type(alice, '/op #club bob');
      await waitForShown(alice, 'li.error', 'bob is not signed in: operators must have accounts');
      await alice.screenshot({ path: path.join(screenshots, 'screenshot-page-moderation.png') });
    });

    await check('moderation: under +m the voiced guest speaks; devoiced, he is refused with the moderated error', async () => {
      await type(alice, '/mode #club +m');
      for (const page of [alice, bob]) await waitForShown(page, 'li.mod', 'modes of #club: +m (set by alice)');
      await type(bob, 'voiced, so you hear me');
      await waitForMessage(alice, 'bob', 'voiced, so you hear me');
      await type(alice, '/devoice #club bob');
      await waitForMembers(bob, ['@alice', 'bob']);
      await waitForMembers(alice, ['@alice', 'bob']);
      await type(bob, 'can anyone hear me?');
      await waitForShown(bob, 'li.error', '#club is moderated (+m): only voiced members and operators speak');
      // The refusal comes before anything is sent to the room: nobody got the line.
      for (const page of [alice, bob]) {
        assert(!(await texts(page, '#log li.msg .text')).includes('can anyone hear me?'), 'a refused message was shown');
      }
      await type(bob, '/topic #club taken over');
      await waitForShown(bob, 'li.error', 'only the operators of #club set its topic');
      assert(await bob.textContent('#topic-text') === TOPIC, 'the topic is unchanged');
    });

    await check('moderation: a kicked guest is told, #club leaves his rooms; a ban keeps him out', async () => {
      await type(alice, '/kick #club bob spamming <i>links</i>');
      await waitForShown(bob, 'li.mod.you.removed', 'alice kicked you from #club (spamming <i>links</i>) — you are no longer in #club');
      await bob.waitForFunction(() => {
        const button = document.querySelector('#room-list button[data-room="#club"]');
        return document.querySelector('#room-title').textContent !== '#club'
          && (!button || (button.classList.contains('room-out') && !button.hasAttribute('aria-current')))
          && document.querySelector('#room-topic').hidden;
      });
      assert(await bob.$$eval('#log li.mod.you i', (els) => els.length) === 0, 'HTML in the reason became an element');
      await waitForShown(alice, 'li.mod', 'You kicked bob from #club (spamming <i>links</i>)');
      await waitForShown(alice, 'li.notice', 'bob left #club (kicked by alice: spamming <i>links</i>)');
      await waitForMembers(alice, ['@alice']);
      await type(alice, '/ban #club bob 10m flooding');
      await bob.waitForFunction(() => [...document.querySelectorAll('#log li.mod.you.removed')]
        .some((li) => li.checkVisibility() && /alice banned you from #club until \d\d:\d\d \(flooding\)$/.test(li.textContent)));
      await type(bob, '/join #club');
      await waitForShown(bob, 'li.error', 'you are banned from #club for another 10m, by alice (flooding)');
    });

    await check('moderation: unbanned, refused by +i, invited: the Join button brings page B back', async () => {
      await type(alice, '/unban #club bob');
      await waitForShown(bob, 'li.mod.you', 'alice lifted the ban on you in #club');
      await type(alice, '/mode #club +i');
      await waitForShown(alice, 'li.mod', 'modes of #club: +im (set by alice)');
      await type(bob, '/join #club');
      await waitForShown(bob, 'li.error', '#club is invite-only (+i)');
      await type(alice, '/invite bob #club');
      await waitForShown(bob, 'li.mod.you', 'alice invited you to #club — Join #club or type /join #club');
      await bob.click('#log li.mod.you:not([hidden]) button:text-is("Join #club")');
      await bob.waitForFunction((topic) => document.querySelector('#room-title').textContent === '#club'
        && document.querySelector('#topic-text').textContent === topic, TOPIC);
      await waitForMembers(alice, ['@alice', 'bob']);
    });

    await check('moderation: a redacted message leaves both pages, with a notice saying who removed it', async () => {
      // #club is still +m and bob unvoiced: alice (an operator) speaks, bob sees it.
      await type(alice, 'this one was a mistake');
      for (const page of [alice, bob]) await waitForMessage(page, 'alice', 'this one was a mistake');
      const id = await alice.$$eval('#log li.msg', (items) => items
        .filter((li) => li.querySelector('.text')?.textContent === 'this one was a mistake')
        .map((li) => li.dataset.messageId)[0]);
      assert(/^\d+$/.test(id ?? ''), `the message has no id: ${id}`);
      await type(alice, `/redact ${id} off topic`);
      for (const page of [alice, bob]) {
        await waitForShown(page, 'li.mod', 'removed a message from #club (off topic)');
        await page.waitForFunction((id) => !document.querySelector(`#log li[data-message-id="${id}"]`), id);
      }
    });

    await check('no page errors, console errors or dialogs', async () => {
      assert(problems.length === 0, problems.join('\n  '));
    });
  } finally {
    carol?.close();
    await browser.close();
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}, (error) => {
  if (!failed) console.log(`not ok - ${error?.stack || error}`);
  console.log(`${passed} passed, ${Math.max(failed, 1)} failed`);
  process.exit(1);
});
