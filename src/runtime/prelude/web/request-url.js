// The URL of a Request: simple absolute http(s) URLs are taken as they are; anything else goes through the
// (lazily loaded) URL parser, so most Requests an app builds never pay for loading it.

import { loadUrlClass } from './url.js';
import { parseSimpleUrl } from './fast-url.js';

export function parseRequestUrl(input) {
  const simple = parseSimpleUrl(input);
  if (simple !== null) return simple.href;
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
