// Runs the host as a child process and restarts it when it dies, so an isolate that V8 lost
// control of (the host must abort) costs a restart, not an outage. Signals are passed on.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomAdminToken } from './config.ts';
import type { Logger } from './log.ts';

export interface SupervisorOptions {
  readonly argv: readonly string[];
  readonly logger: Logger;
  /** Delay before a restart; kept well under the 2 s promise. */
  readonly restartDelayMs?: number;
}

const cliPath = path.join(import.meta.dirname, 'cli.ts');

/**
 * Without TANDEM_ADMIN_TOKEN, the supervisor makes one random token for every host it starts, so a
 * restart after a crash does not log the operator out. Every host announces it: a first host that
 * dies before its admin listener is up (a bundle that crashes it at load) must not take the only
 * announcement with it.
 */
function adminTokenEnv(generatedAdminToken: string | undefined): Record<string, string> {
  return generatedAdminToken === undefined ? {} : { TANDEM_ADMIN_TOKEN: generatedAdminToken, TANDEM_ANNOUNCE_ADMIN_TOKEN: '1' };
}
/** A host that ran at least this long was healthy: its next restart is not delayed further. */
const healthyUptimeMs = 10_000;
const maxRestartDelayMs = 10_000;

/**
 * Node flags of the host process. --no-node-snapshot: isolated-vm requires it. --no-memory-reducer:
 * V8's memory reducer shrinks an idle heap with extra collections, and their concurrent marking then
 * competes with the event loop for the core when load comes back. Measured (host on one core,
 * 10,000 req/s offered after 10 s idle, six runs each): p99 5.9-19.5 ms (median 12.5) with it,
 * 1.9-6.1 ms (median 2.5) without. The price is memory not handed back while idle: a host that grew
 * to ~214 MB RSS under load kept it, where the reducer brought it to ~174-184 MB within 30 s.
 */
const hostNodeFlags: readonly string[] = ['--no-node-snapshot', '--no-memory-reducer'];

export function superviseHost(options: SupervisorOptions): Promise<void> {
  const { logger } = options;
  const restartDelayMs = options.restartDelayMs ?? 200;
  let child: ChildProcess | null = null;
  let stopping = false;
  let restarts = 0;
  const generatedAdminToken = process.env['TANDEM_ADMIN_TOKEN'] ? undefined : randomAdminToken();
  let quickDeaths = 0;

  return new Promise((resolve) => {
    const start = (): void => {
      const started = Date.now();
      child = spawn(process.execPath, [...hostNodeFlags, cliPath, ...options.argv], {
        stdio: 'inherit',
        env: { ...process.env, ...adminTokenEnv(generatedAdminToken), TANDEM_SUPERVISED: '1' },
      });
      child.once('exit', (code, signal) => {
        child = null;
        if (stopping) {
          process.exitCode = code ?? 1;
          resolve();
          return;
        }
        if (code === 2 || code === 3) {
          // Bad command line or config (2), or the host could not start (3): restarting cannot help.
          process.exitCode = code;
          resolve();
          return;
        }
        restarts++;
        const uptimeMs = Date.now() - started;
        // A host that keeps dying right after it started backs off (0.2, 0.4, 0.8 … 10 s); after a
        // healthy run the delay is back to 0.2 s. Quarantine keeps one bad bundle from looping.
        quickDeaths = uptimeMs < healthyUptimeMs ? quickDeaths + 1 : 0;
        const delayMs = Math.min(maxRestartDelayMs, restartDelayMs * 2 ** Math.max(0, quickDeaths - 1));
        logger.error({ code, signal, uptimeMs, restarts, delayMs }, 'host exited, restarting');
        setTimeout(start, delayMs);
      });
    };
    const forward = (signal: NodeJS.Signals): void => {
      stopping = true;
      if (child === null) resolve();
      else child.kill(signal);
    };
    process.on('SIGINT', () => forward('SIGINT'));
    process.on('SIGTERM', () => forward('SIGTERM'));
    start();
  });
}
