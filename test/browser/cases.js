// One browser case per run, in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): `node cases.js <case>` with the servers' addresses in $SAML_BROWSER_CONFIG
// (JSON: sp, idp, chromium, screenshots, params). test_browser.py starts the servers, runs each
// case and reads the one JSON line this prints last: {"failures": [...], "facts": {...}}.
// Failures are what the browser saw go wrong; facts (reference ids, codes, statuses) are what
// the Python side checks against the servers' logs.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const config = JSON.parse(process.env.SAML_BROWSER_CONFIG || '{}');
const params = config.params || {};
const SP = params.sp || config.sp; // https://127.0.0.1:<port> (a case may name another SP)
const IDP_HOSTS = config.idpHosts; // idp.test:<port> ..., other sites than the SP
const failures = [];
const facts = {};

function check(condition, message) {
  if (!condition) failures.push(message);
  return condition;
}

async function launch() {
  return chromium.launch({
    executablePath: config.chromium,
    args: [
      // idp.test is the IdP's own site: the POST back to the SP is cross-site for real.
      `--host-resolver-rules=MAP *.test 127.0.0.1`,
      // The IdP is plain http on a loopback port; do not try https first.
      '--disable-features=HttpsUpgrades',
    ],
  });
}

async function newContext(browser) {
  // The SP's certificate is self-signed; 800x600 keeps the screenshots small.
  return browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 800, height: 600 }, locale: 'en-GB' });
}

async function screenshot(page, name) {
  if (!config.screenshots) return;
  fs.mkdirSync(config.screenshots, { recursive: true });
  await page.screenshot({ path: path.join(config.screenshots, name + '.png') });
}

const onIdp = (url) => IDP_HOSTS.includes(new URL(String(url)).host);
const onSp = (url) => String(url).startsWith(SP + "/");

// Fills the IdP's login form and waits until the browser is back at the SP (through the
// IdP's self-submitting POST form, which needs JavaScript: a real browser runs it).
async function loginAtIdp(page, user, password) {
  await page.waitForURL(onIdp, { timeout: 15000 });
  await page.waitForSelector('input[type=password]', { timeout: 15000 });
  await page.fill('input[name=username]', user);
  await page.fill('input[type=password]', password);
  await Promise.all([
    page.waitForURL(onSp, { timeout: 20000 }),
    page.press('input[type=password]', 'Enter'),
  ]);
  await page.waitForLoadState('load');
}

// Every request of a page from now on: method, url, resource type.
function watch(page) {
  const requests = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), type: r.resourceType() }));
  return requests;
}

// Records every request the page makes, the POSTs to /saml/acs with the headers the browser
// really sent (cookies included), and the SP's Set-Cookie headers on /saml/sso and redirects.
function recorder(page) {
  const seen = { requests: [], acsPending: [], spSetCookies: [] };
  page.on('request', (request) => {
    seen.requests.push({ method: request.method(), url: request.url() });
    if (request.url().startsWith(SP + '/saml/acs') && request.method() === 'POST') {
      seen.acsPending.push(request.allHeaders().then((headers) => ({ headers, body: request.postData() || '' })));
    }
  });
  page.on('response', (response) => {
    if (response.url().startsWith(SP + '/saml/sso') || (response.url().startsWith(SP + '/') && response.status() === 303)) {
      seen.spSetCookies.push(response.headersArray().then((headers) =>
        headers.filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value)));
    }
  });
  return seen;
}

// The POSTs to /saml/acs seen so far, with their headers.
const acsPosts = (seen) => Promise.all(seen.acsPending);
const spSetCookies = async (seen) => (await Promise.all(seen.spSetCookies)).flat();

