// The admin page and the login form: HTML files with the stylesheet and script inlined at load
// (one self-contained document, no CDN, works offline), and a Content-Security-Policy that allows
// exactly those inline blocks by hash and nothing else.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface PageAssets {
  /** The live page, with the login session's CSRF token in `<meta name="csrf-token">`. */
  index(csrfToken: string): string;
  /** The login form; `message` is one of the server's fixed phrases, never request data. */
  login(message: string | null): string;
  /** Security headers for both documents. */
  readonly headers: Readonly<Record<string, string>>;
}

const dir = import.meta.dirname;

export async function loadPageAssets(): Promise<PageAssets> {
  const [indexHtml, loginHtml, css, script] = await Promise.all(
    ['index.html', 'login.html', 'admin.css', 'admin.js'].map((f) => readFile(path.join(dir, f), 'utf8')),
  );
  const index = indexHtml!.replace('/*{{css}}*/', () => css!).replace('/*{{script}}*/', () => script!);
  const login = loginHtml!.replace('/*{{css}}*/', () => css!);
  const csp = [
    "default-src 'none'",
    `script-src '${hash(script!)}'`,
    `style-src '${hash(css!)}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    index: (csrfToken) => index.replace('{{csrf}}', () => escapeAttribute(csrfToken)),
    login: (message) => login.replace('{{message}}', () => (message === null ? '' : escapeText(message))),
    headers: { 'content-security-policy': csp, 'x-frame-options': 'DENY' },
  };
}

function hash(content: string): string {
  return `sha256-${createHash('sha256').update(content).digest('base64')}`;
}

function escapeText(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

function escapeAttribute(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;');
}
