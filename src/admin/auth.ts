// Who may use the admin listener: API clients with the Bearer token, the page with a login session.
// The token never goes into a cookie: logging in trades it for a random session id (kept here, in
// memory) and a CSRF token bound to that session, which the page sends back on every POST.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const adminCookieName = 'tandem_admin';

/** How long a login lasts, and how many logins are kept (the oldest is dropped beyond). */
const sessionTtlMs = 12 * 60 * 60_000;
const maxSessions = 64;

export interface AdminSession {
  readonly id: string;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

/** How a request proved itself: the Bearer token, or a login session (which also needs CSRF proof on POST). */
export type Principal = { readonly kind: 'bearer' } | { readonly kind: 'session'; readonly session: AdminSession };

export class AdminAuth {
  readonly #tokenDigest: Buffer;
  readonly #sessions = new Map<string, AdminSession>();

  constructor(token: string) {
    this.#tokenDigest = digest(token);
  }

  /** Constant-time check (both sides hashed first, so the length does not leak either). */
  tokenMatches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.#tokenDigest);
  }

  /** The Bearer token or the login cookie; null when neither is valid. A wrong Bearer token is never rescued by a cookie. */
  authenticate(req: IncomingMessage, now = Date.now()): Principal | null {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
      return match !== null && this.tokenMatches(match[1]!) ? { kind: 'bearer' } : null;
    }
    const id = cookieValue(req.headers.cookie, adminCookieName);
    if (id === undefined) return null;
    const session = this.#sessions.get(id);
    if (session === undefined) return null;
    if (session.expiresAt <= now) {
      this.#sessions.delete(id);
      return null;
    }
    return { kind: 'session', session };
  }

  /** Trades a correct token for a new login session; null when the token is wrong. */
  login(candidate: string, now = Date.now()): AdminSession | null {
    if (!this.tokenMatches(candidate)) return null;
    for (const [id, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(id);
    while (this.#sessions.size >= maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!);
    const session: AdminSession = { id: randomBytes(32).toString('base64url'), csrfToken: randomBytes(32).toString('base64url'), expiresAt: now + sessionTtlMs };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The login session still holds: not logged out (or pushed out by newer ones), not expired. */
  isLive(session: AdminSession, now = Date.now()): boolean {
    return this.#sessions.get(session.id) === session && session.expiresAt > now;
  }

  logout(session: AdminSession): void {
    this.#sessions.delete(session.id);
  }

  /** The CSRF header matches the session's token (constant time). */
  csrfMatches(session: AdminSession, header: string | string[] | undefined): boolean {
    return typeof header === 'string' && timingSafeEqual(digest(header), digest(session.csrfToken));
  }

  sessionCookie(session: AdminSession): string {
    return `${adminCookieName}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(sessionTtlMs / 1000)}`;
  }

  clearedCookie(): string {
    return `${adminCookieName}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}

/**
 * True when the browser says the request comes from another site: Sec-Fetch-Site other than
 * same-origin/none, or (without Sec-Fetch-Site) an Origin whose host is not the one the request was sent to.
 * Requests without either header (curl, old browsers) pass: the cookie is SameSite=Strict and
 * cookie POSTs also need the CSRF token.
 */
export function isCrossSite(req: IncomingMessage): boolean {
  // Sec-Fetch-Site is set by the browser alone and is the clearer signal: trust it when present
  // (Origin can be "null" on a same-origin form POST under some referrer policies).
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return true; // "null" and other opaque origins
  }
  return req.headers.host === undefined || host !== req.headers.host;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
