// The page's login and its CSRF rules: a login cookie alone never changes anything, and a request
// the browser marks as cross-site is refused even with the CSRF token.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminTestHost, adminToken, adminUrl, startWithAdmin, shopHost } from './admin-harness.ts';
import type { TestHost } from '../e2e/harness.ts';

interface Login {
  readonly cookie: string;
  readonly csrf: string;
}

async function login(h: TestHost): Promise<Login> {
  const res = await fetch(`${adminUrl(h)}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: adminUrl(h) },
    body: new URLSearchParams({ token: adminToken }).toString(),
    redirect: 'manual',
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/');
  const setCookie = res.headers.get('set-cookie')!;
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.ok(!setCookie.includes(adminToken), 'the cookie is a session, not the token');
  const cookie = setCookie.split(';')[0]!;
  const page = await fetch(`${adminUrl(h)}/`, { headers: { cookie } });
  const html = await page.text();
  assert.match(page.headers.get('content-security-policy')!, /default-src 'none'/);
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1];
  assert.ok(csrf !== undefined && csrf.length >= 32, 'the page carries a CSRF token');
  return { cookie, csrf };
}

function post(h: TestHost, pathname: string, headers: Record<string, string>): Promise<Response> {
  return fetch(adminUrl(h) + pathname, { method: 'POST', headers });
}

describe('admin page login and CSRF', () => {
  it('shows the login form until logged in, and refuses a wrong token without saying why', async (t) => {
    const h = await adminTestHost();
    t.after(() => h.stop());
    await startWithAdmin(h);
    const anonymous = await (await fetch(`${adminUrl(h)}/`)).text();
    assert.match(anonymous, /<form class="login" method="post" action="\/login">/);
    assert.doesNotMatch(anonymous, /csrf-token/);

    const wrong = await fetch(`${adminUrl(h)}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=not-the-token-at-all',
      redirect: 'manual',
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
    assert.match(await wrong.text(), /Login failed\./);

    const crossSite = await fetch(`${adminUrl(h)}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
      body: new URLSearchParams({ token: adminToken }).toString(),
      redirect: 'manual',
    });
    assert.equal(crossSite.status, 403, 'no login from another site (login CSRF)');
    assert.equal(crossSite.headers.get('set-cookie'), null);
  });

  it('refuses cookie-authenticated POSTs without the CSRF header, with a wrong one, or from another site', async (t) => {
    const h = await shopHost(t);
    const { cookie, csrf } = await login(h);
    const action = '/api/apps/shop/versions/1.0.0/disable';
    const self = adminUrl(h);

    assert.equal((await fetch(`${self}/api/apps`, { headers: { cookie } })).status, 200, 'the cookie reads the API');

    const refused: [string, Record<string, string>][] = [
      ['no CSRF header', { cookie, origin: self }],
      ['a wrong CSRF header', { cookie, origin: self, 'x-csrf-token': `${csrf}x` }],
      ['a foreign Origin', { cookie, origin: 'http://evil.example', 'x-csrf-token': csrf }],
      ['Origin null', { cookie, origin: 'null', 'x-csrf-token': csrf }],
      ['Sec-Fetch-Site cross-site', { cookie, 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf }],
      ['Sec-Fetch-Site same-site', { cookie, 'sec-fetch-site': 'same-site', 'x-csrf-token': csrf }],
    ];
    for (const [what, headers] of refused) {
      const res = await post(h, action, headers);
      assert.equal(res.status, 403, what);
      assert.equal(h.state('shop', '1.0.0'), 'ready', `${what}: nothing changed`);
    }

    const ok = await post(h, action, { cookie, origin: self, 'sec-fetch-site': 'same-origin', 'x-csrf-token': csrf });
    assert.equal(ok.status, 200);
    assert.equal(h.state('shop', '1.0.0'), 'disabled', 'same origin with the CSRF token acts');

    const other = await login(h);
    assert.equal((await post(h, '/api/apps/shop/versions/1.0.0/enable', { cookie, 'x-csrf-token': other.csrf })).status, 403, "another login's CSRF token does not fit");

    const stream = await fetch(`${self}/api/events`, { headers: { cookie }, signal: AbortSignal.timeout(10_000) });
    assert.equal(stream.status, 200, 'the cookie opens the event stream');
    const streamEnded = (async () => {
      for await (const _ of stream.body!) {
        // read until the server ends the stream
      }
      return 'ended';
    })().catch((err: Error) => `failed: ${err.message}`);

    assert.equal((await post(h, '/logout', { cookie, 'x-csrf-token': csrf })).status, 204);
    assert.equal((await fetch(`${self}/api/apps`, { headers: { cookie } })).status, 401, 'the cookie is dead after logout');
    // The next event (this action's) finds the login gone and ends the stream instead.
    assert.equal((await fetch(`${self}/api/apps/shop/versions/1.0.0/enable`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } })).status, 200);
    assert.equal(await streamEnded, 'ended', 'the event stream of a logged-out login ends');
  });
});
