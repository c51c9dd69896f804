// Everything a host starts has a stop: after host.stop(), no listener, watcher, timer, thread or
// file handle of the host is left in the process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client, TestHost, counterApp } from './harness.ts';

function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

async function leakedSince(before: Map<string, number>): Promise<string[]> {
  // Closed sockets and finished timers leave the list on the next turns of the loop.
  const deadline = Date.now() + 5000;
  for (;;) {
    const after = resources();
    const leaked = [...after].filter(([name, n]) => n > (before.get(name) ?? 0)).map(([name, n]) => `${name} x${n - (before.get(name) ?? 0)}`);
    if (leaked.length === 0 || Date.now() > deadline) return leaked;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('host shutdown', () => {
  it('leaves no handle open after stop()', async () => {
    const before = resources();
    const h = await TestHost.create({ undeployOldVersions: true });
    try {
      await h.deployFile('a##1.0.0.mjs', counterApp('a'));
      await h.deployFolder('b##1.0.0', { 'index.mjs': counterApp('b'), 'public/x.txt': 'x' });
      await h.start({ adminListenPort: 0 });
      const c = new Client(h.url);
      assert.equal((await c.get('/a')).status, 200);
      assert.equal((await c.get('/b/x.txt')).text, 'x');
      await fetch(`http://127.0.0.1:${h.host.adminPort}/api/apps`, { headers: { authorization: `Bearer ${h.host.adminToken}` } }).then((r) => r.text());
    } finally {
      await h.stop();
    }
    const leaked = await leakedSince(before);
    assert.deepEqual(leaked, [], `left open: ${leaked.join(', ')}`);
  });

  it('releases what it started when the app or the admin port is taken, and reports the error', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      for (const which of ['app', 'admin'] as const) {
        const before = resources();
        const h = await TestHost.create(which === 'app' ? { port: taken } : {});
        try {
          await h.deployFile('a##1.0.0.mjs', counterApp('a'));
          await assert.rejects(h.start(which === 'admin' ? { adminListenPort: taken } : {}), /EADDRINUSE/, which);
          assert.deepEqual(await leakedSince(before), [], which);
        } finally {
          await h.stop();
        }
      }
    } finally {
      blocker.close();
    }
  });
});
