// The URL of a Request: simple absolute http(s) URLs are taken as they are; anything else goes through the
// (lazily loaded) URL parser, so most Requests an app builds never pay for loading it.

import { loadUrlClass } from './url.js';

// Already in serialized form: lowercase letter-ended host, no port, no dot segments, no fragment, nothing to escape.
const serializedHttpUrl = /^https?:\/\/(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*(?:\/[A-Za-z0-9\-._~!$&()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*)?)?$/;
const dotSegment = /\/\.|%2e/i;

export function parseRequestUrl(input) {
  if (serializedHttpUrl.test(input) && !dotSegment.test(input)) {
    return input.indexOf('/', input.indexOf('//') + 2) === -1 ? `${input}/` : input;
  }
  const URL = loadUrlClass();
  let url;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`Failed to construct 'Request': Invalid URL '${input}' (a Request needs an absolute URL)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`Failed to construct 'Request': '${input}' is a URL with embedded credentials`);
  }
  return url.href;
}
