// Performs an app's outbound fetch() on the host, with a timeout and a response size cap, and
// hands the whole response back. The isolate never holds a host promise: the result is delivered
// by calling back in (see AppIsolate), so every entry keeps its CPU limit.

export interface OutboundRequest {
  readonly id: number;
  readonly method: string;
  readonly url: string;
  /** 'name\nvalue\n…' */
  readonly headers: string;
  readonly body: Uint8Array | null;
  readonly redirect: string;
}

export interface OutboundResult {
  /** '' on success, else why it failed. */
  readonly error: string;
  readonly status: number;
  readonly statusText: string;
  readonly headers: string;
  readonly body: Uint8Array | null;
  readonly url: string;
}

export interface OutboundFetcherOptions {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

const failed = (error: string): OutboundResult => ({ error, status: 0, statusText: '', headers: '', body: null, url: '' });

export class OutboundFetcher {
  readonly #options: OutboundFetcherOptions;
  readonly #inFlight = new WeakMap<object, Map<number, AbortController>>();

  constructor(options: OutboundFetcherOptions) {
    this.#options = options;
  }

  start(owner: object, request: OutboundRequest, done: (result: OutboundResult) => void): void {
    let calls = this.#inFlight.get(owner);
    if (calls === undefined) this.#inFlight.set(owner, (calls = new Map()));
    const controller = new AbortController();
    calls.set(request.id, controller);
    const finish = (result: OutboundResult): void => {
      if (calls.get(request.id) !== controller) return; // aborted by the isolate meanwhile
      calls.delete(request.id);
      done(result);
    };
    this.#perform(request, controller.signal).then(finish, (err: unknown) => finish(failed(reason(err, this.#options.timeoutMs))));
  }

  abort(owner: object, id: number): void {
    const calls = this.#inFlight.get(owner);
    calls?.get(id)?.abort();
    calls?.delete(id);
  }

  abortAll(owner: object): void {
    const calls = this.#inFlight.get(owner);
    if (calls === undefined) return;
    for (const controller of calls.values()) controller.abort();
    this.#inFlight.delete(owner);
  }

  async #perform(request: OutboundRequest, abort: AbortSignal): Promise<OutboundResult> {
    const url = new URL(request.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return failed(`unsupported protocol ${url.protocol}`);
    const headers = new Headers();
    const parts = request.headers === '' ? [] : request.headers.split('\n');
    for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i]!, parts[i + 1]!);
    const signal = AbortSignal.any([abort, AbortSignal.timeout(this.#options.timeoutMs)]);
    const response = await fetch(url, {
      method: request.method,
      headers,
      body: request.body,
      redirect: request.redirect === 'manual' || request.redirect === 'error' ? request.redirect : 'follow',
      signal,
    });
    const body = await readCapped(response, this.#options.maxResponseBytes);
    const flat: string[] = [];
    for (const [name, value] of response.headers) {
      if (name === 'set-cookie') continue;
      flat.push(name, value);
    }
    for (const cookie of response.headers.getSetCookie()) flat.push('set-cookie', cookie);
    return { error: '', status: response.status, statusText: response.statusText, headers: flat.join('\n'), body, url: response.url };
  }
}

async function readCapped(response: Response, max: number): Promise<Uint8Array | null> {
  if (response.body === null) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > max) {
      await response.body.cancel().catch(() => {});
      throw new Error(`response larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function reason(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && err.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
