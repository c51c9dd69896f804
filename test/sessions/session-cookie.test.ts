import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearedSessionCookie, sessionCookie, sessionIdsFromCookieHeader } from '../../src/sessions/session-cookie.ts';
import { isSessionId, newSessionId } from '../../src/sessions/session-id.ts';

describe('session ids and the TANDEMSID cookie', () => {
  it('makes 32-character base64url ids carrying 192 random bits', () => {
    const ids = new Set(Array.from({ length: 1000 }, newSessionId));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.ok(isSessionId(id), id);
    assert.equal(Buffer.from([...ids][0]!, 'base64url').length, 24);
  });

  it('reads every well-formed TANDEMSID value, in header order, and nothing else', () => {
    const a = newSessionId();
    const b = newSessionId();
    assert.deepEqual(sessionIdsFromCookieHeader(undefined), []);
    assert.deepEqual(sessionIdsFromCookieHeader(''), []);
    assert.deepEqual(sessionIdsFromCookieHeader(`TANDEMSID=${a}`), [a]);
    assert.deepEqual(sessionIdsFromCookieHeader(`x=1; TANDEMSID=${a}; TANDEMSID=${b}`), [a, b]);
    assert.deepEqual(sessionIdsFromCookieHeader(`TANDEMSID="${a}"`), [a]);
    assert.deepEqual(sessionIdsFromCookieHeader(`XTANDEMSID=${a}`), [], 'another cookie whose name ends the same');
    assert.deepEqual(sessionIdsFromCookieHeader(`TANDEMSID=${a.slice(1)}`), [], 'too short');
    assert.deepEqual(sessionIdsFromCookieHeader(`TANDEMSID=${a}x`), [], 'too long');
    assert.deepEqual(sessionIdsFromCookieHeader(`TANDEMSID=${'$'.repeat(32)}`), [], 'bad characters');
    assert.deepEqual(sessionIdsFromCookieHeader(';;==;TANDEMSID=;'), []);
  });

  it('sets HttpOnly, SameSite=Lax cookies scoped to the context path, Secure over TLS, and clears them', () => {
    assert.equal(sessionCookie('abc', { path: '/shop', secure: false }), 'TANDEMSID=abc; Path=/shop; HttpOnly; SameSite=Lax');
    assert.equal(sessionCookie('abc', { path: '/', secure: true }), 'TANDEMSID=abc; Path=/; HttpOnly; Secure; SameSite=Lax');
    assert.match(clearedSessionCookie({ path: '/shop', secure: false }), /^TANDEMSID=; Max-Age=0; Path=\/shop; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
  });
});