function envOf(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

async function pageEnv(page) {
  return envOf(await page.evaluate(() => document.body.innerText));
}

// What every page a person sees must be: lang, one h1 that matches the title, text that says
// what happened and what to do, a reference id, nothing loaded from anywhere else.
async function checkPlainPage(page, requests, { reference = true, advice = true } = {}) {
  const shape = await page.evaluate(() => ({
    mode: document.compatMode,
    before: (document.body.firstElementChild && document.body.innerText.split(document.body.firstElementChild.innerText)[0]) || '',
    lang: document.documentElement.lang,
    title: document.title,
    h1: Array.from(document.querySelectorAll('h1')).map((h) => h.textContent.trim()),
    external: Array.from(document.querySelectorAll('script[src], link, img, iframe, object, embed, video, audio'))
      .map((e) => e.outerHTML.slice(0, 80)),
    text: document.body.innerText,
    advice: (document.querySelector('#advice') || {}).textContent || '',
    reference: (document.querySelector('#reference') || {}).textContent || '',
  }));
  check(shape.mode === 'CSS1Compat', `page renders in ${shape.mode} (quirks mode: text before the doctype?)`);
  check(shape.before.trim() === '', `stray text before the page's content: ${JSON.stringify(shape.before)}`);
  check(shape.lang === 'en', `page has no lang="en": ${JSON.stringify(shape.lang)}`);
  check(shape.title.length > 0 && shape.h1.length === 1 && shape.h1[0] === shape.title,
    `title ${JSON.stringify(shape.title)} and the one h1 ${JSON.stringify(shape.h1)} differ`);
  check(shape.external.length === 0, `page embeds other resources: ${shape.external.join(', ')}`);
  // What the page itself loaded: every request after the last document (the page) was asked for.
  let last = -1;
  requests.forEach((r, i) => { if (r.type === 'document') last = i; });
  const others = requests.slice(last + 1).filter((r) => !r.url.startsWith('data:'));
  check(others.length === 0, `page loaded more than itself: ${others.map((r) => r.url).join(', ')}`);
  if (advice) check(shape.advice.length > 20, 'page does not say what to do (#advice)');
  // Readable without CSS: all of it is in the document's text, in reading order.
  await page.evaluate(() => document.querySelectorAll('style').forEach((s) => s.remove()));
  const unstyled = await page.evaluate(() => document.body.innerText);
  check(unstyled.includes(shape.h1[0] || '\u0000') && (!advice || unstyled.includes(shape.advice.trim().slice(0, 30))),
    'page text is not readable without its style rules');
  if (reference) {
    const ref = /reference[^:]*: ([0-9a-f]{12})\b/i.exec(shape.reference);
    check(ref !== null, `no reference id on the page: ${JSON.stringify(shape.reference)}`);
    facts.reference = ref ? ref[1] : null;
    const code = /\((SAML[0-9]{4})\)/.exec(shape.reference);
    facts.code = code ? code[1] : null;
  }
  facts.title = shape.title;
  facts.text = shape.text;
}

// --- the cases ------------------------------------------------------------------------------

const cases = {};

// Login as alice from a protected page; the IdP's POST back is cross-site; the page shows her
// attributes. The login-state cookie is SameSite=None; Secure and rides on that POST; a Lax
// cookie of the same site does not (the browser enforces SameSite here, which is the point).
cases.login = async (browser) => {
  const context = await newContext(browser);
  await context.addCookies([
    { name: 'probe_lax', value: '1', url: SP, sameSite: 'Lax', secure: true },
    { name: 'probe_none', value: '1', url: SP, sameSite: 'None', secure: true },
  ]);
  const page = await context.newPage();
  const seen = recorder(page);
  const response = await page.goto(SP + '/protected/index.php');
  check(onIdp(page.url()), `not sent to the IdP at ${IDP_HOSTS[0]}: ${page.url()}`);
  await loginAtIdp(page, 'alice', 'alice-password');
  check(page.url() === SP + '/protected/index.php', `ended at ${page.url()}`);
  const text = await page.evaluate(() => document.body.innerText);
  check(text.includes('Logged in as alice') || /Logged in as [0-9a-f_]+/.test(text), 'no "Logged in as" line');
  check(text.includes('alice@example.org'), 'mail attribute missing');
  check(text.includes('Zoë'), 'givenName Zoë missing (UTF-8)');
  const posts = await acsPosts(seen);
  check(posts.length === 1, `${posts.length} POSTs to /saml/acs`);
  const acs = posts[0] || { headers: {} };
  const cookieHeader = acs.headers.cookie || '';
  facts.acsSecFetchSite = acs.headers['sec-fetch-site'];
  facts.acsCookieNames = cookieHeader.split(';').map((c) => c.trim().split('=')[0]).filter(Boolean);
  check(facts.acsSecFetchSite === 'cross-site', `POST to /acs was ${facts.acsSecFetchSite}, not cross-site`);
  check(facts.acsCookieNames.some((n) => n.startsWith('saml_login_')), 'the login-state cookie was not sent with the cross-site POST');
  check(facts.acsCookieNames.includes('probe_none'), 'a SameSite=None cookie was not sent with the cross-site POST');
  check(!facts.acsCookieNames.includes('probe_lax'), 'a SameSite=Lax cookie was sent with the cross-site POST (SameSite not enforced?)');
  // The one that sets it (the 303 from /acs expires it again afterwards).
  const stateCookies = (await spSetCookies(seen)).filter((c) => /^saml_login_[0-9a-f]+=[^;]/.test(c));
  facts.loginStateSetCookie = stateCookies[0] || null;
  check(stateCookies.length === 1 && /;\s*SameSite=None/i.test(stateCookies[0]) && /;\s*Secure/i.test(stateCookies[0]),
    `login-state Set-Cookie is not SameSite=None; Secure: ${stateCookies}`);
  const session = (await context.cookies(SP)).find((c) => c.name === 'saml_session');
  check(session && session.secure && session.httpOnly && session.sameSite === 'Lax',
    `session cookie is not Secure, HttpOnly, SameSite=Lax: ${JSON.stringify(session && { ...session, value: '...' })}`);
  check(!(await context.cookies(SP)).some((c) => c.name.startsWith('saml_login_')), 'login-state cookie left behind');
  facts.firstStatus = response ? response.status() : null;
};

// The negative: the same login with the login-state cookie turned SameSite=Lax (in the
// browser's own jar, while the IdP shows its form). The browser leaves it off the cross-site
// POST and the SP, rightly, finds no login in progress.
cases.lax_state = async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const last = lastDocument(page);
  const seen = recorder(page);
  await page.goto(SP + '/protected/index.php');
  await page.waitForSelector('input[type=password]');
  const state = (await context.cookies(SP)).filter((c) => c.name.startsWith('saml_login_'));
  check(state.length === 1 && state[0].sameSite === 'None', `login-state cookie: ${JSON.stringify(state.map((c) => c.sameSite))}`);
  await context.addCookies(state.map((c) => ({ ...c, sameSite: 'Lax' })));
  await loginAtIdp(page, 'alice', 'alice-password');
  const posts = await acsPosts(seen);
  check(posts.length === 1, `${posts.length} POSTs to /saml/acs`);
  const acs = posts[0] || { headers: {} };
  facts.acsCookieNames = (acs.headers.cookie || '').split(';').map((c) => c.trim().split('=')[0]).filter(Boolean);
  check(!facts.acsCookieNames.some((n) => n.startsWith('saml_login_')), 'the Lax login-state cookie was sent cross-site');
  facts.status = last.response ? last.response.status() : null;
  const text = await page.evaluate(() => document.body.innerText);
  const code = /\((SAML[0-9]{4})\)/.exec(text);
  const ref = /reference: ([0-9a-f]{12})/.exec(text);
  facts.code = code ? code[1] : null;
  facts.reference = ref ? ref[1] : null;
  check(!(await context.cookies(SP)).some((c) => c.name === 'saml_session'), 'a session was granted without the login state');
};

