// The Fetch "body" behind Request and Response: a string or bytes kept as they are, or a ReadableStream.
// A stream is only made when someone asks for `.body`; while that stream is unread, the source stays usable
// (so `new Response(res.body, res)`, as Hono does, keeps a string body a string).

import { Blob, blobBytes, blobFromOwnedBytes, concat } from './blob.js';
import { FormData } from './form-data.js';
import { parseUrlencoded } from './form-urlencoded.js';
import { encodeMultipart, multipartBoundary, parseMultipart } from './multipart.js';
import { ReadableStream } from './streams.js';
import { decodeUtf8, encodeUtf8 } from './text-codec.js';

const kBodyState = Symbol('tandem.bodyState'); // on a stream made from a source: the BodyState it came from
const textType = 'text/plain;charset=UTF-8';
const urlencodedType = 'application/x-www-form-urlencoded;charset=UTF-8';

export class BodyState {
  constructor(source, stream, type) {
    this.source = source; // string | Uint8Array | null (null when the body is a caller's stream)
    this.stream = stream; // ReadableStream | null (made lazily for a source)
    this.type = type; // the Content-Type the body implies, or null
    this.used = false; // read through text()/json()/… or handed to another Request/Response
    this.pulled = false; // the stream made from the source was read or cancelled
  }
}

/** A source-backed state whose stream, if any, nobody has touched: the source can still be used directly. */
function sourceIntact(state) {
  const stream = state.stream;
  return stream === null || (stream[kBodyState] === state && !state.pulled && !stream.locked);
}

// The polyfill's own "disturbed" flag; all streams in an isolate come from the same bundled polyfill.
function disturbed(stream) {
  return stream._disturbed === true;
}

function unusable(what) {
  return new TypeError(`${what}: the body has already been used or is locked by a reader`);
}

/** Fetch "extract a body": the BodyState for a BodyInit, or null for no body. */
export function extractBody(init) {
  if (init === null || init === undefined) return null;
  if (typeof init === 'string') return new BodyState(init, null, textType);
  if (init instanceof ReadableStream) {
    const origin = init[kBodyState];
    if (origin !== undefined && !origin.used && sourceIntact(origin)) {
      origin.used = true; // the new owner reads the source; the old Response counts as consumed
      return new BodyState(origin.source, null, null);
    }
    if (init.locked || disturbed(init)) throw unusable('Cannot construct with a ReadableStream');
    return new BodyState(null, init, null);
  }
  if (init instanceof Uint8Array || ArrayBuffer.isView(init)) {
    return new BodyState(new Uint8Array(init.buffer, init.byteOffset, init.byteLength).slice(), null, null);
  }
  if (init instanceof ArrayBuffer) return new BodyState(new Uint8Array(init.slice(0)), null, null);
  if (init instanceof Blob) return new BodyState(blobBytes(init), null, init.type === '' ? null : init.type);
  if (init instanceof FormData) {
    const { body, contentType } = encodeMultipart(init);
    return new BodyState(body, null, contentType);
  }
  if (Object.prototype.toString.call(init) === '[object URLSearchParams]') {
    return new BodyState(String(init), null, urlencodedType);
  }
  return new BodyState(String(init), null, textType);
}

/** The `body` getter: the state's stream, made from the source on first access. */
export function bodyStream(state) {
  if (state.stream !== null) return state.stream;
  const stream = new ReadableStream(
    {
      pull(controller) {
        state.pulled = true;
        const source = state.source;
        const bytes = typeof source === 'string' ? encodeUtf8(source) : source.slice();
        if (bytes.length > 0) controller.enqueue(bytes);
        controller.close();
      },
      cancel() {
        state.pulled = true;
      },
    },
    { highWaterMark: 0 }, // pull only when a reader asks, so an untouched stream can be told apart
  );
  stream[kBodyState] = state;
  state.stream = stream;
  if (state.used) stream.getReader(); // a body consumed before `.body` was asked for shows a locked stream
  return stream;
}

export function isBodyUsed(state) {
  if (state === null) return false;
  if (state.used) return true;
  const stream = state.stream;
  if (stream === null) return false;
  return stream[kBodyState] === state ? state.pulled : disturbed(stream);
}

