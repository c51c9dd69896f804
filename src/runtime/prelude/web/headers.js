// Headers (WHATWG Fetch): case-insensitive, values combined with ", ", Set-Cookie kept one by one.
// Headers made from a raw 'name\nvalue\n…' string are parsed on first use only.

import { pairIteratorFactory } from './iterator.js';

const headersIterator = pairIteratorFactory('Headers Iterator');
/** An HTTP token (RFC 9110): header names and methods. */
export const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const invalidValuePattern = /[\0\r\n]|[^\0-\xff]/;
const edgeWhitespace = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function headerName(name, method) {
  const s = String(name);
  if (!tokenPattern.test(s)) throw new TypeError(`Headers.${method}: '${s}' is not a valid HTTP header name.`);
  return s.toLowerCase();
}

function headerValue(value, name, method) {
  let s = String(value);
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  if (first <= 0x20 || last <= 0x20) s = s.replace(edgeWhitespace, '');
  if (invalidValuePattern.test(s)) throw new TypeError(`Headers.${method}: invalid value for header '${name}'.`);
  return s;
}

let rawOf; // assigned once by Headers' static block
let fromRaw;
let lock;

export class Headers {
  #map = new Map(); // lowercase name → combined value (set-cookie not included)
  #cookies = null; // string[] of Set-Cookie values
  #raw = null; // unparsed 'name\nvalue\n…', or null once parsed
  #immutable = false;

  constructor(init = undefined) {
    if (init === undefined || init === null) return;
    if (typeof init !== 'object' && typeof init !== 'function') {
      throw new TypeError("Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.");
    }
    if (init instanceof Headers) {
      if (init.#raw !== null) {
        this.#raw = init.#raw;
        return;
      }
      for (const [k, v] of init.#map) this.#map.set(k, v);
      if (init.#cookies !== null) this.#cookies = init.#cookies.slice();
      return;
    }
    if (typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        const entry = typeof pair === 'string' ? null : [...pair];
        if (entry === null || entry.length !== 2) {
          throw new TypeError("Failed to construct 'Headers': every header pair must contain exactly a name and a value.");
        }
        this.append(entry[0], entry[1]);
      }
      return;
    }
    for (const key of Reflect.ownKeys(init)) {
      const desc = Reflect.getOwnPropertyDescriptor(init, key);
      if (desc === undefined || !desc.enumerable) continue;
      if (typeof key === 'symbol') throw new TypeError("Failed to construct 'Headers': symbol keys are not header names.");
      this.append(key, init[key]);
    }
  }

  #parse() {
    const parts = this.#raw.split('\n');
    this.#raw = null;
    for (let i = 0; i + 1 < parts.length; i += 2) this.#add(parts[i].toLowerCase(), parts[i + 1]);
  }

  #add(key, value) {
    if (key === 'set-cookie') {
      (this.#cookies ??= []).push(value);
      return;
    }
    const existing = this.#map.get(key);
    this.#map.set(key, existing === undefined ? value : `${existing}, ${value}`);
  }

  #checkMutable(method) {
    if (this.#immutable) throw new TypeError(`Headers.${method}: these headers are immutable.`);
    if (this.#raw !== null) this.#parse();
  }

  append(name, value) {
    const key = headerName(name, 'append');
    const v = headerValue(value, key, 'append');
    this.#checkMutable('append');
    this.#add(key, v);
  }

  set(name, value) {
    const key = headerName(name, 'set');
    const v = headerValue(value, key, 'set');
    this.#checkMutable('set');
    if (key === 'set-cookie') this.#cookies = [v];
    else this.#map.set(key, v);
  }

  delete(name) {
    const key = headerName(name, 'delete');
    this.#checkMutable('delete');
    if (key === 'set-cookie') this.#cookies = null;
    else this.#map.delete(key);
  }

  get(name) {
    const key = headerName(name, 'get');
    if (this.#raw !== null) this.#parse();
    if (key === 'set-cookie') return this.#cookies === null || this.#cookies.length === 0 ? null : this.#cookies.join(', ');
    return this.#map.get(key) ?? null;
  }

  has(name) {
    const key = headerName(name, 'has');
    if (this.#raw !== null) this.#parse();
    if (key === 'set-cookie') return this.#cookies !== null && this.#cookies.length > 0;
    return this.#map.has(key);
  }

  getSetCookie() {
    if (this.#raw !== null) this.#parse();
    return this.#cookies === null ? [] : this.#cookies.slice();
  }

  /** The sorted, combined list that iteration walks (Fetch "sort and combine"). */
  #sorted() {
    if (this.#raw !== null) this.#parse();
    const names = [...this.#map.keys()];
    if (this.#cookies !== null && this.#cookies.length > 0) names.push('set-cookie');
    names.sort();
    const pairs = [];
    for (const name of names) {
      if (name === 'set-cookie') for (const c of this.#cookies) pairs.push([name, c]);
      else pairs.push([name, this.#map.get(name)]);
    }
    return pairs;
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== 'function') throw new TypeError("Failed to execute 'forEach' on 'Headers': parameter 1 is not a function.");
    for (const [name, value] of this.#sorted()) callback.call(thisArg, value, name, this);
  }

  entries() { return headersIterator(this.#sorted(), 'key+value'); }
  keys() { return headersIterator(this.#sorted(), 'key'); }
  values() { return headersIterator(this.#sorted(), 'value'); }

  static {
    rawOf = (headers) => {
      if (headers.#raw !== null) return headers.#raw;
      let out = '';
      for (const [k, v] of headers.#map) out += out === '' ? `${k}\n${v}` : `\n${k}\n${v}`;
      if (headers.#cookies !== null) for (const c of headers.#cookies) out += out === '' ? `set-cookie\n${c}` : `\nset-cookie\n${c}`;
      return out;
    };
    fromRaw = (raw) => {
      const headers = new Headers();
      if (raw !== '') headers.#raw = raw;
      return headers;
    };
    lock = (headers) => {
      headers.#immutable = true;
      return headers;
    };
  }
}

Headers.prototype[Symbol.iterator] = Headers.prototype.entries;
Object.defineProperty(Headers.prototype, Symbol.iterator, { enumerable: false });
Object.defineProperty(Headers.prototype, Symbol.toStringTag, { value: 'Headers', configurable: true });

/** 'name\nvalue\n…' for the host, each Set-Cookie its own pair ('' when there are none). */
export function headersToRaw(headers) {
  return rawOf(headers);
}

/** Headers over Node-style raw headers joined by '\n', parsed when first used. */
export function headersFromRaw(raw) {
  return fromRaw(raw);
}

/** Makes headers immutable (the "immutable" guard of Response.error() and Response.redirect()). */
export function lockHeaders(headers) {
  return lock(headers);
}
