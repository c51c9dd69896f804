// A real host on 127.0.0.1:0 with a temp webapps folder, its log lines kept for assertions,
// and HTTP clients that keep their own cookies (one client = one browser).
import { mkdtemp, mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { resolveConfig, type Config } from '../../src/config.ts';
import { startHost, type Host, type HostHooks } from '../../src/host.ts';
import { createLogger } from '../../src/log.ts';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly app?: string;
  readonly version?: string;
  readonly [key: string]: unknown;
}

export class TestHost {
  readonly dir: string;
  readonly webapps: string;
  readonly logs: LogLine[] = [];
  host!: Host;
  #options: Partial<Config>;

  private constructor(dir: string, options: Partial<Config>) {
    this.dir = dir;
    this.webapps = path.join(dir, 'webapps');
    this.#options = options;
  }

  /** Makes the temp dir; call start() after writing the bundles that should be there at start. */
  static async create(options: Partial<Config> = {}): Promise<TestHost> {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-test-'));
    const t = new TestHost(dir, options);
    await mkdir(t.webapps, { recursive: true });
    return t;
  }

  async start(hooks: HostHooks = {}): Promise<this> {
    const config = resolveConfig({ webappsDir: this.webapps, port: 0, adminPort: 0, settleMs: 50, logLevel: 'debug', ...this.#options });
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    this.host = await startHost(config, createLogger(config.logLevel, sink), hooks);
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.host.port}`;
  }

  /** Writes a folder bundle elsewhere and renames it into webapps (the atomic drop the README shows). */
  async deployFolder(fileName: string, files: Record<string, string>): Promise<void> {
    const staging = path.join(this.dir, `staging-${Math.random().toString(36).slice(2)}`);
    for (const [rel, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(staging, rel)), { recursive: true });
      await writeFile(path.join(staging, rel), content);
    }
    await rename(staging, path.join(this.webapps, fileName));
  }

  /** Writes a single-file bundle atomically. */
  async deployFile(fileName: string, source: string): Promise<void> {
    const staging = path.join(this.dir, `staging-${Math.random().toString(36).slice(2)}`);
    await writeFile(staging, source);
    await rename(staging, path.join(this.webapps, fileName));
  }

  async remove(fileName: string): Promise<void> {
    await rm(path.join(this.webapps, fileName), { recursive: true, force: true });
  }

  state(app: string, version: string | null): string | undefined {
    return this.host.registry.app(app)?.find(version ?? '')?.state;
  }

  /** Waits until the version is in `state` (default ready). */
  async waitState(app: string, version: string | null, state = 'ready', timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.state(app, version) === state, timeoutMs, `${app}##${version} to be ${state} (is ${this.state(app, version)})`);
  }

  async waitGone(app: string, version: string | null, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.state(app, version) === undefined, timeoutMs, `${app}##${version} to be undeployed`);
  }

  async waitLog(predicate: (line: LogLine) => boolean, what: string, timeoutMs = 10_000): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitFor(() => (found = this.logs.find(predicate)) !== undefined, timeoutMs, what);
    return found!;
  }

  async stop(): Promise<void> {
    await this.host?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json<T = unknown>(): T;
}

/** One browser: keeps the cookies the host sets (by name, ignoring path), sends them back. */
export class Client {
  readonly cookies = new Map<string, string>();
  readonly #base: string;

  constructor(base: string) {
    this.#base = base;
  }

  async request(pathname: string, init: RequestInit = {}): Promise<Reply> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(this.#base + pathname, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
  }

  get(pathname: string): Promise<Reply> {
    return this.request(pathname);
  }
}

/** An app whose every response says its version and bumps a per-session counter. */
export function counterApp(label: string): string {
  return `
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.endsWith('/logout')) { ctx.session?.invalidate(); return new Response('bye'); }
    const session = ctx.createSession();
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ label: ${JSON.stringify(label)}, version: env.version, app: env.app, n });
  }
};`;
}