/** Marks the body consumed and returns what to read: the source (string | Uint8Array) or the stream. */
function take(state, what) {
  if (isBodyUsed(state)) throw unusable(what);
  const stream = state.stream;
  if (stream !== null && stream.locked) throw unusable(what);
  state.used = true;
  if (sourceIntact(state)) {
    if (stream !== null) stream.getReader(); // keep the public stream consistent: it is now locked
    return state.source;
  }
  return stream;
}

async function readAll(stream) {
  const reader = stream.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      const err = new TypeError('Body stream chunks must be Uint8Array');
      reader.cancel(err).catch(() => {}); // the TypeError below is what the caller sees
      throw err;
    }
    chunks.push(value);
    total += value.length;
  }
  if (chunks.length === 1) return chunks[0];
  return concat(chunks, total);
}

export function consumeText(state, what) {
  if (state === null) return Promise.resolve('');
  let taken;
  try {
    taken = take(state, what);
  } catch (err) {
    return Promise.reject(err);
  }
  if (typeof taken === 'string') return Promise.resolve(taken);
  if (taken instanceof Uint8Array) return Promise.resolve(decodeUtf8(taken));
  return readAll(taken).then(decodeUtf8);
}

/** The body's bytes in a new Uint8Array that the caller owns. */
export function consumeBytes(state, what) {
  if (state === null) return Promise.resolve(new Uint8Array(0));
  let taken;
  try {
    taken = take(state, what);
  } catch (err) {
    return Promise.reject(err);
  }
  if (typeof taken === 'string') return Promise.resolve(encodeUtf8(taken));
  if (taken instanceof Uint8Array) return Promise.resolve(taken.slice());
  return readAll(taken).then((bytes) => (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()));
}

export function consumeJson(state, what) {
  return consumeText(state, what).then((text) => JSON.parse(text));
}

/** The body's bytes as an ArrayBuffer the caller owns (consumeBytes' view always spans its buffer). */
export function consumeArrayBuffer(state, what) {
  return consumeBytes(state, what).then((bytes) => bytes.buffer);
}

export function consumeBlob(state, contentType, what) {
  return consumeBytes(state, what).then((bytes) => blobFromOwnedBytes(bytes, contentType ?? ''));
}

export async function consumeFormData(state, contentType, what) {
  const essence = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (essence === 'multipart/form-data') {
    const boundary = multipartBoundary(contentType);
    if (boundary === null || boundary === '') throw new TypeError(`${what}: the multipart Content-Type names no boundary`);
    return parseMultipart(await consumeBytes(state, what), boundary);
  }
  if (essence === 'application/x-www-form-urlencoded') {
    const form = new FormData();
    for (const [name, value] of parseUrlencoded(await consumeText(state, what))) form.append(name, value);
    return form;
  }
  throw new TypeError(`${what}: Content-Type '${contentType ?? ''}' is neither multipart/form-data nor application/x-www-form-urlencoded`);
}

/** A body for a clone: a source is shared (bytes copied), a stream is teed. */
export function cloneBody(state, what) {
  if (state === null) return null;
  if (isBodyUsed(state) || (state.stream !== null && state.stream.locked)) throw unusable(what);
  if (sourceIntact(state)) {
    const source = state.source;
    return new BodyState(typeof source === 'string' ? source : source.slice(), null, state.type);
  }
  const [mine, theirs] = state.stream.tee();
  state.stream = mine;
  return new BodyState(null, theirs, state.type);
}

/** Moves a body to a new Request made from this one (`new Request(request)`); the old one counts as used. */
export function moveBody(state, what) {
  if (state === null) return null;
  if (isBodyUsed(state) || (state.stream !== null && state.stream.locked)) throw unusable(what);
  const moved = sourceIntact(state) ? new BodyState(state.source, null, state.type) : new BodyState(null, state.stream, state.type);
  state.used = true;
  return moved;
}

/** What the host sends: the source as it is when it was never turned into a read stream, else the stream. */
export function bodyForHost(state) {
  if (state === null) return null;
  if (isBodyUsed(state) || (state.stream !== null && state.stream.locked)) {
    throw unusable('Cannot send the Response');
  }
  return sourceIntact(state) ? state.source : state.stream;
}
