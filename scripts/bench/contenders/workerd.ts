// Contender 5: Cloudflare's workerd (the `workerd` npm package's native binary) serving the same
// hello world as a Worker. Skipped with a note when the binary cannot be had or does not come up.
//
// workerd is installed on first use into node_modules/.cache, not kept in devDependencies: its
// optional per-platform packages are not all on every registry, and a lockfile that misses them
// makes `npm ci` (CI's install) refuse to run.
import { execFile, execFileSync } from 'node:child_process';
import { access, copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Contender } from '../contender.ts';
import { freePort, waitForBody } from '../http-probe.ts';
import { ServerProcess } from '../server-process.ts';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures');

export const workerd: Contender = {
  name: 'workerd',
  async start(ctx) {
    // node_modules/.bin/workerd is the native binary itself (no node shim), so its pid is the server.
    const binary = await ensureWorkerd(ctx.repoRoot);
    if (typeof binary !== 'string') return { kind: 'skipped', reason: binary.reason };
    const dir = await mkdtemp(path.join(ctx.tmpRoot, 'workerd-'));
    const port = await freePort();
    const template = await readFile(path.join(fixtures, 'workerd-config.capnp'), 'utf8');
    await writeFile(path.join(dir, 'config.capnp'), template.replaceAll('@ADDRESS@', `127.0.0.1:${port}`));
    await copyFile(path.join(fixtures, 'workerd-worker.js'), path.join(dir, 'workerd-worker.js'));
    const server = new ServerProcess({ label: 'workerd', command: binary, args: ['serve', 'config.capnp'], cpu: ctx.pinning.serverCpu, cwd: dir });
    const url = `http://127.0.0.1:${port}/`;
    try {
      await waitForBody(url, 'Hello', { intervalMs: 50, timeoutMs: 10_000, abort: () => (server.hasExited ? 'workerd exited' : null) });
    } catch (err) {
      await server.stop(2_000);
      return { kind: 'skipped', reason: `workerd did not start: ${(err as Error).message}\n${server.tail()}` };
    }
    const version = await versionOf(binary);
    return { kind: 'started', target: { server, url, warmupSeconds: 2, detail: `workerd ${version}, one worker`, stop: () => server.stop() } };
  },
};

function versionOf(binary: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], (err, stdout) => resolve(err === null ? stdout.trim().replace(/^workerd\s+/, '') : 'unknown version'));
  });
}

const workerdVersion = '1.20261117.1';

/** The workerd binary, installed into node_modules/.cache/tandem-bench/workerd on first use. */
async function ensureWorkerd(repoRoot: string): Promise<string | { readonly reason: string }> {
  const prefix = path.join(repoRoot, 'node_modules', '.cache', 'tandem-bench', 'workerd');
  const binary = path.join(prefix, 'node_modules', '.bin', 'workerd');
  if (await access(binary).then(() => true, () => false)) return binary;
  try {
    execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `workerd@${workerdVersion}`], { stdio: 'pipe', timeout: 180_000 });
  } catch (err) {
    return { reason: `could not install workerd@${workerdVersion} with npm: ${(err as Error).message.split('\n')[0]}` };
  }
  return (await access(binary).then(() => true, () => false)) ? binary : { reason: `npm installed workerd but ${binary} is missing` };
}
