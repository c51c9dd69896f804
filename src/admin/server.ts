// The admin listener (its own port, 127.0.0.1 by default): the live page, the JSON API, the event
// stream and /metrics, all behind the admin token. Reads apps/registry and sessions, asks the
// deployer to act; knows nothing of the app listener.
//
//   GET  /                 the page (or the login form when not logged in)
//   POST /login            form field `token` → login cookie, 303 to /
//   POST /logout           ends the login session
//   GET  /api/apps, GET /api/events, POST /api/...   see api.ts and events.ts
//   GET  /metrics          Prometheus text format
//
// API clients authenticate with `Authorization: Bearer <token>`. The page's POSTs carry the login
// cookie (HttpOnly, SameSite=Strict) and must also send the session's CSRF token in X-CSRF-Token
// and must not come from another site (Origin / Sec-Fetch-Site).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { AdminApi } from './api.ts';
import { AdminAuth, isCrossSite } from './auth.ts';
import { AdminEventStream } from './events.ts';
import type { HostMetrics } from './metrics.ts';
import { loadPageAssets, type PageAssets } from './page/page-assets.ts';
import { sendError, sendJson, sendText } from './reply.ts';
import type { SnapshotSources } from './snapshot.ts';

export interface AdminServerOptions extends SnapshotSources {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly token: string;
  readonly metrics: HostMetrics;
  readonly logger: Logger;
  /** How often the event stream pushes a full snapshot (default 2000 ms). */
  readonly snapshotIntervalMs?: number;
}

const maxLoginBodyBytes = 4096;

export class AdminServer {
  readonly #o: AdminServerOptions;
  readonly #auth: AdminAuth;
  readonly #api: AdminApi;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #events: AdminEventStream | null = null;
  #page: PageAssets | null = null;

  constructor(options: AdminServerOptions) {
    this.#o = options;
    this.#auth = new AdminAuth(options.token);
    this.#api = new AdminApi(options);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#o.logger.error({ err, method: req.method, url: req.url }, 'admin request failed');
        if (!res.headersSent) sendError(res, 500, 'internal error, see the host log');
        else res.destroy();
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    this.#page = await loadPageAssets();
    this.#events = new AdminEventStream({ ...this.#o, intervalMs: this.#o.snapshotIntervalMs ?? 2000 });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return (this.#server.address() as AddressInfo).port;
  }

  /** Ends the event streams and closes every connection. */
  async close(): Promise<void> {
    this.#events?.close();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    if (this.#server.listening) await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://admin').pathname;
    if (pathname === '/') return this.#pageRoute(req, res);
    if (pathname === '/login') return this.#login(req, res);
    if (pathname === '/logout') return this.#logout(req, res);
    if (pathname !== '/metrics' && pathname !== '/api' && !pathname.startsWith('/api/')) return sendError(res, 404, 'not found');

    const principal = this.#auth.authenticate(req);
    if (principal === null) return sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    if (req.method === 'POST' && principal.kind === 'session' && (isCrossSite(req) || !this.#auth.csrfMatches(principal.session, req.headers['x-csrf-token']))) {
      return sendError(res, 403, 'forbidden: cross-site request or missing CSRF token');
    }
    if (pathname === '/metrics') {
      if (req.method !== 'GET') return sendError(res, 405, 'use GET');
      return sendText(res, 200, this.#o.metrics.contentType, await this.#o.metrics.text());
    }
    if (pathname === '/api/events') {
      if (req.method !== 'GET') return sendError(res, 405, 'use GET');
      const session = principal.kind === 'session' ? principal.session : null;
      return this.#events!.add(res, session === null ? () => true : () => this.#auth.isLive(session));
    }
    let segments: string[];
    try {
      segments = pathname.slice(1).split('/').map(decodeURIComponent);
    } catch {
      return sendError(res, 400, 'malformed percent-encoding in the path');
    }
    return this.#api.handle(req, res, segments);
  }

  #pageRoute(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'use GET');
    const principal = this.#auth.authenticate(req);
    const page = this.#page!;
    if (principal?.kind === 'session') return sendText(res, 200, 'text/html; charset=utf-8', page.index(principal.session.csrfToken), page.headers);
    sendText(res, 200, 'text/html; charset=utf-8', page.login(null), page.headers);
  }

  async #login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return sendError(res, 405, 'use POST');
    const page = this.#page!;
    if (isCrossSite(req)) return sendError(res, 403, 'forbidden: cross-site request');
    const body = await readSmallBody(req, maxLoginBodyBytes);
    const token = body === null ? null : new URLSearchParams(body).get('token');
    const session = token === null ? null : this.#auth.login(token);
    if (session === null) {
      this.#o.logger.warn({ remote: req.socket.remoteAddress }, 'admin login failed');
      return sendText(res, 401, 'text/html; charset=utf-8', page.login('Login failed.'), page.headers);
    }
    this.#o.logger.info({ remote: req.socket.remoteAddress }, 'admin login');
    res.writeHead(303, { location: '/', 'set-cookie': this.#auth.sessionCookie(session), 'cache-control': 'no-store', 'content-length': 0 });
    res.end();
  }

  #logout(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST') return sendError(res, 405, 'use POST');
    const principal = this.#auth.authenticate(req);
    if (principal?.kind !== 'session') return sendError(res, 401, 'unauthorized');
    if (isCrossSite(req) || !this.#auth.csrfMatches(principal.session, req.headers['x-csrf-token'])) {
      return sendError(res, 403, 'forbidden: cross-site request or missing CSRF token');
    }
    this.#auth.logout(principal.session);
    res.writeHead(204, { 'set-cookie': this.#auth.clearedCookie(), 'cache-control': 'no-store' });
    res.end();
  }
}

/** The body as text, or null when it is larger than `limit` bytes. */
async function readSmallBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