// A deep link with a query string comes back exactly, through the IdP (ReturnTo).
cases.deep_link = async (browser) => {
  const page = await (await newContext(browser)).newPage();
  const target = SP + '/protected/env.cgi?report=q3&lang=fr%20CA&x=%C3%A9';
  await page.goto(target);
  await loginAtIdp(page, 'alice', 'alice-password');
  check(page.url() === target, `ended at ${page.url()}, not ${target}`);
  const env = await pageEnv(page);
  check(env.REMOTE_USER !== undefined && env.SAML_uid === 'alice', `not logged in as alice: ${JSON.stringify(env)}`);
};

// Logout with Single Logout at the IdP and a ReturnTo: both sessions end, the next protected
// page asks for the password again.
cases.logout = async (browser) => {
  const page = await (await newContext(browser)).newPage();
  await page.goto(SP + '/protected/index.php');
  await loginAtIdp(page, 'alice', 'alice-password');
  const seen = recorder(page);
  await Promise.all([page.waitForURL(SP + '/public/index.php', { timeout: 20000 }), page.click('#logout')]);
  check(seen.requests.some((r) => onIdp(r.url) && r.url.includes('SingleLogoutService')), 'logout did not go through the IdP');
  check(seen.requests.some((r) => r.url.startsWith(SP + '/saml/sls')), 'the IdP did not answer at /saml/sls');
  check(await page.isVisible('#login'), 'the public page does not show Login after logout');
  check(!(await page.context().cookies(SP)).some((c) => c.name.startsWith('saml_session')), 'session cookie left after logout');
  await page.goto(SP + '/protected/index.php');
  check(onIdp(page.url()) && await page.isVisible('input[type=password]'), 'after SLO the IdP did not ask for the password again');
};

