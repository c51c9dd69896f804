// Response (WHATWG Fetch). `new Response('hello')` allocates the Response and its BodyState only:
// headers are made when asked for, the stream when `.body` is read.

import { bodyForHost, bodyStream, BodyState, consumeArrayBuffer, consumeBlob, consumeBytes, consumeFormData, consumeJson, consumeText, cloneBody, extractBody, isBodyUsed } from './body.js';
import { Headers, headersToRaw, lockHeaders } from './headers.js';
import { loadUrlClass } from './url.js';

const kSkip = Symbol('internal construction');
const reasonPhrase = /^[\t\x20-\x7e\x80-\xff]*$/;
const redirectStatuses = [301, 302, 303, 307, 308];

function nullBodyStatus(status) {
  return status === 101 || status === 103 || status === 204 || status === 205 || status === 304;
}

let partsOf; // assigned once by Response's static block

export class Response {
  #status = 200;
  #statusText = '';
  #headers = null; // Headers, or null until asked for
  #contentType = null; // Content-Type implied by the body, added when headers are made lazily
  #body = null; // BodyState | null
  #type = 'default';
  #url = '';

  constructor(body = null, init = undefined) {
    if (body === kSkip) return;
    this.#initialize(init, body === null || body === undefined ? null : body, extractBody);
  }

  #initialize(init, body, extract) {
    if (init !== undefined && init !== null) {
      if (typeof init !== 'object') throw new TypeError("Failed to construct 'Response': The provided value is not of type 'ResponseInit'.");
      if (init.status !== undefined) {
        const status = Math.trunc(Number(init.status)) || 0;
        if (status < 200 || status > 599) {
          throw new RangeError(`Failed to construct 'Response': The status provided (${init.status}) is outside the range [200, 599].`);
        }
        this.#status = status;
      }
      if (init.statusText !== undefined) {
        const text = String(init.statusText);
        if (!reasonPhrase.test(text)) throw new TypeError("Failed to construct 'Response': Invalid statusText");
        this.#statusText = text;
      }
      if (init.headers !== undefined) this.#headers = new Headers(init.headers);
    }
    if (body === null) return;
    if (nullBodyStatus(this.#status)) {
      throw new TypeError(`Failed to construct 'Response': Response with null body status ${this.#status} cannot have body`);
    }
    const state = extract(body);
    this.#body = state;
    if (state.type !== null) {
      if (this.#headers === null) this.#contentType = state.type;
      else if (!this.#headers.has('content-type')) this.#headers.append('content-type', state.type);
    }
  }

  static error() {
    const response = new Response(kSkip);
    response.#type = 'error';
    response.#status = 0;
    response.#headers = lockHeaders(new Headers());
    return response;
  }

  static redirect(url, status = 302) {
    const URL = loadUrlClass();
    let location;
    try {
      location = new URL(String(url)).href;
    } catch {
      throw new TypeError(`Failed to execute 'redirect' on 'Response': Invalid URL '${String(url)}'`);
    }
    const code = Math.trunc(Number(status)) || 0;
    if (!redirectStatuses.includes(code)) throw new RangeError(`Failed to execute 'redirect' on 'Response': Invalid status code ${status}`);
    const response = new Response(kSkip);
    response.#status = code;
    const headers = new Headers();
    headers.set('location', location);
    response.#headers = lockHeaders(headers);
    return response;
  }

  static json(data, init = undefined) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Failed to execute 'json' on 'Response': The data is not JSON serializable");
    const response = new Response(kSkip);
    response.#initialize(init, text, (source) => new BodyState(source, null, 'application/json'));
    return response;
  }

  get type() { return this.#type; }
  get url() { return this.#url; }
  get redirected() { return false; }
  get status() { return this.#status; }
  get ok() { return this.#status >= 200 && this.#status <= 299; }
  get statusText() { return this.#statusText; }

  get headers() {
    if (this.#headers === null) {
      this.#headers = new Headers();
      if (this.#contentType !== null) this.#headers.append('content-type', this.#contentType);
    }
    return this.#headers;
  }

  get body() { return this.#body === null ? null : bodyStream(this.#body); }
  get bodyUsed() { return isBodyUsed(this.#body); }

  text() { return consumeText(this.#body, "Failed to execute 'text' on 'Response'"); }
  json() { return consumeJson(this.#body, "Failed to execute 'json' on 'Response'"); }
  arrayBuffer() { return consumeArrayBuffer(this.#body, "Failed to execute 'arrayBuffer' on 'Response'"); }
  bytes() { return consumeBytes(this.#body, "Failed to execute 'bytes' on 'Response'"); }
  blob() { return consumeBlob(this.#body, this.headers.get('content-type'), "Failed to execute 'blob' on 'Response'"); }
  formData() { return consumeFormData(this.#body, this.headers.get('content-type'), "Failed to execute 'formData' on 'Response'"); }

  clone() {
    const copy = new Response(kSkip);
    copy.#body = cloneBody(this.#body, "Failed to execute 'clone' on 'Response'");
    copy.#status = this.#status;
    copy.#statusText = this.#statusText;
    copy.#type = this.#type;
    copy.#url = this.#url;
    copy.#contentType = this.#contentType;
    if (this.#headers !== null) {
      copy.#headers = new Headers(this.#headers);
      if (this.#type === 'error') lockHeaders(copy.#headers);
    }
    return copy;
  }

  static {
    partsOf = (response) => {
      const headers = response.#headers;
      return {
        status: response.#status,
        statusText: response.#statusText,
        headers: headers !== null ? headersToRaw(headers) : response.#contentType !== null ? `content-type\n${response.#contentType}` : '',
        body: bodyForHost(response.#body),
      };
    };
  }
}

Object.defineProperty(Response.prototype, Symbol.toStringTag, { value: 'Response', configurable: true });


function describe(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return Object.prototype.toString.call(value).slice(8, -1);
}

/** What the host must send for a Response: status, statusText, raw headers, and body as it was given. */
export function responseParts(response) {
  if (!(response instanceof Response)) {
    throw new TypeError(`The fetch handler must return a Response, not ${describe(response)}`);
  }
  return partsOf(response);
}
