// Blob and File (W3C File API): immutable bytes held in one Uint8Array that never leaves this module uncopied.

import { ReadableStream } from './streams.js';
import { bufferSourceBytes, decodeUtf8, encodeUtf8 } from './text-codec.js';

const empty = new Uint8Array(0);
let bytesOf; // assigned once by Blob's static block
let adopt;

function normalizeType(type) {
  const s = String(type);
  return /[^\x20-\x7e]/.test(s) ? '' : s.toLowerCase();
}

function partBytes(part, endings) {
  if (part instanceof Blob) return bytesOf(part);
  if (ArrayBuffer.isView(part) || part instanceof ArrayBuffer) return bufferSourceBytes(part, 'Blob');
  let s = String(part);
  if (endings === 'native') s = s.replace(/\r\n|\r/g, '\n');
  return encodeUtf8(s);
}

/** The chunks joined into one Uint8Array of `total` bytes. */
export function concat(chunks, total) {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export class Blob {
  #bytes = empty;
  #type = '';

  constructor(blobParts = undefined, options = undefined) {
    if (blobParts !== undefined && blobParts !== null) {
      if (typeof blobParts !== 'object' || typeof blobParts[Symbol.iterator] !== 'function') {
        throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
      }
      const endings = options?.endings ?? 'transparent';
      if (endings !== 'transparent' && endings !== 'native') {
        throw new TypeError(`Failed to construct 'Blob': '${endings}' is not a valid value for 'endings'.`);
      }
      const chunks = [];
      let total = 0;
      for (const part of blobParts) {
        const bytes = partBytes(part, endings);
        chunks.push(bytes);
        total += bytes.length;
      }
      // Copy even a single part: the caller may change its buffer afterwards, and a Blob never changes.
      this.#bytes = concat(chunks, total);
    }
    if (options?.type !== undefined) this.#type = normalizeType(options.type);
  }

  get size() { return this.#bytes.length; }
  get type() { return this.#type; }

  slice(start = undefined, end = undefined, contentType = undefined) {
    const size = this.#bytes.length;
    const from = relativeIndex(start, 0, size);
    const to = relativeIndex(end, size, size);
    const blob = new Blob();
    blob.#bytes = this.#bytes.subarray(from, Math.max(from, to));
    blob.#type = contentType === undefined ? '' : normalizeType(contentType);
    return blob;
  }

  async text() { return decodeUtf8(this.#bytes); }
  async arrayBuffer() { return this.#bytes.slice().buffer; }
  async bytes() { return this.#bytes.slice(); }

  stream() {
    const bytes = this.#bytes;
    return new ReadableStream({
      pull(controller) {
        if (bytes.length > 0) controller.enqueue(bytes.slice());
        controller.close();
      },
    }, { highWaterMark: 0 });
  }

  static {
    bytesOf = (blob) => blob.#bytes;
    adopt = (blob, bytes, type) => {
      blob.#bytes = bytes;
      blob.#type = type;
      return blob;
    };
  }
}

function relativeIndex(value, fallback, size) {
  if (value === undefined) return fallback;
  const n = Math.trunc(Number(value)) || 0;
  return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
}

Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: 'Blob', configurable: true });

export class File extends Blob {
  #name;
  #lastModified;

  constructor(fileBits, fileName, options = undefined) {
    if (arguments.length < 2) {
      throw new TypeError(`Failed to construct 'File': 2 arguments required, but only ${arguments.length} present.`);
    }
    super(fileBits, options);
    this.#name = String(fileName);
    this.#lastModified = options?.lastModified === undefined ? Date.now() : Math.trunc(Number(options.lastModified)) || 0;
  }

  get name() { return this.#name; }
  get lastModified() { return this.#lastModified; }
  get webkitRelativePath() { return ''; }
}

Object.defineProperty(File.prototype, Symbol.toStringTag, { value: 'File', configurable: true });

/** The bytes behind a Blob, shared: callers must not modify them or hand them out. */
export function blobBytes(blob) {
  return bytesOf(blob);
}

/** A Blob over bytes this code owns, without the copy the constructor makes. */
export function blobFromOwnedBytes(bytes, type) {
  return adopt(new Blob(), bytes, normalizeType(type));
}

/** A File over bytes this code owns, without the copy the constructor makes. */
export function fileFromOwnedBytes(bytes, name, type, lastModified = Date.now()) {
  return adopt(new File([], name, { lastModified }), bytes, normalizeType(type));
}
