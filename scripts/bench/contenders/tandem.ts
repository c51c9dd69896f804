// Contenders 2-4: tandem serving fixtures/hello-app.mjs as /hello, started through its CLI.
//   tandem-nosession  GET /hello/ without cookies (no session is touched)
//   tandem-session    every request carries one live session cookie; the app reads and bumps a counter
//   tandem-2versions  hello##1.0.0 with 50 sessions, then hello##2.0.0 deployed and 50 sessions on it;
//                     the load cycles round robin over those 100 cookies, so both versions serve
import type { BenchContext, Contender, Started } from '../contender.ts';
import { get, getSessionCookie, waitForBody } from '../http-probe.ts';
import { startTandem, type TandemHost } from '../tandem-host.ts';

const readyTimeoutMs = 10_000;

async function startHello(ctx: BenchContext, label: string): Promise<TandemHost> {
  const host = await startTandem(ctx, label, [{ name: 'hello', version: '1.0.0' }]);
  try {
    await waitForBody(`${host.origin}/hello/`, 'Hello from 1.0.0', { intervalMs: 20, timeoutMs: readyTimeoutMs, abort: host.exitReason });
    return host;
  } catch (err) {
    await host.stop();
    throw new Error(`${label}: tandem listens but /hello/ never answered: ${(err as Error).message}`);
  }
}

/** Runs `body` with the host; stops the host when `body` throws. */
async function guarded(host: TandemHost, body: () => Promise<Started>): Promise<Started> {
  try {
    return await body();
  } catch (err) {
    await host.stop();
    throw err;
  }
}

export const tandemNoSession: Contender = {
  name: 'tandem-nosession',
  async start(ctx) {
    const host = await startHello(ctx, 'tandem-nosession');
    return guarded(host, async () => {
      const probe = await get(`${host.origin}/hello/`);
      if (probe.cookies.length > 0) throw new Error(`tandem-nosession: GET /hello/ set cookies [${probe.cookies.join(', ')}], expected none`);
      return {
        kind: 'started',
        target: { server: host.server, url: `${host.origin}/hello/`, warmupSeconds: 2, detail: 'GET /hello/, no cookie, hello##1.0.0', stop: host.stop },
      };
    });
  },
};

export const tandemSession: Contender = {
  name: 'tandem-session',
  async start(ctx) {
    const host = await startHello(ctx, 'tandem-session');
    return guarded(host, async () => {
      const { cookie } = await getSessionCookie(`${host.origin}/hello/login`);
      const first = await get(`${host.origin}/hello/`, cookie);
      if (!first.body.includes('n=0')) throw new Error(`tandem-session: the session was not found on the next request: ${JSON.stringify(first.body)}`);
      return {
        kind: 'started',
        target: {
          server: host.server,
          url: `${host.origin}/hello/`,
          requests: [{ path: '/hello/', headers: { cookie } }],
          warmupSeconds: 2,
          detail: 'GET /hello/ with one session cookie; the app reads n and sets n + 1',
          verify: () => verifyCounter(`${host.origin}/hello/`, cookie, '1.0.0'),
          stop: host.stop,
        },
      };
    });
  },
};

export const tandemTwoVersions: Contender = {
  name: 'tandem-2versions',
  async start(ctx) {
    const host = await startHello(ctx, 'tandem-2versions');
    return guarded(host, async () => {
      const login = `${host.origin}/hello/login`;
      const v1 = await createSessions(login, 50, '1.0.0');
      await host.deployHello('hello', '2.0.0');
      await waitForBody(`${host.origin}/hello/`, 'Hello from 2.0.0', { intervalMs: 20, timeoutMs: readyTimeoutMs, abort: host.exitReason, what: 'hello##2.0.0 to take new sessions' });
      const v2 = await createSessions(login, 50, '2.0.0');
      const oldStill = await get(`${host.origin}/hello/`, v1[0]);
      if (!oldStill.body.includes('Hello from 1.0.0')) throw new Error(`tandem-2versions: a 1.0.0 session was answered by ${JSON.stringify(oldStill.body)} after 2.0.0 was deployed`);
      const cookies = [...v1, ...v2];
      return {
        kind: 'started',
        target: {
          server: host.server,
          url: `${host.origin}/hello/`,
          requests: cookies.map((cookie) => ({ path: '/hello/', headers: { cookie } })),
          warmupSeconds: 2,
          detail: 'GET /hello/ round robin over 100 session cookies, 50 on 1.0.0 and 50 on 2.0.0',
          verify: async () => {
            const a = await verifyCounter(`${host.origin}/hello/`, v1[7] as string, '1.0.0');
            const b = await verifyCounter(`${host.origin}/hello/`, v2[7] as string, '2.0.0');
            return `${a}; ${b}`;
          },
          stop: host.stop,
        },
      };
    });
  },
};

async function createSessions(loginUrl: string, count: number, version: string): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const { cookie, body } = await getSessionCookie(loginUrl);
    if (!body.includes(`Hello from ${version}`)) throw new Error(`a new session should land on ${version}, got ${JSON.stringify(body)}`);
    cookies.push(cookie);
  }
  return cookies;
}

/** After the load the session must still be on its version and its counter must have moved. */
async function verifyCounter(url: string, cookie: string, version: string): Promise<string> {
  const response = await get(url, cookie);
  const match = /n=(\d+)/.exec(response.body);
  if (!response.body.includes(`Hello from ${version}`) || match === null || Number(match[1]) < 1) {
    throw new Error(`after the load, the session on ${version} answered ${JSON.stringify(response.body)}: the counter did not advance or the version changed`);
  }
  return `session on ${version} counted n=${match[1]}`;
}
