// The dispatcher: the few functions the host calls into an isolate. Requests come in batches, one
// string for all of them (see dispatch()); complete responses leave in batches too, one string per
// wave of settled requests through host.respondMany() (see queueOut()). isolated-vm copies each
// argument of a call or callback on its own: one string for many requests measured ~3.5 µs per
// request cheaper than seven arguments in and six out.
// Responses go out through callbacks, never as a call's result: isolated-vm rethrows a stray
// unhandled rejection as the error of whatever call is running (isolated-vm #273), and a response
// settled in a microtask comes after the call's result is made anyway.
import { makeIncomingRequest, responseParts } from './web/index.js';
import { Session } from './session.js';

export function createDispatcher(host, timers, outbound) {
  // Captured now: an app that replaces globalThis.Response must not confuse the dispatcher.
  const ResponseClass = globalThis.Response;
  let app = null;
  let env = null;
  const streams = new Map(); // reqId -> { reader, paused, resume }
  const ReadableStreamClass = globalThis.ReadableStream;
  const incomingBodies = new Map(); // reqId -> ReadableStreamDefaultController of a streamed request body
  // Captured now, like ResponseClass: the outbox must flush whatever the app does to Promise.
  const resolved = Promise.resolve();
  const then = Promise.prototype.then;
  let outbox = '';
  let outboxQueued = false;
  /** How many requests of the running dispatch() reached the app so far; -1 once it returned. */
  let dispatched = -1;

  /** A request body whose chunks the host pushes in as they arrive from the client. */
  function incomingBody(reqId) {
    return new ReadableStreamClass({
      start(controller) { incomingBodies.set(reqId, controller); },
      pull() { host.bodyPull(reqId); },
      cancel() {
        incomingBodies.delete(reqId);
        host.bodyCancel(reqId);
      },
    }, { highWaterMark: 4 });
  }
  const newSessionId = () => host.newSessionId();

  class ExecutionContext {
    #session;
    #created = null;
    constructor(session) { this.#session = session; }
    get session() { return this.#created ?? (this.#session !== null && this.#session.valid ? this.#session : null); }
    createSession() {
      const current = this.session;
      if (current !== null) return current;
      this.#created = new Session(newSessionId(), '', newSessionId);
      return this.#created;
    }
    waitUntil(promise) { Promise.resolve(promise).catch((err) => host.log('error', `waitUntil promise rejected: ${describe(err)}`)); }
    passThroughOnException() {}
    /** The session changes for the host (see session.js delta()), entries joined by U+0002; undefined when none. */
    delta() {
      const old = this.#session === null ? null : this.#session.delta(false);
      const created = this.#created === null ? null : this.#created.delta(true);
      if (old === null) return created ?? undefined;
      return created === null ? old : old + '\u0002' + created;
    }
  }

  /**
   * A complete response with a text body (or none) joins the outbox; see wire.ts unpackResponses()
   * for the record format. The outbox leaves in a microtask: the isolate runs every microtask
   * before the host's call returns, and the responses settled meanwhile go out together.
   */
  function queueOut(reqId, status, statusText, headers, delta, body) {
    outbox += reqId + '\0' + status + '\0' + statusText + '\0' + headers + '\0' + (delta ?? '') + '\0' + (body === null ? '\0' : body.length + '\0' + body);
    if (!outboxQueued) {
      outboxQueued = true;
      then.call(resolved, flushOutbox);
    }
  }

  function takeOut() {
    const packed = outbox;
    outbox = '';
    return packed;
  }

  function flushOutbox() {
    outboxQueued = false;
    const packed = takeOut();
    if (packed !== '') host.respondMany(packed);
  }

  function fail(reqId, kind, err) {
    incomingBodies.delete(reqId);
    host.fail(reqId, kind, describe(err));
  }

  function settle(reqId, response, ctx) {
    if (!(response instanceof ResponseClass)) {
      fail(reqId, 'bad-response', `fetch() resolved to ${typeName(response)}, expected a Response`);
      return;
    }
    let parts;
    try {
      parts = responseParts(response);
    } catch (err) {
      fail(reqId, 'bad-response', err);
      return;
    }
    const body = parts.body;
    if (body === null || typeof body === 'string') {
      incomingBodies.delete(reqId); // the response is complete: a body the app did not read is dropped
      queueOut(reqId, parts.status, parts.statusText, parts.headers, ctx.delta(), body);
    } else if (body instanceof Uint8Array) {
      incomingBodies.delete(reqId);
      host.respond(reqId, parts.status, parts.statusText, parts.headers, body, ctx.delta(), false);
    } else {
      // A streamed response may go on reading the request body (an echo); pump() drops it at the end.
      host.respond(reqId, parts.status, parts.statusText, parts.headers, null, ctx.delta(), true);
      pump(reqId, body.getReader());
    }
  }

  async function pump(reqId, reader) {
    const state = { reader, paused: null };
    streams.set(reqId, state);
    try {
      for (;;) {
        if (state.paused) await state.paused.promise;
        const { done, value } = await reader.read();
        if (!streams.has(reqId)) return; // cancelled by the host (client went away)
        if (done) break;
        const chunk = typeof value === 'string' ? value : value instanceof Uint8Array ? value : new Uint8Array(value);
        if (host.chunk(reqId, chunk) === false) {
          let resume;
          const promise = new Promise((r) => { resume = r; });
          state.paused = { promise, resume };
        }
      }
      streams.delete(reqId);
      incomingBodies.delete(reqId);
      host.end(reqId, '');
    } catch (err) {
      streams.delete(reqId);
      incomingBodies.delete(reqId);
      host.end(reqId, describe(err));
    }
  }

  function dispatchOne(reqId, method, url, rawHeaders, body, sessionId, sessionData) {
    const session = sessionId === '' ? null : new Session(sessionId, sessionData, newSessionId);
    const ctx = new ExecutionContext(session);
    let result;
    try {
      const request = makeIncomingRequest(method, url, rawHeaders, body === true ? incomingBody(reqId) : body);
      result = app.fetch(request, env, ctx);
    } catch (err) {
      fail(reqId, 'app-error', err);
      return;
    }
    if (result instanceof ResponseClass) settle(reqId, result, ctx);
    else Promise.resolve(result).then((r) => settle(reqId, r, ctx), (err) => fail(reqId, 'app-error', err));
  }

  return {
    /** Takes the app module's namespace; returns '' or why the module is not an app. */
    install(namespace, envJson) {
      const candidate = namespace.default;
      if (candidate === undefined) return 'the module has no default export; export default { fetch(request, env, ctx) { … } }';
      if (candidate === null || typeof candidate.fetch !== 'function') {
        return 'the default export has no fetch(request, env, ctx) method';
      }
      app = candidate;
      env = Object.freeze(JSON.parse(envJson));
      return '';
    },

    /** Runs the app's optional ready(env); reports through host.readyResult(error or ''). */
    ready() {
      if (typeof app.ready !== 'function') { host.readyResult(''); return; }
      let result;
      try {
        result = app.ready(env);
      } catch (err) {
        host.readyResult(describe(err) || 'ready() threw');
        return;
      }
      Promise.resolve(result).then(
        () => host.readyResult(''),
        (err) => host.readyResult(describe(err) || 'ready() rejected'),
      );
    },

    /**
     * One or more requests in one string, 7 fields each, every field followed by NUL (wire.ts
     * packRequest()): id, method, url, raw headers, body, session id, session data. The body field is
     * '' (none), 's' (streamed: chunks follow through pushBody) or the index of its bytes in `bodies`.
     */
    dispatch(packed, ...bodies) {
      const f = packed.split('\0');
      dispatched = 0;
      for (let i = 0; i + 7 < f.length; i += 7) {
        const body = f[i + 4];
        dispatched++;
        dispatchOne(Number(f[i]), f[i + 1], f[i + 2], f[i + 3], body === '' ? null : body === 's' ? true : bodies[Number(body)], f[i + 5], f[i + 6]);
      }
      // The responses settled synchronously leave now: should a microtask of this batch then exhaust
      // the memory limit, the isolate is gone with its outbox (past the CPU limit, the host can still
      // take the outbox out: rescue()).
      dispatched = -1;
      flushOutbox();
    },

    /**
     * A call ran past the CPU limit (isolate.ts #rescue): how many requests of its batch had reached
     * the app (-1: all of them, or the call was no dispatch()), NUL, then the responses queued but
     * not handed over yet.
     */
    rescue() {
      const reached = dispatched;
      dispatched = -1;
      return reached + '\0' + takeOut();
    },

    /** One chunk of a streamed request body; returns whether the app's stream wants more now. */
    pushBody(reqId, chunk) {
      const controller = incomingBodies.get(reqId);
      if (controller === undefined) return true; // nobody reads it any more: let it drain
      controller.enqueue(chunk);
      return controller.desiredSize > 0;
    },

    endBody(reqId, error) {
      const controller = incomingBodies.get(reqId);
      if (controller === undefined) return;
      incomingBodies.delete(reqId);
      if (error) controller.error(new TypeError(error));
      else controller.close();
    },

    resume(reqId) {
      const state = streams.get(reqId);
      if (state?.paused) { const { resume } = state.paused; state.paused = null; resume(); }
    },

    cancel(reqId) {
      const body = incomingBodies.get(reqId);
      if (body !== undefined) {
        incomingBodies.delete(reqId);
        body.error(new TypeError('client disconnected'));
      }
      const state = streams.get(reqId);
      if (state === undefined) return;
      streams.delete(reqId);
      state.paused?.resume();
      state.reader.cancel(new Error('client disconnected')).catch(() => {});
    },

    fireTimer(id) { timers.fire(id); },

    settleFetch(id, error, status, statusText, headers, body, url) { outbound.settle(id, error, status, statusText, headers, body, url); },
  };
}

function describe(err) {
  if (err instanceof Error) return err.stack && err.stack.includes(err.message) ? err.stack : `${err.name}: ${err.message}`;
  try { return `Uncaught ${typeof err === 'string' ? err : JSON.stringify(err)}`; } catch { return 'Uncaught non-Error value'; }
}

function typeName(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'an object';
}
