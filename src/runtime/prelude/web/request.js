// Request (WHATWG Fetch). Incoming requests are built by makeIncomingRequest without parsing anything:
// headers stay a raw string and the signal is made only when asked for.

import { AbortSignal, followingSignal } from './abort.js';
import { bodyStream, consumeArrayBuffer, consumeBlob, consumeBytes, consumeFormData, consumeJson, consumeText, cloneBody, extractBody, isBodyUsed, moveBody } from './body.js';
import { Headers, headersFromRaw, tokenPattern } from './headers.js';
import { parseRequestUrl } from './request-url.js';

const kSkip = Symbol('internal construction');
const normalizedMethods = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
const optionValues = {
  mode: ['same-origin', 'no-cors', 'cors'],
  credentials: ['omit', 'same-origin', 'include'],
  cache: ['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached'],
  redirect: ['follow', 'error', 'manual'],
  referrerPolicy: ['', 'no-referrer', 'no-referrer-when-downgrade', 'same-origin', 'origin', 'strict-origin',
    'origin-when-cross-origin', 'strict-origin-when-cross-origin', 'unsafe-url'],
};
const optionKeys = ['mode', 'credentials', 'cache', 'redirect', 'referrerPolicy', 'integrity', 'keepalive', 'referrer'];

function normalizeMethod(method) {
  const s = String(method);
  if (!tokenPattern.test(s)) throw new TypeError(`Failed to construct 'Request': '${s}' is not a valid HTTP method.`);
  const upper = s.toUpperCase();
  if (upper === 'CONNECT' || upper === 'TRACE' || upper === 'TRACK') {
    throw new TypeError(`Failed to construct 'Request': '${s}' HTTP method is unsupported.`);
  }
  return normalizedMethods.includes(upper) ? upper : s;
}

function readOptions(init, inherited) {
  let options = inherited;
  for (const key of optionKeys) {
    const raw = init[key];
    if (raw === undefined) continue;
    let value;
    if (key === 'keepalive') value = !!raw;
    else {
      value = String(raw);
      if (key === 'mode' && value === 'navigate') throw new TypeError("Failed to construct 'Request': Cannot construct a Request with a RequestInit whose mode member is set as 'navigate'.");
      if (optionValues[key] !== undefined && !optionValues[key].includes(value)) {
        throw new TypeError(`Failed to construct 'Request': '${value}' is not a valid value for ${key}.`);
      }
    }
    options = { ...options, [key]: value };
  }
  return options;
}

let incoming; // assigned once by Request's static block

export class Request {
  #method = 'GET';
  #url = '';
  #headers = null; // Headers, or null until asked for
  #rawHeaders = null; // incoming: 'name\nvalue…' until headers are asked for
  #contentType = null; // Content-Type implied by the body, added when headers are made lazily
  #body = null; // BodyState | null
  #signal = null;
  #signalSource = null; // the AbortSignal the request's signal follows
  #options = null; // the RequestInit members that differ from their defaults

