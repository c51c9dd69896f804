// The TANDEMSID cookie: reading every candidate value from a Cookie header (a ROOT app's cookie
// and a /shop app's cookie may both be sent to /shop), and the Set-Cookie values we send.
import { stringifySetCookie } from 'cookie';
import { isSessionId } from './session-id.ts';

export const sessionCookieName = 'TANDEMSID';
const prefix = `${sessionCookieName}=`;

/** Well-formed session ids in the header, most specific path first (the order browsers send). */
export function sessionIdsFromCookieHeader(header: string | undefined): string[] {
  if (header === undefined) return noIds;
  let at = header.indexOf(prefix);
  if (at === -1) return noIds;
  const ids: string[] = [];
  while (at !== -1) {
    const startsPair = at === 0 || header.charCodeAt(at - 1) === 32 /* space */ || header.charCodeAt(at - 1) === 59; /* ; */
    if (startsPair) {
      const start = at + prefix.length;
      let end = header.indexOf(';', start);
      if (end === -1) end = header.length;
      let value = header.slice(start, end).trim();
      if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (isSessionId(value)) ids.push(value);
    }
    at = header.indexOf(prefix, at + prefix.length);
  }
  return ids;
}
const noIds: string[] = [];

export interface CookieScope {
  readonly path: string;
  readonly secure: boolean;
}

export function sessionCookie(id: string, scope: CookieScope): string {
  return stringifySetCookie({ name: sessionCookieName, value: id, path: scope.path, httpOnly: true, sameSite: 'lax', secure: scope.secure });
}

export function clearedSessionCookie(scope: CookieScope): string {
  return stringifySetCookie({ name: sessionCookieName, value: '', path: scope.path, httpOnly: true, sameSite: 'lax', secure: scope.secure, expires: new Date(0), maxAge: 0 });
}
