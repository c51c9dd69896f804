// Starts tandem the way a user does, through its CLI, on a temp webapps folder:
//   node --no-node-snapshot src/cli.ts --webapps <dir> --port 0 --admin-port 0 --state-dir <dir>
// and waits for the pino line {"msg":"listening","port":n}. Fails within 10 s with the CLI's last
// output when the CLI is missing, exits, or never says it listens.
import { access, copyFile, mkdir, mkdtemp, rename } from 'node:fs/promises';
import path from 'node:path';
import type { BenchContext } from './contender.ts';
import { ServerProcess } from './server-process.ts';

export const helloAppSource = path.join(import.meta.dirname, 'fixtures', 'hello-app.mjs');

export interface TandemHost {
  readonly server: ServerProcess;
  readonly origin: string;
  readonly dir: string;
  readonly webapps: string;
  /** Copies the hello app to `<name>##<version>.mjs` elsewhere, then renames it into webapps (atomic drop). */
  readonly deployHello: (name: string, version: string) => Promise<void>;
  /** Writes `<name>##<version>/index.mjs` elsewhere, then renames the folder into webapps; resolves to performance.now() at the rename. */
  readonly deployHelloFolder: (name: string, version: string) => Promise<number>;
  /** Why we gave up waiting: the process exited. null while it runs. */
  readonly exitReason: () => string | null;
  readonly stop: () => Promise<void>;
}

const listeningTimeoutMs = 10_000;

/** `initial` apps are the hello app unless they name another source file; `cliArgs` go after tandem's own. */
export async function startTandem(ctx: BenchContext, label: string, initial: ReadonlyArray<{ name: string; version: string; source?: string }>, cliArgs: readonly string[] = []): Promise<TandemHost> {
  const cli = path.join(ctx.repoRoot, 'src', 'cli.ts');
  try {
    await access(cli);
  } catch {
    throw new Error(`${label}: tandem's CLI ${cli} does not exist yet; run the other contenders with --only node-http,workerd,tomcat`);
  }
  const dir = await mkdtemp(path.join(ctx.tmpRoot, `${label}-`));
  const webapps = path.join(dir, 'webapps');
  const staging = path.join(dir, 'staging');
  await mkdir(webapps);
  await mkdir(staging);
  for (const app of initial) await copyFile(app.source ?? helloAppSource, path.join(webapps, `${app.name}##${app.version}.mjs`));

  const server = new ServerProcess({
    label,
    command: process.execPath,
    args: ['--no-node-snapshot', cli, '--webapps', webapps, '--port', '0', '--admin-port', '0', '--state-dir', path.join(dir, 'state'), ...cliArgs],
    cpu: ctx.pinning.serverCpu,
    cwd: dir,
  });
  let port: number;
  try {
    const line = await server.waitForLine(isListeningLine, listeningTimeoutMs, 'a {"msg":"listening","port":n} line');
    port = (JSON.parse(line) as { port: number }).port;
  } catch (err) {
    await server.stop(2_000);
    throw err;
  }
  let counter = 0;
  const stagingPath = (): string => path.join(staging, `s${++counter}`);
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    dir,
    webapps,
    async deployHello(name, version) {
      const temp = stagingPath();
      await copyFile(helloAppSource, temp);
      await rename(temp, path.join(webapps, `${name}##${version}.mjs`));
    },
    async deployHelloFolder(name, version) {
      const temp = stagingPath();
      await mkdir(temp);
      await copyFile(helloAppSource, path.join(temp, 'index.mjs'));
      const renamedAt = performance.now();
      await rename(temp, path.join(webapps, `${name}##${version}`));
      return renamedAt;
    },
    exitReason: () => (server.hasExited ? `tandem exited; last output:\n${server.tail()}` : null),
    stop: () => server.stop(),
  };
}

function isListeningLine(line: string): boolean {
  if (!line.includes('listening')) return false;
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return parsed.msg === 'listening' && typeof parsed.port === 'number';
  } catch {
    return false;
  }
}
