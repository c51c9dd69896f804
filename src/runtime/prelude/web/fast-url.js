// URL with a fast path. core-js's URL runs the full WHATWG state machine in JavaScript: measured
// ~20 µs per `new URL(request.url)` inside an isolate, more than the rest of a hello-world request.
// Almost every URL an app parses is a plain absolute http(s) URL already in canonical form (the
// host builds request.url itself). For exactly those, this class reads the parts with one regular
// expression; for anything else (a base, userinfo, IPv6, IDN, dot segments, characters WHATWG would
// percent-encode, a fragment, an empty query…) and on first use of searchParams or any setter it
// hands over to core-js, so behaviour is the spec's. test/runtime/fast-url.test.ts compares the two.

// scheme, host (lowercase LDH labels), port (no leading zero), path, query: each restricted to
// characters WHATWG leaves as they are for special URLs.
const simpleUrl = /^(https?):\/\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)(?::([1-9][0-9]{0,4}))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)?(?:\?([A-Za-z0-9\-._~!$&()*+,;=:@/?%]+))?$/;
// A host whose last label is a number goes through WHATWG's IPv4 parser: only a canonical
// dotted quad is left as it is.
const endsInNumber = /(?:^|\.)(?:\d+|0x[0-9a-f]*)$/;

/** Four decimal octets, 0-255, no leading zeros: the one IPv4 form WHATWG leaves as it is. */
function isDottedQuad(host) {
  let octets = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= host.length; i++) {
    const c = i === host.length ? 46 /* . */ : host.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255 || ++octets > 4) return false;
      value = 0;
      digits = 0;
    } else {
      if (c < 48 || c > 57 || (digits === 1 && value === 0) || ++digits > 3) return false;
      value = value * 10 + (c - 48);
    }
  }
  return octets === 4;
}
// "." and ".." path segments (also percent-encoded) are resolved by WHATWG.
const dotSegment = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

function parseSimple(input) {
  const m = simpleUrl.exec(input);
  if (m === null) return null;
  const [, scheme, hostname, portText, pathText, query] = m;
  // The regular expressions below only where they can match: this runs for every request.url.
  const lastLabel = hostname.charCodeAt(hostname.lastIndexOf('.') + 1);
  if (lastLabel >= 48 && lastLabel <= 57 /* 0-9 */ && !isDottedQuad(hostname) && endsInNumber.test(hostname)) return null;
  if (hostname.startsWith('xn--') || hostname.includes('.xn--')) return null;
  const pathname = pathText ?? '/';
  if ((pathname.includes('.') || pathname.includes('%')) && dotSegment.test(pathname)) return null;
  let port = portText ?? '';
  if (port !== '') {
    const n = Number(port);
    if (n > 65535) return null;
    if ((scheme === 'http' && n === 80) || (scheme === 'https' && n === 443)) port = '';
  }
  const protocol = `${scheme}:`;
  const host = port === '' ? hostname : `${hostname}:${port}`;
  const search = query === undefined ? '' : `?${query}`;
  const origin = `${protocol}//${host}`;
  // Already canonical unless a default port was dropped or the path was empty.
  const href = pathText !== undefined && port === (portText ?? '') ? input : `${origin}${pathname}${search}`;
  return { protocol, hostname, port, host, pathname, search, origin, href };
}

/** The URL class: fast for canonical http(s) URLs, core-js (loaded on first need) for the rest. */
export function createUrlClass(loadCoreUrl) {
  let core = null;
  const Core = () => (core ??= loadCoreUrl());

  class URL {
    #fast; // the parts of a simple URL, or null
    #full; // the core-js URL, or null

    constructor(url, base = undefined) {
      if (typeof url === 'string' && base === undefined) {
        const fast = parseSimple(url);
        if (fast !== null) {
          this.#fast = fast;
          this.#full = null;
          return;
        }
      }
      this.#fast = null;
      const C = Core();
      this.#full = base === undefined ? new C(url) : new C(url, base);
    }

    /** The core-js URL behind this one, made on first need (a setter, searchParams). */
    #impl() {
      if (this.#full === null) {
        this.#full = new (Core())(this.#fast.href);
        this.#fast = null;
      }
      return this.#full;
    }

    get href() { return this.#fast !== null ? this.#fast.href : this.#full.href; }
    set href(v) { this.#impl().href = v; }
    get origin() { return this.#fast !== null ? this.#fast.origin : this.#full.origin; }
    get protocol() { return this.#fast !== null ? this.#fast.protocol : this.#full.protocol; }
    set protocol(v) { this.#impl().protocol = v; }
    get username() { return this.#fast !== null ? '' : this.#full.username; }
    set username(v) { this.#impl().username = v; }
    get password() { return this.#fast !== null ? '' : this.#full.password; }
    set password(v) { this.#impl().password = v; }
    get host() { return this.#fast !== null ? this.#fast.host : this.#full.host; }
    set host(v) { this.#impl().host = v; }
    get hostname() { return this.#fast !== null ? this.#fast.hostname : this.#full.hostname; }
    set hostname(v) { this.#impl().hostname = v; }
    get port() { return this.#fast !== null ? this.#fast.port : this.#full.port; }
    set port(v) { this.#impl().port = v; }
    get pathname() { return this.#fast !== null ? this.#fast.pathname : this.#full.pathname; }
    set pathname(v) { this.#impl().pathname = v; }
    get search() { return this.#fast !== null ? this.#fast.search : this.#full.search; }
    set search(v) { this.#impl().search = v; }
    get hash() { return this.#fast !== null ? '' : this.#full.hash; }
    set hash(v) { this.#impl().hash = v; }
    get searchParams() { return this.#impl().searchParams; }
    toString() { return this.href; }
    toJSON() { return this.href; }
    get [Symbol.toStringTag]() { return 'URL'; }

    static canParse(url, base = undefined) {
      try {
        base === undefined ? new URL(url) : new URL(url, base);
        return true;
      } catch {
        return false;
      }
    }

    static parse(url, base = undefined) {
      try {
        return base === undefined ? new URL(url) : new URL(url, base);
      } catch {
        return null;
      }
    }

    static createObjectURL(obj) { return Core().createObjectURL(obj); }
    static revokeObjectURL(url) { return Core().revokeObjectURL(url); }
  }
  return URL;
}

export { parseSimple as parseSimpleUrl };