// Logout without ReturnTo ends on the module's logged-out page, after Single Logout at the IdP.
cases.logged_out_page = async (browser) => {
  const page = await (await newContext(browser)).newPage();
  await page.goto(SP + '/protected/index.php');
  await loginAtIdp(page, 'alice', 'alice-password');
  const requests = watch(page);
  const response = await page.goto(SP + '/saml/logout');
  check(requests.some((r) => onIdp(r.url)), 'logout did not go through the IdP');
  check(page.url().startsWith(SP + '/saml/sls'), `logout ended at ${page.url()}`);
  facts.status = response ? response.status() : null;
  await screenshot(page, 'logged-out');
  await checkPlainPage(page, requests);
  check(!(await page.context().cookies(SP)).some((c) => c.name.startsWith('saml_')), 'SAML cookies left after logout');
  await page.goto(SP + '/protected/index.php');
  check(onIdp(page.url()) && await page.isVisible('input[type=password]'), 'after logout the IdP did not ask for the password');
};

// Another site tries to log the user out: an <img> pointing at /saml/logout, then a script that
// navigates there (a top-level GET: the Lax session cookie goes along). Neither ends the session;
// the navigation lands on "Log out?", and its button does log out. The other site is served by
// the browser's own request routing (evil.test is never resolved).
cases.cross_site_logout = async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(SP + '/protected/index.php');
  await loginAtIdp(page, 'alice', 'alice-password');
  const logoutUrl = SP + '/saml/logout?local=1&ReturnTo=/public/index.php';
  await context.route('http://evil.test/**', (route) => route.fulfill({
    contentType: 'text/html',
    body: route.request().url().endsWith('/img')
      ? `<!DOCTYPE html><title>cats</title><img src="${logoutUrl}">`
      : `<!DOCTYPE html><title>cats</title><script>location.href = ${JSON.stringify(logoutUrl)};</script>`,
  }));
  await page.goto('http://evil.test/img');
  await page.waitForLoadState('load');
  await page.waitForTimeout(500);
  await page.goto(SP + '/protected/env.cgi');
  check((await pageEnv(page)).REMOTE_USER === 'alice', 'an <img> on another site ended the session');

  await page.goto('http://evil.test/navigate');
  await page.waitForURL((url) => onSp(url), { timeout: 15000 });
  await page.waitForLoadState('load');
  facts.title = await page.title();
  check(facts.title === 'Log out?', `a navigation from another site did not ask to confirm: ${facts.title}`);
  await screenshot(page, 'logout-confirm');
  const cookies = await context.cookies(SP);
  check(cookies.some((c) => c.name === 'saml_session'), 'the session cookie was removed before the user confirmed');
  const envPage = await context.newPage();
  await envPage.goto(SP + '/protected/env.cgi');
  check((await pageEnv(envPage)).REMOTE_USER === 'alice', 'the session ended before the user confirmed');
  await Promise.all([page.waitForURL(SP + '/public/index.php', { timeout: 15000 }), page.click('button[type=submit]')]);
  check(!(await context.cookies(SP)).some((c) => c.name.startsWith('saml_session')), 'session cookie left after confirming');
  await envPage.goto(SP + '/protected/env.cgi');
  check(onIdp(envPage.url()), 'after confirming, a protected page did not need a login');
};

