// Single requests for setup and checks (not for load): GET with an optional cookie, the cookies a
// response sets, and polling a condition with a deadline.
import { createServer } from 'node:net';

export interface ProbeResponse {
  readonly status: number;
  readonly body: string;
  /** `name=value` of every Set-Cookie, attributes dropped: what a browser sends back. */
  readonly cookies: readonly string[];
}

export async function get(url: string, cookie?: string): Promise<ProbeResponse> {
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers['cookie'] = cookie;
  const response = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(5_000) });
  const body = await response.text();
  const cookies = response.headers.getSetCookie().map((c) => c.split(';')[0]?.trim() ?? '');
  return { status: response.status, body, cookies };
}

/** GET that must answer 2xx and set a cookie; returns that cookie (`name=value`). */
export async function getSessionCookie(url: string): Promise<{ cookie: string; body: string }> {
  const response = await get(url);
  const cookie = response.cookies.find((c) => c !== '');
  if (response.status >= 300 || cookie === undefined) {
    throw new Error(`GET ${url} should create a session: got ${response.status}, cookies [${response.cookies.join(', ')}], body ${JSON.stringify(response.body.slice(0, 200))}`);
  }
  return { cookie, body: response.body };
}

export interface PollOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** What we wait for, for the timeout message. */
  readonly what: string;
  /** Aborts early, e.g. when the server process died. Return a reason to stop. */
  readonly abort?: () => string | null;
}

/** Calls `attempt` until it returns a value other than undefined; errors count as "not yet". */
export async function pollUntil<T>(attempt: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError = '';
  for (;;) {
    const reason = options.abort?.() ?? null;
    if (reason !== null) throw new Error(`gave up waiting for ${options.what}: ${reason}`);
    try {
      const value = await attempt();
      if (value !== undefined) return value;
      lastError = '';
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (performance.now() >= deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${lastError === '' ? '' : ` (last error: ${lastError})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}

/** Waits until GET `url` answers 2xx with a body that contains `expected`. */
export function waitForBody(url: string, expected: string, options: Omit<PollOptions, 'what'> & { what?: string }): Promise<ProbeResponse> {
  return pollUntil(
    async () => {
      const response = await get(url);
      return response.status < 300 && response.body.includes(expected) ? response : undefined;
    },
    { ...options, what: options.what ?? `GET ${url} to answer with "${expected}"` },
  );
}

/** A port free on 127.0.0.1 right now (for servers that cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
