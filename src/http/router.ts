// A request's way to a version: app by longest context path, then version by session rules:
//   live session whose version serves → that version;
//   session whose version is gone     → the version new sessions go to adopts it, data kept;
//   no, unknown or expired session    → the version new sessions go to;
//   nothing can serve                 → 503 with Retry-After; no app matches → 404.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { AppEntry, DeployedVersion, Registry } from '../apps/registry.ts';
import type { Logger } from '../log.ts';
import type { AppIsolate } from '../runtime/isolate.ts';
import type { WireRequest } from '../runtime/wire.ts';
import type { SessionManager } from '../sessions/manager.ts';
import { sessionIdsFromCookieHeader } from '../sessions/session-cookie.ts';
import type { SessionRecord } from '../sessions/store.ts';
import { readBody, BodyTooLarge } from './body.ts';
import { sendError } from './errors.ts';
import { ResponseWriter, type RequestObserver } from './response-writer.ts';
import { serveAsset } from './static.ts';

export interface RouterOptions {
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  readonly observer: RequestObserver;
  readonly maxBodyBytes: number;
  readonly assetCacheControl: string;
  /** Used for request.url when a request has no usable Host header. */
  readonly fallbackHost: string;
}

const noSession = '';

export class Router {
  readonly #o: RouterOptions;
  readonly #staticOptions: { readonly cacheControl: string };

  constructor(options: RouterOptions) {
    this.#o = options;
    this.#staticOptions = { cacheControl: options.assetCacheControl };
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const url = req.url ?? '/';
    if (url.charCodeAt(0) !== 47 /* / */) {
      // Absolute-form ("GET http://x/y") and asterisk-form targets are for proxies, not for apps.
      sendError(res, 400, 'Bad Request');
      return;
    }
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    const app = this.#o.registry.match(pathname);
    if (app === undefined) {
      sendError(res, 404, 'Not Found');
      return;
    }
    const ids = sessionIdsFromCookieHeader(req.headers.cookie);
    const found = this.#o.sessions.find(app.name, ids, Date.now());
    if (found instanceof Promise) {
      found.then(
        (session) => this.#route(req, res, app, pathname, session, started),
        (err: unknown) => this.#storeDown(res, app, err),
      );
    } else {
      this.#route(req, res, app, pathname, found, started);
    }
  }

  #route(req: IncomingMessage, res: ServerResponse, app: AppEntry, pathname: string, session: SessionRecord | undefined, started: number): void {
    let version: DeployedVersion | undefined;
    if (session !== undefined) {
      version = app.find(session.version);
      if (version === undefined || !version.serves) {
        version = app.newSessionTarget ?? app.highestServing;
        if (version === undefined) return this.#unavailable(res, app);
        const adopted = this.#o.sessions.adopt(session, version.key);
        if (adopted instanceof Promise) {
          const target = version;
          adopted.then(() => this.#serve(req, res, target, pathname, session, started), (err: unknown) => this.#storeDown(res, app, err));
          return;
        }
      }
    } else {
      version = app.newSessionTarget ?? app.highestServing;
      if (version === undefined) return this.#unavailable(res, app);
    }
    this.#serve(req, res, version, pathname, session, started);
  }

