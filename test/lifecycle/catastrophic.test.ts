// The catastrophic case end to end, through the CLI as operators run it (supervisor + host child):
// a handler V8 cannot interrupt → the bundle is quarantined, the host aborts and is back within 2 s,
// the other app serves again; changing the bad bundle's files lifts the quarantine. Then SIGTERM:
// the request in flight finishes, exit 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { freePort } from '../../scripts/bench/http-probe.ts';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, waitFor, type LogLine } from '../e2e/harness.ts';

const cli = path.join(import.meta.dirname, '..', '..', 'src', 'cli.ts');

const goodApp = `
export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname.endsWith('/slow')) {
      console.log('slow request started');
      await new Promise((r) => setTimeout(r, 1500));
      return new Response('slow done');
    }
    const session = ctx.createSession();
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ n });
  },
};`;

const badApp = (boom: boolean): string => `
export default {
  fetch(request) {
    if (${boom} && new URL(request.url).pathname.endsWith('/boom')) new Array(2 ** 28).fill(0);
    return new Response('bad is fine');
  },
};`;

async function writeFolder(dir: string, staging: string, name: string, files: Record<string, string>): Promise<void> {
  const tmp = path.join(staging, `${name}-${Math.random().toString(36).slice(2)}`);
  await mkdir(tmp, { recursive: true });
  for (const [rel, text] of Object.entries(files)) await writeFile(path.join(tmp, rel), text);
  await rename(tmp, path.join(dir, name));
}

