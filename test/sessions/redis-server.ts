// A private redis-server for tests: its own free port on 127.0.0.1, no persistence unless asked,
// killed at the end. Stop/start/pause simulate an outage.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from '../../scripts/bench/http-probe.ts';

export class RedisServer {
  readonly port: number;
  readonly #args: string[];
  #child: ChildProcess | null = null;

  private constructor(port: number, args: string[]) {
    this.port = port;
    this.#args = args;
  }

  /** `dir`: keep data across stop/start (RDB saved on shutdown); otherwise nothing is saved. */
  static async start(dir?: string): Promise<RedisServer> {
    const port = await freePort();
    const persistence = dir === undefined ? ['--save', ''] : ['--save', '3600 1', '--dir', dir];
    const server = new RedisServer(port, ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'no', ...persistence]);
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on its port; resolves when it accepts connections. */
  async resume(): Promise<void> {
    const child = spawn('redis-server', this.#args, { stdio: ['ignore', 'pipe', 'inherit'] });
    this.#child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)));
      child.once('error', (err) => reject(new Error(`redis-server could not start (${err.message}): these tests need Debian's redis-server (apt-get install redis-server; .ci/run installs it)`)));
    });
    child.stdout!.resume();
  }

  /** Stops the server (SIGTERM: it saves first when it has a --dir). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null) return;
    this.#child = null;
    const exited = once(child, 'exit');
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    // Redis refuses to shut down when it cannot save (its --dir is gone): then it is killed.
    const refused = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(refused);
  }

  /** Freezes the process: connections stay open but nothing answers (a hung server or a partition). */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  unpause(): void {
    this.#child?.kill('SIGCONT');
  }
}

