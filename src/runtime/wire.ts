// The message shapes that cross the isolate boundary as the host sees them, and their packed encodings.
// The in-isolate side is prelude/dispatch.js; keep the two in step.

import type { AppIsolate } from './isolate.ts';

/** One request into an isolate: primitives only; a batch of them crosses as one string (packRequest). */
export interface WireRequest {
  readonly method: string;
  /** Absolute URL as the app will see it in request.url. */
  readonly url: string;
  /** Node's rawHeaders joined by '\n': 'name\nvalue\nname\nvalue…' ('' when none). */
  readonly rawHeaders: string;
  /** The whole body, none, or 'stream': chunks follow through AppIsolate.pushBody()/endBody(). */
  readonly body: Uint8Array | null | 'stream';
  /** '' when the request carries no session. */
  readonly sessionId: string;
  /**
   * The session's data: '"key"\u0001value\u0001"key"\u0001value…', each key as a JSON string and each
   * value the JSON text the store holds, so the isolate need not re-encode it ('' when no data).
   * JSON.stringify never emits a raw U+0001, which makes it a safe separator.
   */
  readonly sessionData: string;
}

/**
 * Requests and complete text responses cross the boundary packed, many to a string: isolated-vm
 * copies every argument of a call and of a callback on its own, and seven arguments per request
 * in and six per response out measured ~3.5 µs per request more than one string each way.
 * Fields end with NUL: Node's HTTP parser refuses NUL in a target or a header, and JSON text
 * (session data) never holds a raw one. Checked anyway (canPack): a NUL that got through would
 * shift every later request of the batch onto another request's fields.
 * The isolate side is prelude/dispatch.js dispatch() and queueOut().
 */
const sep = '\0';

/** Whether the request can be packed (holds no NUL where one could hide). */
export function canPack(request: WireRequest): boolean {
  return !request.url.includes(sep) && !request.rawHeaders.includes(sep) && !request.sessionData.includes(sep);
}

/** One request's record: id, method, url, raw headers, body ('' none, 's' streamed, or an index into the call's extra arguments), session id, session data. */
export function packRequest(id: number, request: WireRequest, body: string): string {
  return id + sep + request.method + sep + request.url + sep + request.rawHeaders + sep + body + sep + request.sessionId + sep + request.sessionData + sep;
}

/**
 * Complete responses with a text body or none, one after the other:
 * `id NUL status NUL statusText NUL headers NUL delta NUL bodyLength NUL body`. The body may hold
 * NULs, so it is cut by its length (UTF-16 units; '' = no body) and the next record starts right
 * after it. An empty delta means no session change.
 */
export function unpackResponses(
  packed: string,
  each: (id: number, status: number, statusText: string, headers: string, body: string | null, delta: string | undefined) => void,
): void {
  let at = 0;
  while (at < packed.length) {
    const a = packed.indexOf(sep, at);
    const b = packed.indexOf(sep, a + 1);
    const c = packed.indexOf(sep, b + 1);
    const d = packed.indexOf(sep, c + 1);
    const e = packed.indexOf(sep, d + 1);
    const f = packed.indexOf(sep, e + 1);
    const length = f === -1 ? '' : packed.slice(e + 1, f);
    const bodyEnd = f + 1 + (length === '' ? 0 : Number(length));
    // Only a prelude at odds with this file (or an app that broke into it) gets here.
    if (a === -1 || f === -1 || !(bodyEnd <= packed.length)) throw new Error('unpackResponses: a malformed record (prelude/dispatch.js and wire.ts disagree on the format)');
    const delta = packed.slice(d + 1, e);
    each(Number(packed.slice(at, a)), Number(packed.slice(a + 1, b)), packed.slice(b + 1, c), packed.slice(c + 1, d), length === '' ? null : packed.slice(f + 1, bodyEnd), delta === '' ? undefined : delta);
    at = bodyEnd;
  }
}

