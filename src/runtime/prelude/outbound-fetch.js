// fetch() inside an isolate. The host performs the request (with its timeout) and calls back in
// with the whole response; the isolate never awaits a host promise (see notes/isolated-vm.md).
import { defineGlobal } from './define-global.js';

export function installOutboundFetch(g, host) {
  const inFlight = new Map(); // id -> { resolve, reject, signal, onAbort }
  let lastId = 0;

  async function fetch(input, init) {
    if (!host.outboundFetch) {
      throw new TypeError('fetch() is disabled on this tandem host (started with --no-outbound-fetch)');
    }
    const request = new g.Request(input, init);
    if (request.signal.aborted) throw request.signal.reason;
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : new Uint8Array(await request.arrayBuffer());
    const headers = [];
    for (const [name, value] of request.headers) headers.push(name, value);
    const id = ++lastId;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (inFlight.delete(id)) { host.fetchAbort(id); reject(request.signal.reason); }
      };
      request.signal.addEventListener('abort', onAbort, { once: true });
      inFlight.set(id, { resolve, reject, signal: request.signal, onAbort, url: request.url });
      host.fetchStart(id, request.method, request.url, headers.join('\n'), body, request.redirect);
    });
  }

  defineGlobal(g, 'fetch', fetch);

  return {
    /** Called by the host when outbound request `id` completed (error is '' on success). */
    settle(id, error, status, statusText, headers, body, url) {
      const call = inFlight.get(id);
      if (call === undefined) return;
      inFlight.delete(id);
      call.signal.removeEventListener('abort', call.onAbort);
      if (error) { call.reject(new TypeError(`fetch ${call.url} failed: ${error}`)); return; }
      const init = { status, statusText, headers: pairs(headers) };
      const response = new g.Response(status === 204 || status === 304 || body === null ? null : body, init);
      Object.defineProperty(response, 'url', { value: url, enumerable: true });
      call.resolve(response);
    },
  };
}

function pairs(flat) {
  if (flat === '') return [];
  const parts = flat.split('\n');
  const out = [];
  for (let i = 0; i + 1 < parts.length; i += 2) out.push([parts[i], parts[i + 1]]);
  return out;
}
