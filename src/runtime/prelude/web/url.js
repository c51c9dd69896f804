// URL and URLSearchParams from core-js-pure, loaded on first use: evaluating it costs milliseconds per
// isolate, and most requests never need it. esbuild wraps these CommonJS modules in lazy initialisers,
// so the require() calls below evaluate them only when reached.

import { createUrlClass } from './fast-url.js';
import { defineGlobal } from '../define-global.js';

/** core-js's URL: the full WHATWG parser, evaluated on first call. */
export function loadUrlClass() {
  return require('core-js-pure/stable/url/index.js');
}

export function loadUrlSearchParamsClass() {
  return require('core-js-pure/stable/url-search-params/index.js');
}

/** Defines URL and URLSearchParams on `g` as getters that load the implementation and replace themselves. */
export function installLazyUrl(g) {
  lazyGlobal(g, 'URL', () => createUrlClass(loadUrlClass));
  lazyGlobal(g, 'URLSearchParams', loadUrlSearchParamsClass);
}

function lazyGlobal(g, name, load) {
  Object.defineProperty(g, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = load();
      defineGlobal(g, name, value);
      return value;
    },
    set(value) {
      defineGlobal(g, name, value);
    },
  });
}