export type FailureKind =
  | 'app-error' // the handler threw or rejected
  | 'bad-response' // the handler produced something that is not a Response
  | 'cpu-limit' // the request's slice ran past the CPU limit
  | 'memory-limit' // the isolate ran out of its heap and was disposed
  | 'isolate-gone' // the isolate was disposed (undeploy, recycle) before the request finished
  | 'bad-request'; // the request cannot cross into an isolate (a NUL character); never reached the app

/** Where a runtime delivers one request's outcome. Implemented by the HTTP layer. */
export interface ResponseSink {
  /**
   * The response head and, unless `streaming`, its whole body. `statusText` is '' unless the app set one.
   * `headers` is 'name\nvalue\n…' with every Set-Cookie as its own pair.
   * `sessionDelta` is the text the dispatcher built from ctx.session changes (see SessionDelta), or undefined.
   */
  head(status: number, statusText: string, headers: string, body: string | Uint8Array | null, sessionDelta: string | undefined, streaming: boolean): void;
  /** One chunk of a streamed body; return false to ask the producer to pause until resume(). */
  chunk(data: Uint8Array | string): boolean;
  /** End of a streamed body; `error` is '' on success. */
  end(error: string): void;
  /** The request failed before a head was produced. */
  fail(kind: FailureKind, message: string): void;
  /** The request is in `runtime` under `id` (where resume and cancel go): told again when it moves to a fresh isolate. */
  attach(runtime: AppIsolate, id: number): void;
}

/**
 * What one request changed in one session, decoded from the text the prelude sends with the
 * response (prelude/session.js delta(), ExecutionContext.delta()): entries joined by U+0002, each
 *   id U+0001 flags U+0001 rotatedTo U+0001 setCount (U+0001 "key" U+0001 valueJson)* (U+0001 "deletedKey")*
 * with flags 'c' (created) and 'i' (invalidated), rotatedTo '' for none, and every key a JSON
 * string as in the session snapshot. JSON text never holds a raw U+0001 or U+0002.
 * Measured against JSON.stringify in the isolate plus JSON.parse here: ~1 µs less per request.
 */
export interface SessionDelta {
  readonly id: string;
  readonly created: boolean;
  /** Flat [key, jsonText, key, jsonText, …]. */
  readonly set: readonly string[];
  readonly del: readonly string[];
  readonly inv: boolean;
  readonly rot: string | null;
}

/** The entries of a session delta text (see SessionDelta). Never throws: whatever an app did to its isolate, a malformed entry decodes to fewer changes. */
export function decodeSessionDelta(text: string): SessionDelta[] {
  const deltas: SessionDelta[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\u0002', start);
    if (end === -1) end = text.length;
    const delta = decodeEntry(text, start, end);
    if (delta !== null) deltas.push(delta);
    start = end + 1;
  }
  return deltas;
}

/** The entry in text[start, end). Scanned with indexOf rather than split: measured 0.2 against 0.4 µs. */
function decodeEntry(text: string, start: number, end: number): SessionDelta | null {
  let at = start;
  const next = (): string | null => {
    if (at > end) return null;
    let stop = text.indexOf('\u0001', at);
    if (stop === -1 || stop > end) stop = end;
    const field = text.slice(at, stop);
    at = stop + 1;
    return field;
  };
  const id = next();
  const flags = next();
  const rot = next();
  const count = next();
  if (id === null || flags === null || rot === null || count === null) return null;
  let toSet = Number(count) || 0;
  const set: string[] = [];
  const del: string[] = [];
  for (let key = next(); key !== null; key = next()) {
    if (toSet > 0) {
      const value = next();
      if (value === null) break;
      set.push(unquoteKey(key), value);
      toSet--;
    } else {
      del.push(unquoteKey(key));
    }
  }
  return { id, created: flags.includes('c'), inv: flags.includes('i'), rot: rot === '' ? null : rot, set, del };
}

/** A key as JSON.stringify quoted it; the common key without escapes needs no parser. */
function unquoteKey(quoted: string): string {
  if (quoted.indexOf('\\') === -1) return quoted.slice(1, -1);
  try {
    const key: unknown = JSON.parse(quoted);
    return typeof key === 'string' ? key : quoted;
  } catch {
    return quoted;
  }
}
