// Writes what an isolate produced to the client: the ResponseSink the HTTP layer hands the runtime.
// Session changes travel with the response head and are saved before the head is written, so the
// next request of the session sees them.
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { DeployedVersion } from '../apps/registry.ts';
import type { Logger } from '../log.ts';
import type { AppIsolate } from '../runtime/isolate.ts';
import { decodeSessionDelta, type FailureKind, type ResponseSink } from '../runtime/wire.ts';
import type { SessionManager } from '../sessions/manager.ts';
import type { CookieScope } from '../sessions/session-cookie.ts';
import type { SessionRecord } from '../sessions/store.ts';
import { sendError } from './errors.ts';

/** Headers the host owns: an app may not set framing or connection headers. */
const hopByHop = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'proxy-connection', 'trailer']);

export interface RequestObserver {
  /** Called once per request when its response is complete (or failed). */
  requestDone(version: DeployedVersion, status: number, ms: number): void;
}

export class ResponseWriter implements ResponseSink {
  readonly #res: ServerResponse;
  readonly #version: DeployedVersion;
  readonly #session: SessionRecord | undefined;
  readonly #sessions: SessionManager;
  readonly #scope: CookieScope;
  readonly #logger: Logger;
  readonly #observer: RequestObserver;
  readonly #started: number;
  #runtime: AppIsolate | null = null;
  #requestId = 0;
  #done = false;

  constructor(res: ServerResponse, version: DeployedVersion, session: SessionRecord | undefined, sessions: SessionManager, scope: CookieScope, logger: Logger, observer: RequestObserver, started: number) {
    this.#res = res;
    this.#version = version;
    this.#session = session;
    this.#sessions = sessions;
    this.#scope = scope;
    this.#logger = logger;
    this.#observer = observer;
    this.#started = started;
  }

  /** Links the writer to the isolate call, for back-pressure and cancellation of streamed bodies. */
  attach(runtime: AppIsolate, requestId: number): void {
    this.#runtime = runtime;
    this.#requestId = requestId;
  }

  /** The host answers for the app (e.g. 413 while the body was streaming in); the app's answer is then dropped. */
  preempt(status: number, message: string): void {
    if (this.#done) return;
    sendError(this.#res, status, message);
    this.#finish(status);
  }

  head(status: number, statusText: string, headers: string, body: string | Uint8Array | null, sessionDelta: string | undefined, streaming: boolean): void {
    if (this.#done) return;
    if (sessionDelta === undefined) {
      this.#writeHead(status, statusText, headers, body, streaming, noCookies);
      return;
    }
    let cookies;
    try {
      cookies = this.#sessions.apply(this.#version.app.name, this.#version.key, this.#session, decodeSessionDelta(sessionDelta), this.#scope, Date.now());
    } catch (err) {
      this.#storeFailed(err);
      return;
    }
    if (cookies instanceof Promise) {
      cookies.then((c) => this.#writeHead(status, statusText, headers, body, streaming, c), (err: unknown) => this.#storeFailed(err));
    } else {
      this.#writeHead(status, statusText, headers, body, streaming, cookies);
    }
  }

  chunk(data: Uint8Array | string): boolean {
    if (this.#done || this.#res.destroyed) return true;
    const more = this.#res.write(data);
    if (!more) this.#res.once('drain', () => this.#runtime?.resume(this.#requestId));
    return more;
  }

  end(error: string): void {
    if (this.#done) return;
    if (error !== '') {
      this.#logger.error({ app: this.#version.app.name, version: this.#version.label, err: error }, 'streamed response failed');
      this.#res.destroy();
      this.#finish(500);
      return;
    }
    this.#res.end();
    this.#finish(this.#res.statusCode);
  }

  fail(kind: FailureKind, message: string): void {
    if (this.#done) return;
    const status = failureStatus[kind];
    const log = { app: this.#version.app.name, version: this.#version.label, kind, err: message };
    if (kind === 'isolate-gone' || kind === 'bad-request') this.#logger.warn(log, 'request failed');
    else this.#logger.error(log, 'request failed');
    if (!this.#res.headersSent) sendError(this.#res, status, reasonPhrases[status]!, status === 503);
    else this.#res.destroy();
    this.#finish(status);
  }

  #writeHead(status: number, statusText: string, headers: string, body: string | Uint8Array | null, streaming: boolean, cookies: readonly string[]): void {
    const res = this.#res;
    if (res.destroyed) {
      this.#finish(499);
      return;
    }
    const flat: string[] = [];
    if (headers !== '') {
      const parts = headers.split('\n');
      for (let i = 0; i + 1 < parts.length; i += 2) {
        const name = parts[i]!;
        if (!hopByHop.has(name.toLowerCase())) flat.push(name, parts[i + 1]!);
      }
    }
    for (const cookie of cookies) flat.push('set-cookie', cookie);
    // A known length lets Node write head and body in one go instead of chunked encoding. A HEAD
    // answer without a body (Hono drops it) has no length to tell: 0 would be a lie.
    if (!streaming && status !== 204 && status !== 304 && !(body === null && res.req.method === 'HEAD')) {
      flat.push('content-length', String(body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
    }
    try {
      // No statusText: Node's standard reason phrase for the status.
      if (statusText === '') res.writeHead(status, flat);
      else res.writeHead(status, statusText, flat);
    } catch (err) {
      this.fail('bad-response', `invalid response head: ${(err as Error).message}`);
      return;
    }
    if (streaming) {
      // Only a streamed body can outlive its client: stop producing it when the client goes.
      res.once('close', () => {
        if (!res.writableFinished) this.#runtime?.cancel(this.#requestId);
      });
      return;
    }
    if (body === null) res.end();
    else res.end(body);
    this.#finish(status);
  }

  #storeFailed(err: unknown): void {
    this.#logger.error({ app: this.#version.app.name, version: this.#version.label, err }, 'session store unavailable');
    if (!this.#res.headersSent) sendError(this.#res, 503, 'Service Unavailable', true);
    this.#finish(503);
  }

  #finish(status: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#observer.requestDone(this.#version, status, performance.now() - this.#started);
  }
}

const noCookies: readonly string[] = [];

const failureStatus: Readonly<Record<FailureKind, number>> = {
  'app-error': 500,
  'bad-response': 500,
  'cpu-limit': 503,
  'memory-limit': 503,
  'isolate-gone': 503,
  'bad-request': 400,
};
const reasonPhrases: Readonly<Record<number, string>> = { 400: 'Bad Request', 500: 'Internal Server Error', 503: 'Service Unavailable' };