  constructor(input, init = undefined) {
    if (input === kSkip) return;
    if (arguments.length === 0) throw new TypeError("Failed to construct 'Request': 1 argument required, but only 0 present.");
    if (init !== undefined && init !== null && typeof init !== 'object') {
      throw new TypeError("Failed to construct 'Request': The provided value is not of type 'RequestInit'.");
    }
    const i = init ?? {};
    const from = input instanceof Request ? input : null;
    if (from !== null) {
      this.#url = from.#url;
      this.#method = from.#method;
      this.#options = from.#options;
      this.#signalSource = from.#signalSource;
    } else {
      this.#url = parseRequestUrl(String(input));
    }
    if (i.method !== undefined) this.#method = normalizeMethod(i.method);
    this.#options = readOptions(i, this.#options);
    if (i.signal !== undefined && i.signal !== null) {
      if (!(i.signal instanceof AbortSignal)) throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
      this.#signalSource = i.signal;
    }

    let headers = null;
    if (i.headers !== undefined) headers = new Headers(i.headers);
    else if (from !== null) headers = new Headers(from.headers);

    const hasInitBody = 'body' in i && i.body !== undefined;
    const initBody = hasInitBody ? i.body : null;
    if ((initBody !== null || (from !== null && from.#body !== null)) && (this.#method === 'GET' || this.#method === 'HEAD')) {
      throw new TypeError("Failed to construct 'Request': Request with GET/HEAD method cannot have body.");
    }
    if (hasInitBody) {
      const state = extractBody(initBody);
      this.#body = state;
      if (state !== null && state.type !== null) {
        if (headers === null) this.#contentType = state.type;
        else if (!headers.has('content-type')) headers.append('content-type', state.type);
      }
    } else if (from !== null) {
      this.#body = moveBody(from.#body, "Failed to construct 'Request'");
    }
    this.#headers = headers;
  }

  get method() { return this.#method; }
  get url() { return this.#url; }

  get headers() {
    if (this.#headers === null) {
      if (this.#rawHeaders !== null) {
        this.#headers = headersFromRaw(this.#rawHeaders);
        this.#rawHeaders = null;
      } else {
        this.#headers = new Headers();
        if (this.#contentType !== null) this.#headers.append('content-type', this.#contentType);
      }
    }
    return this.#headers;
  }

  get signal() {
    return (this.#signal ??= this.#signalSource === null ? AbortSignal.any([]) : followingSignal(this.#signalSource));
  }

  get destination() { return ''; }
  get referrer() { return this.#options?.referrer ?? 'about:client'; }
  get referrerPolicy() { return this.#options?.referrerPolicy ?? ''; }
  get mode() { return this.#options?.mode ?? 'cors'; }
  get credentials() { return this.#options?.credentials ?? 'same-origin'; }
  get cache() { return this.#options?.cache ?? 'default'; }
  get redirect() { return this.#options?.redirect ?? 'follow'; }
  get integrity() { return this.#options?.integrity ?? ''; }
  get keepalive() { return this.#options?.keepalive ?? false; }
  get isReloadNavigation() { return false; }
  get isHistoryNavigation() { return false; }
  get duplex() { return 'half'; }

  get body() { return this.#body === null ? null : bodyStream(this.#body); }
  get bodyUsed() { return isBodyUsed(this.#body); }

  text() { return consumeText(this.#body, "Failed to execute 'text' on 'Request'"); }
  json() { return consumeJson(this.#body, "Failed to execute 'json' on 'Request'"); }
  arrayBuffer() { return consumeArrayBuffer(this.#body, "Failed to execute 'arrayBuffer' on 'Request'"); }
  bytes() { return consumeBytes(this.#body, "Failed to execute 'bytes' on 'Request'"); }
  blob() { return consumeBlob(this.#body, this.headers.get('content-type'), "Failed to execute 'blob' on 'Request'"); }
  formData() { return consumeFormData(this.#body, this.headers.get('content-type'), "Failed to execute 'formData' on 'Request'"); }

  clone() {
    const copy = new Request(kSkip);
    copy.#body = cloneBody(this.#body, "Failed to execute 'clone' on 'Request'");
    copy.#method = this.#method;
    copy.#url = this.#url;
    copy.#options = this.#options;
    copy.#signalSource = this.#signalSource;
    copy.#headers = this.#headers === null ? null : new Headers(this.#headers);
    copy.#rawHeaders = this.#rawHeaders;
    copy.#contentType = this.#contentType;
    return copy;
  }

  static {
    incoming = (method, url, rawHeaders, body) => {
      const request = new Request(kSkip);
      request.#method = method;
      request.#url = url;
      request.#rawHeaders = rawHeaders;
      request.#body = body;
      return request;
    };
  }
}

Object.defineProperty(Request.prototype, Symbol.toStringTag, { value: 'Request', configurable: true });


/** A Request over what the host received; `body` is a BodyState or null. Nothing is parsed or copied. */
export function incomingRequest(method, url, rawHeaders, body) {
  return incoming(method, url, rawHeaders, body);
}
