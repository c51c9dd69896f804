// The web platform every app isolate gets: installWebGlobals() puts the classes on globalThis,
// makeIncomingRequest()/responseParts() are what the dispatcher uses on every request.

import { AbortController, AbortSignal } from './abort.js';
import { atob, btoa } from './base64.js';
import { Blob, File } from './blob.js';
import { BodyState } from './body.js';
import { DOMException } from './dom-exception.js';
import { Event, EventTarget } from './events.js';
import { FormData } from './form-data.js';
import { Headers } from './headers.js';
import { createPerformance } from './performance.js';
import { incomingRequest, Request } from './request.js';
import { Response } from './response.js';
import {
  ByteLengthQueuingStrategy, CountQueuingStrategy, ReadableStream, ReadableStreamDefaultReader, TransformStream,
  WritableStream,
} from './streams.js';
import { structuredClone } from './structured-clone.js';
import { TextDecoder, TextEncoder } from './text-codec.js';
import { TextDecoderStream, TextEncoderStream } from './text-streams.js';
import { installLazyUrl } from './url.js';
import { defineGlobal } from '../define-global.js';

/** Installs the web globals on `g` (the isolate's globalThis); host.now() gives milliseconds, high resolution. */
export function installWebGlobals(g, host) {
  const globals = {
    Headers, Request, Response, Blob, File, FormData, TextEncoder, TextDecoder, atob, btoa, Event, EventTarget,
    AbortController, AbortSignal, DOMException, structuredClone, ReadableStream, WritableStream, TransformStream,
    ReadableStreamDefaultReader, TextEncoderStream, TextDecoderStream, ByteLengthQueuingStrategy,
    CountQueuingStrategy, performance: createPerformance(host),
  };
  for (const name of Object.keys(globals)) defineGlobal(g, name, globals[name]);
  installLazyUrl(g);
}

/**
 * The Request an app receives. rawHeaders: Node's rawHeaders joined by '\n' ('' when none);
 * body: null, a Uint8Array (taken as it is, not copied) or a ReadableStream of Uint8Array.
 */
export function makeIncomingRequest(method, url, rawHeaders, body) {
  let state = null;
  if (body instanceof Uint8Array) state = new BodyState(body, null, null);
  else if (body instanceof ReadableStream) state = new BodyState(null, body, null);
  else if (body !== null && body !== undefined) {
    throw new TypeError('makeIncomingRequest: body must be null, a Uint8Array or a ReadableStream');
  }
  return incomingRequest(method, url, rawHeaders === '' ? null : rawHeaders, state);
}

/**
 * What the host must send: { status, statusText, headers: 'name\nvalue…' (each Set-Cookie its own pair),
 * body: null | string | Uint8Array | ReadableStream }. Throws TypeError if `response` is not a Response.
 * A Uint8Array body may be shared with clones of the Response: copy it, never transfer it.
 */
export { responseParts } from './response.js';