// SAMLSessionStore cache (params.sp): 300 groups log in under httpd's default header limits;
// the browser holds one small cookie and the page sees every group.
cases.many_groups = async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(SP + '/protected/env.cgi');
  await loginAtIdp(page, params.user, params.password);
  check(page.url() === SP + '/protected/env.cgi', `ended at ${page.url()}`);
  const env = await pageEnv(page);
  check(env.REMOTE_USER === params.user, `REMOTE_USER is ${env.REMOTE_USER}`);
  facts.groups = (env.SAML_memberOf || '').split(';').filter((g) => g).length;
  const cookies = (await context.cookies(SP)).filter((c) => c.name.startsWith('saml_session'));
  check(cookies.length === 1, `session cookies: ${cookies.map((c) => c.name).join(', ')}`);
  facts.cookieBytes = cookies.length ? cookies[0].value.length : 0;
};

// SAMLSessionStore cache: a second browser context holds a copy of the session cookie (what a
// thief would); a logout in the first context ends the session for the copy too.
cases.revoked_copy = async (browser) => {
  const first = await newContext(browser);
  const page = await first.newPage();
  await page.goto(SP + '/protected/env.cgi');
  await loginAtIdp(page, 'alice', 'alice-password');
  const second = await newContext(browser);
  await second.addCookies((await first.cookies(SP)).filter((c) => c.name.startsWith('saml_session')));
  const thief = await second.newPage();
  await thief.goto(SP + '/protected/env.cgi');
  facts.before = (await pageEnv(thief)).REMOTE_USER;
  await page.goto(SP + '/saml/logout?local=1&ReturnTo=/public/index.php');
  check(page.url() === SP + '/public/index.php', `logout ended at ${page.url()}`);
  await thief.goto(SP + '/protected/env.cgi');
  check(onIdp(thief.url()), `the copied cookie still opened ${thief.url()} after the logout`);
};

// A second tab of the same browser shares the session: no trip to the IdP.
cases.second_tab = async (browser) => {
  const context = await newContext(browser);
  const first = await context.newPage();
  await first.goto(SP + '/protected/env.cgi');
  await loginAtIdp(first, 'alice', 'alice-password');
  const second = await context.newPage();
  const seen = recorder(second);
  await second.goto(SP + '/alice-only/env.cgi');
  check(second.url() === SP + '/alice-only/env.cgi', `second tab ended at ${second.url()}`);
  check(!seen.requests.some((r) => onIdp(r.url)), 'the second tab went to the IdP');
  check((await pageEnv(second)).SAML_uid === 'alice', 'second tab is not logged in as alice');
  await first.reload();
  check((await pageEnv(first)).SAML_uid === 'alice', 'first tab lost its session');
};

// A session too big for one cookie: several chunks, each under the browser's 4096-byte limit,
// all sent back, attributes intact.
cases.chunks = async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(SP + '/protected/env.cgi');
  await loginAtIdp(page, params.user, params.password);
  check(page.url() === SP + '/protected/env.cgi', `ended at ${page.url()}`);
  const cookies = (await context.cookies(SP)).filter((c) => c.name.startsWith('saml_session'));
  facts.chunkNames = cookies.map((c) => c.name).sort();
  facts.chunkSizes = cookies.map((c) => c.name.length + c.value.length);
  check(cookies.length >= 2, `expected several session cookies, got ${facts.chunkNames}`);
  check(facts.chunkSizes.every((n) => n < 4096), `a chunk reaches 4096 bytes: ${facts.chunkSizes}`);
  check(cookies.every((c) => c.secure && c.httpOnly), 'a chunk is not Secure and HttpOnly');
  const seen = recorder(page);
  await page.reload();
  check(!seen.requests.some((r) => onIdp(r.url)), 'the chunked session was not accepted (went to the IdP)');
  const env = await pageEnv(page);
  facts.bigValueLength = (env[params.attribute] || '').length;
  facts.bigValue = env[params.attribute] || '';
  facts.envNames = Object.keys(env);
};

