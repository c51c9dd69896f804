// Contender 5: Cloudflare's workerd (the `workerd` npm package's native binary) serving the same
// hello world as a Worker. Skipped with a note when the binary is absent or does not come up.
import { execFile } from 'node:child_process';
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
    const binary = path.join(ctx.repoRoot, 'node_modules', '.bin', 'workerd');
    try {
      await access(binary);
    } catch {
      return { kind: 'skipped', reason: `${binary} not found (the workerd devDependency is not installed)` };
    }
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
    return { kind: 'started', target: { server, url, warmupSeconds: 3, detail: `workerd ${version}, one worker`, stop: () => server.stop() } };
  },
};

function versionOf(binary: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], (err, stdout) => resolve(err === null ? stdout.trim().replace(/^workerd\s+/, '') : 'unknown version'));
  });
}
