// The message shapes that cross the isolate boundary, as the host sees them.
// The in-isolate side is prelude/dispatch.js; keep the two in step.

/** One request into an isolate: primitives only, so it crosses as one cheap applySync call. */
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
   * The response head and, unless `streaming`, its whole body.
   * `headers` is 'name\nvalue\n…' with every Set-Cookie as its own pair.
   * `sessionDelta` is the JSON the dispatcher built from ctx.session changes (see SessionDelta), or undefined.
   */
  head(status: number, headers: string, body: string | Uint8Array | null, sessionDelta: string | undefined, streaming: boolean): void;
  /** One chunk of a streamed body; return false to ask the producer to pause until resume(). */
  chunk(data: Uint8Array | string): boolean;
  /** End of a streamed body; `error` is '' on success. */
  end(error: string): void;
  /** The request failed before a head was produced. */
  fail(kind: FailureKind, message: string): void;
}

/** One entry of the session delta JSON array (see prelude/session.js delta()). */
export interface SessionDelta {
  readonly id: string;
  readonly created: boolean;
  /** Flat [key, jsonText, key, jsonText, …]. */
  readonly set: readonly string[];
  readonly del: readonly string[];
  readonly inv: boolean;
  readonly rot: string | null;
}