// An expired session sends the browser to the IdP once, which still knows the user; back at
// the page without a password and without a loop.
cases.expired = async (browser) => {
  const page = await (await newContext(browser)).newPage();
  await page.goto(SP + '/short/env.cgi');
  await loginAtIdp(page, 'alice', 'alice-password');
  check((await pageEnv(page)).SAML_uid === 'alice', 'first login failed');
  await page.waitForTimeout(params.wait_ms);
  const seen = recorder(page);
  await page.goto(SP + '/short/env.cgi');
  await page.waitForURL(SP + '/short/env.cgi', { timeout: 20000 });
  await page.waitForLoadState('load');
  const acs = seen.requests.filter((r) => r.url.startsWith(SP + '/saml/acs')).length;
  const sso = seen.requests.filter((r) => onIdp(r.url) && r.url.includes('SSOService')).length;
  facts.acs = acs;
  facts.sso = sso;
  check(acs === 1 && sso === 1, `re-login took ${sso} trips to the IdP and ${acs} POSTs to /acs (a loop?)`);
  check(!seen.requests.some((r) => onIdp(r.url) && r.method === 'POST' && r.url.includes('loginuserpass')),
    'the IdP asked for the password again');
  check((await pageEnv(page)).SAML_uid === 'alice', 'not logged in after the re-login');
};

// The demo app on a passive page: a Log in link, then the user's attributes.
cases.passive = async (browser) => {
  const page = await (await newContext(browser)).newPage();
  const seen = recorder(page);
  await page.goto(SP + '/demo/');
  check(page.url() === SP + '/demo/', `the passive page redirected to ${page.url()}`);
  check(!seen.requests.some((r) => onIdp(r.url)), 'the passive page went to the IdP');
  check(await page.isVisible('#login'), 'no Log in link on the passive page');
  await screenshot(page, 'demo-app-anonymous');
  await page.click('#login');
  await loginAtIdp(page, 'alice', 'alice-password');
  check(page.url() === SP + '/demo/', `after login at ${page.url()}`);
  const text = await page.evaluate(() => document.body.innerText);
  check(/Logged in as alice/.test(text), 'the demo app does not show alice');
  check(text.includes('alice@example.org') && text.includes('Lefèvre'), 'attributes missing in the demo app');
  const ref = await page.textContent('#reference code').catch(() => '');
  facts.sessionReference = ref;
  check(/^_[0-9a-f]+$/.test(ref || ''), `the demo app shows no session reference: ${JSON.stringify(ref)}`);
  await screenshot(page, 'demo-app-alice');
  // The demo's Log out link has no ReturnTo: Single Logout, then the module's logged-out page.
  await page.click('#logout');
  await page.waitForURL((url) => String(url).startsWith(SP + '/saml/sls'), { timeout: 20000 });
  check((await page.title()) === 'Logged out', `after Log out the page is ${JSON.stringify(await page.title())}`);
  await page.goto(SP + '/demo/');
  check(await page.isVisible('#login'), 'the demo app still shows a user after logout');
};

// The IdP chooser (several IdPs, no default): a plain page whose search filters the list as
// one types (its inline script runs only if the page's CSP hash is right: a browser checks
// that), Enter takes the one match, and the choice is remembered for the next login.
cases.chooser = async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const requests = watch(page);
  await page.goto(SP + '/protected/env.cgi');
  check((await page.title()) === 'Choose where to log in', `no chooser: ${JSON.stringify(await page.title())}`);
  const names = await page.$$eval('#idp-list li a', (links) => links.map((a) => a.textContent));
  facts.names = names;
  check(params.names.every((n) => names.includes(n)), `chooser lists ${JSON.stringify(names)}`);
  await screenshot(page, 'idp-chooser');
  await checkPlainPage(page, requests, { reference: false, advice: false });
  await page.fill('#idp-search', params.search);
  const shown = await page.$$eval('#idp-list li', (items) => items.filter((li) => !li.hidden).map((li) => li.textContent));
  check(shown.length === 1 && shown[0].includes(params.pick), `after typing ${params.search}: ${JSON.stringify(shown)}`);
  await page.press('#idp-search', 'Enter');
  await loginAtIdp(page, 'alice', 'alice-password');
  check(page.url() === SP + '/protected/env.cgi', `ended at ${page.url()}`);
  facts.idp = (await pageEnv(page)).SAML_IDP;
  // Next time the chosen IdP comes first, marked.
  await page.goto(SP + '/saml/sso?ReturnTo=/protected/env.cgi');
  const first = await page.$eval('#idp-list li', (li) => ({ text: li.textContent, last: li.classList.contains('idp-last') }));
  check(first.last && first.text.includes(params.pick), `the chosen IdP is not first and marked: ${JSON.stringify(first)}`);
};