  #serve(req: IncomingMessage, res: ServerResponse, version: DeployedVersion, pathname: string, session: SessionRecord | undefined, started: number): void {
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && this.#tryAsset(req, res, version, pathname, started)) return;
    const runtime = version.runtime;
    if (runtime === null) {
      const reloading = version.reloading;
      if (reloading === null) return this.#unavailable(res, version.app);
      reloading.then((r) => (r === null ? this.#unavailable(res, version.app) : this.#call(req, res, r, version, session, started)));
      return;
    }
    this.#call(req, res, runtime, version, session, started);
  }

  /** Public files of the routed version first, then of the other versions, newest first (version skew). */
  #tryAsset(req: IncomingMessage, res: ServerResponse, version: DeployedVersion, pathname: string, started: number): boolean {
    const contextPath = version.app.contextPath;
    const rel = contextPath === '/' ? pathname : pathname.slice(contextPath.length) || '/';
    let asset = version.assets?.get(rel);
    if (asset === undefined) {
      for (const other of version.app.versions) {
        if (other === version || !other.serves) continue;
        asset = other.assets?.get(rel);
        if (asset !== undefined) break;
      }
      if (asset === undefined) return false;
    }
    serveAsset(req, res, asset, this.#staticOptions);
    res.once('finish', () => this.#o.observer.requestDone(version, res.statusCode, performance.now() - started));
    return true;
  }

  #call(req: IncomingMessage, res: ServerResponse, runtime: AppIsolate, version: DeployedVersion, session: SessionRecord | undefined, started: number): void {
    const writer = new ResponseWriter(res, version, session, this.#o.sessions, { path: version.app.contextPath, secure: (req.socket as TLSSocket).encrypted === true }, this.#o.logger, this.#o.observer, started);
    if (!hasBody(req)) {
      writer.attach(runtime, runtime.handle(this.#wire(req, null, session), writer));
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#o.maxBodyBytes) {
      this.#tooLarge(req, writer, version);
      return;
    }
    if (!(declared <= bufferedBodyMax)) {
      this.#streamBody(req, res, runtime, version, session, writer);
      return;
    }
    readBody(req, this.#o.maxBodyBytes).then(
      (body) => {
        // The version may have been replaced while the body arrived: send it to the current isolate.
        const current = version.runtime ?? runtime;
        writer.attach(current, current.handle(this.#wire(req, body, session), writer));
      },
      (err: unknown) => {
        if (err instanceof BodyTooLarge) this.#tooLarge(req, writer, version);
        else req.destroy();
      },
    );
  }

  /** Large or chunked bodies enter the isolate as a ReadableStream, chunk by chunk, with back-pressure. */
  #streamBody(req: IncomingMessage, res: ServerResponse, runtime: AppIsolate, version: DeployedVersion, session: SessionRecord | undefined, writer: ResponseWriter): void {
    const id = runtime.handle(this.#wire(req, 'stream', session), writer, {
      pull: () => req.resume(),
      cancel: () => req.resume(), // drain what the app did not want; the request goes on
    });
    writer.attach(runtime, id);
    let size = 0;
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      if (ended) return;
      size += chunk.length;
      if (size > this.#o.maxBodyBytes) {
        ended = true;
        // Answer first: the app's failing read must not get its 500 out before the 413.
        this.#tooLarge(req, writer, version);
        runtime.endBody(id, `request body larger than ${this.#o.maxBodyBytes} bytes`);
        return;
      }
      // A fresh copy: never hand Node's pooled Buffer memory to an isolate.
      if (!runtime.pushBody(id, new Uint8Array(chunk))) req.pause();
    });
    req.once('end', () => {
      if (!ended) runtime.endBody(id, '');
      ended = true;
    });
    req.once('close', () => {
      if (!ended) runtime.endBody(id, 'the client aborted the request');
      ended = true;
    });
    if (res.destroyed) runtime.cancel(id);
  }

  /** 413 through the request's writer, so it is counted like any other answer; the rest of the body drains. */
  #tooLarge(req: IncomingMessage, writer: ResponseWriter, version: DeployedVersion): void {
    this.#o.logger.info({ app: version.app.name, version: version.label, limit: this.#o.maxBodyBytes }, 'request body too large');
    writer.preempt(413, `Payload Too Large (limit ${this.#o.maxBodyBytes} bytes)`);
    req.resume();
  }

  #wire(req: IncomingMessage, body: Uint8Array | null | 'stream', session: SessionRecord | undefined): WireRequest {
    const host = req.headers.host;
    const authority = host !== undefined && validHost.test(host) ? host : this.#o.fallbackHost;
    const scheme = (req.socket as TLSSocket).encrypted === true ? 'https://' : 'http://';
    return {
      method: req.method ?? 'GET',
      url: scheme + authority + (req.url ?? '/'),
      rawHeaders: req.rawHeaders.join('\n'),
      body,
      sessionId: session === undefined ? noSession : session.id,
      sessionData: session === undefined ? noSession : snapshot(session),
    };
  }

  #unavailable(res: ServerResponse, app: AppEntry): void {
    this.#o.logger.warn({ app: app.name }, 'no version can serve');
    sendError(res, 503, 'Service Unavailable', true);
  }

  #storeDown(res: ServerResponse, app: AppEntry, err: unknown): void {
    this.#o.logger.error({ app: app.name, err }, 'session store unavailable');
    sendError(res, 503, 'Service Unavailable', true);
  }
}

const validHost = /^[A-Za-z0-9.\-_:[\]]{1,255}$/;
/** Bodies up to this size (with a Content-Length) are read whole and cross in one message. */
const bufferedBodyMax = 64 * 1024;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** The session's data for the isolate (wire.ts sessionData), from the stored JSON texts as they are. */
function snapshot(session: SessionRecord): string {
  let out = '';
  for (const [key, json] of session.data) out += (out === '' ? '' : '\u0001') + JSON.stringify(key) + '\u0001' + json;
  return out;
}