describe('catastrophic isolate failure', () => {
  it('quarantines the bundle, restarts the host within 2 s with the other apps serving, and lifts the quarantine when the files change', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-catastrophic-'));
    const webapps = path.join(dir, 'webapps');
    const stateDir = path.join(dir, 'state');
    await mkdir(webapps, { recursive: true });
    await writeFolder(webapps, dir, 'good##1.0.0', { 'index.mjs': goodApp });
    await writeFolder(webapps, dir, 'bad##1.0.0', { 'index.mjs': badApp(true) });
    const { logs, listening, url, child, exited, stderr } = await superviseCli(t, webapps, stateDir, dir);

    await waitFor(() => listening().length === 1, 15_000, 'the host to listen');
    const hostArgs = (await readFile(`/proc/${String(listening()[0]!['pid'])}/cmdline`, 'utf8')).split('\0');
    assert.ok(hostArgs.includes('--no-memory-reducer') && hostArgs.includes('--no-node-snapshot'), `the supervised host runs with tandem's node flags: ${hostArgs.join(' ')}`);
    const a = new Client(url);
    assert.equal((await a.get('/good/')).json<{ n: number }>().n, 1);
    assert.equal((await a.get('/good/')).json<{ n: number }>().n, 2);
    assert.equal((await new Client(url).get('/bad/')).text, 'bad is fine');

    const boomAt = Date.now();
    const boom = await new Client(url).get('/bad/boom').then((r) => r.status, () => 'connection lost');
    assert.equal(boom, 'connection lost', 'the host died under the request');
    const fatal = await waitForLog(logs, (l) => l.msg === 'isolate lost control, host restarting', 'the fatal line');
    assert.equal(fatal.app, 'bad');
    assert.equal(fatal.version, '1.0.0');
    const fatalAt = Date.parse(String(fatal['time']));
    await waitFor(() => listening().length === 2, 10_000, 'the host to listen again');
    const backAt = Date.parse(String(listening()[1]!['time']));
    const restartMs = backAt - fatalAt;
    process.stdout.write(`# catastrophic: detected ${fatalAt - boomAt} ms after the request, host listening again ${restartMs} ms after the abort\n`);
    assert.ok(restartMs < 2000, `host back after ${restartMs} ms`);
    assert.ok(logs.some((l) => l.msg === 'host exited, restarting' && l['signal'] === 'SIGABRT'), 'the supervisor saw the abort');
    // The admin listener starts after the app listener: its line may trail the second "listening".
    const tokens = (): unknown[] => logs.filter((l) => l.msg === 'admin token').map((l) => l['token']);
    await waitFor(() => tokens().length === 2, 5000, 'every host to announce the admin token, the restarted one too');
    assert.equal(tokens()[0], tokens()[1], 'one token across restarts');

    const quarantine = JSON.parse(await readFile(path.join(stateDir, 'quarantine.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(quarantine), ['bad##1.0.0']);
    const refused = logs.find((l) => l.msg === 'version quarantined, not loaded');
    assert.equal(refused?.app, 'bad');
    assert.match(String(refused?.['err']), /until its files change/);
    assert.equal((await new Client(url).get('/bad/')).status, 503, 'the quarantined bundle serves nothing');
    assert.equal((await new Client(url).get('/good/')).status, 200, 'every other version serves again');
    assert.equal(logs.filter((l) => l.msg === 'version deployed' && l.app === 'good').length, 2, 'deployed again on start');
    await t.test('the session survives the restart', async () => {
      assert.equal((await a.get('/good/')).json<{ n: number }>().n, 3);
    });

    await writeFile(path.join(webapps, 'bad##1.0.0', 'index.mjs'), badApp(false));
    await waitForLog(logs, (l) => l.msg === 'quarantine lifted, files changed' && l.app === 'bad', 'the quarantine to lift');
    await waitFor(async () => (await new Client(url).get('/bad/')).status === 200, 5000, 'bad to serve again');
    assert.deepEqual(JSON.parse(await readFile(path.join(stateDir, 'quarantine.json'), 'utf8')), {});

    // SIGTERM: the request in flight finishes first, then the whole thing exits 0.
    const slow = new Client(url).get('/good/slow');
    const seen = logs.length;
    await waitFor(() => logs.slice(seen).some((l) => l.msg === 'slow request started'), 5000, 'the slow request to be in flight');
    child.kill('SIGTERM');
    const termAt = Date.now();
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'slow done');
    // 1.5 s of sleep, seen starting before the signal: a reply this late was in flight at SIGTERM.
    assert.ok(Date.now() - termAt > 500, `the reply came ${Date.now() - termAt} ms after SIGTERM: was it in flight?`);
    assert.equal(await exited, 0, stderr());
  });
  it('quarantines the files of the copy that crashed during a redeploy, so the fix it was replaced with loads after the restart', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-catastrophic-redeploy-'));
    const webapps = path.join(dir, 'webapps');
    const stateDir = path.join(dir, 'state');
    await mkdir(webapps, { recursive: true });
    await writeFolder(webapps, dir, 'bad##1.0.0', { 'index.mjs': badApp(true) });
    const { logs, listening, url } = await superviseCli(t, webapps, stateDir, dir);
    await waitFor(() => listening().length === 1, 15_000, 'the host to listen');
    assert.equal((await new Client(url).get('/bad/')).text, 'bad is fine');

    // The fix goes in; its ready() takes a while, and meanwhile the old copy serves.
    const fixed = `export default {
  async ready() { console.log('fix getting ready'); await new Promise((r) => setTimeout(r, 1500)); },
  fetch() { return new Response('fixed'); },
};`;
    await writeFile(path.join(webapps, 'bad##1.0.0', 'index.mjs'), fixed);
    await waitForLog(logs, (l) => l.msg === 'fix getting ready', 'the fixed copy to be loading');
    const boom = await new Client(url).get('/bad/boom').then((r) => r.status, () => 'connection lost');
    assert.equal(boom, 'connection lost', 'the old copy took the host down');
    await waitForLog(logs, (l) => l.msg === 'isolate lost control, host restarting', 'the fatal line');
    await waitFor(() => listening().length === 2, 10_000, 'the host to listen again');

    const restarted = logs.slice(logs.indexOf(listening()[1]!));
    await waitFor(async () => (await new Client(url).get('/bad/')).text === 'fixed', 10_000, 'the fixed copy to serve after the restart');
    assert.ok(!logs.some((l) => l.msg === 'version quarantined, not loaded'), `the new files were not quarantined: ${JSON.stringify(restarted.filter((l) => l.app === 'bad').map((l) => l.msg))}`);
  });
});

/** The CLI as operators run it (supervisor + host), its JSON log lines collected; stopped with SIGTERM after the test, then `dir` removed. */
async function superviseCli(t: { after(fn: () => Promise<void>): void }, webapps: string, stateDir: string, dir: string) {
  const port = await freePort();
  const adminPort = await freePort();
  const logs: LogLine[] = [];
  const child: ChildProcess = spawn(process.execPath, ['--no-node-snapshot', cli, '--webapps', webapps, '--state-dir', stateDir, '--port', String(port), '--admin-port', String(adminPort), '--cpu-limit', '200', '--settle', '50'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TANDEM_ADMIN_TOKEN: '' } });
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('{')) logs.push(JSON.parse(line) as LogLine);
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    // SIGTERM, so the supervisor stops its host too: a SIGKILLed supervisor leaves the host running.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  });
  const listening = (): LogLine[] => logs.filter((l) => l.msg === 'listening');
  return { logs, listening, url: `http://127.0.0.1:${port}`, child, exited, stderr: () => stderr };
}

async function waitForLog(logs: LogLine[], predicate: (l: LogLine) => boolean, what: string): Promise<LogLine> {
  let found: LogLine | undefined;
  await waitFor(() => (found = logs.find(predicate)) !== undefined, 10_000, what);
  return found!;
}