// --- error pages ----------------------------------------------------------------------------
// Each reaches one rejection the way a person might, then checks and photographs the page.

async function errorPage(browser, name, reach) {
  const context = await newContext(browser);
  const page = await context.newPage();
  const requests = watch(page);
  const response = await reach(page, context);
  facts.status = response ? response.status() : null;
  facts.url = page.url();
  await screenshot(page, name);  // first: checkPlainPage takes the style rules away
  await checkPlainPage(page, requests, params.checks || {});
}

// Submits a form to the SP's ACS from the SP's own origin, as a Back-button re-post would.
async function postToAcs(page, fields) {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate(({ action, fields }) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = action;
      for (const [name, value] of Object.entries(fields)) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      document.body.appendChild(form);
      form.submit();
    }, { action: SP + '/saml/acs', fields }),
  ]);
  return response;
}

// The answer of the last page the browser navigated to (through redirects and form posts).
function lastDocument(page) {
  const last = { response: null };
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()) last.response = r;
  });
  return last;
}

const errorCases = {
  // Only a path to open (bad ReturnTo, unknown IdP, GET on /acs, logout message missing ...).
  visit: (page) => page.goto(SP + params.path),
  // The login-state cookie is gone when the IdP's answer arrives (login in another browser,
  // cookies cleared, or it took longer than ten minutes).
  lost_state: async (page, context) => {
    const last = lastDocument(page);
    await page.goto(SP + '/protected/index.php');
    await page.waitForSelector('input[type=password]');
    await context.clearCookies({ domain: new URL(SP).hostname });
    await loginAtIdp(page, 'alice', 'alice-password');
    return last.response;
  },
  // The same answer posted twice (Back, then resubmit).
  // The login-state cookie is put back first, so the answer passes every other rule and meets
  // the replay cache (without it the page is the lost-state one above).
  replay: async (page, context) => {
    let body = null;
    page.on('request', (r) => { if (r.url().startsWith(SP + '/saml/acs') && r.method() === 'POST') body = r.postData(); });
    await page.goto(SP + '/protected/index.php');
    await page.waitForSelector('input[type=password]');
    const state = (await context.cookies(SP)).filter((c) => c.name.startsWith('saml_login_'));
    check(state.length === 1, 'no login-state cookie to keep');
    await loginAtIdp(page, 'alice', 'alice-password');
    await context.addCookies(state);
    const fields = Object.fromEntries(new URLSearchParams(body || ''));
    check(fields.SAMLResponse, 'no SAMLResponse captured');
    return postToAcs(page, fields);
  },
  // Not a SAML answer at all.
  garbage: async (page) => {
    await page.goto(SP + '/public/index.php');
    return postToAcs(page, { SAMLResponse: 'bm90IGEgU0FNTCByZXNwb25zZQ==' });
  },
  // An access portal's tile for an application without a start URL: the IdP posts a login this
  // browser never asked for (IdP-initiated), refused while SAMLAllowUnsolicited is Off.
  portal_tile: async (page) => {
    const last = lastDocument(page);
    await page.goto(params.url);
    await loginAtIdp(page, 'alice', 'alice-password');
    return last.response;
  },
  // A login that ends on an error page (a Require line keeps the user out, the session is too big).
  login: async (page) => {
    const last = lastDocument(page);
    await page.goto(SP + params.path);
    await loginAtIdp(page, params.user, params.password);
    return last.response;
  },
};

async function main() {
  const name = process.argv[2];
  const browser = await launch();
  try {
    if (cases[name]) await cases[name](browser);
    else if (name === 'error_page' && errorCases[params.reach]) await errorPage(browser, params.screenshot, errorCases[params.reach]);
    else failures.push(`no case ${name}`);
  } catch (e) {
    failures.push(`${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 4).join(' | ') : e}`);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify({ failures, facts }) + '\n');
}

main();
