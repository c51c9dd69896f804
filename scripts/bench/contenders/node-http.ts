// Contender 1, the baseline: bare node:http `res.end('Hello')` on the same Node binary as tandem.
// Below it, the floor: node:net answering fixed bytes, no HTTP parsing (fixtures/net-raw-server.mjs).
// Then two rungs between it and tandem (fixtures/node-http-ladder.mjs): the same server answering
// in one batch per event-loop turn, and those batches crossing into an isolate. They show how much
// of tandem's distance to the baseline its architecture costs before tandem does any work.
import path from 'node:path';
import type { Contender } from '../contender.ts';
import { ServerProcess } from '../server-process.ts';

function nodeServer(name: string, args: readonly string[], detail: string): Contender {
  return {
    name,
    async start(ctx) {
      const server = new ServerProcess({ label: name, command: process.execPath, args: [...args], cpu: ctx.pinning.serverCpu });
      try {
        const line = await server.waitForLine((l) => l.includes('"listening"'), 10_000, 'its "listening" line');
        const { port } = JSON.parse(line) as { port: number };
        const url = `http://127.0.0.1:${port}/`;
        return { kind: 'started', target: { server, url, warmupSeconds: 2, detail, stop: () => server.stop() } };
      } catch (err) {
        await server.stop();
        throw err;
      }
    },
  };
}

const fixtures = path.join(import.meta.dirname, '..', 'fixtures');

export const nodeHttp = nodeServer('node-http', [path.join(fixtures, 'node-http-server.mjs'), '0'], `node ${process.version}`);

export const netRaw = nodeServer('net-raw', [path.join(fixtures, 'net-raw-server.mjs'), '0'], 'node:net answering each request with fixed bytes, no HTTP parser: the cost of loopback TCP, epoll and libuv');

export const nodeHttpDeferred = nodeServer(
  'node-http-deferred',
  [path.join(fixtures, 'node-http-ladder.mjs'), 'deferred', '0'],
  'node:http answering in one setImmediate batch per event-loop turn, as tandem batches (no isolate)',
);

export const nodeHttpIsolate = nodeServer(
  'node-http-isolate',
  ['--no-node-snapshot', path.join(fixtures, 'node-http-ladder.mjs'), 'isolate', '0'],
  'the same batches, each one timed applySync into an isolate whose trivial handler answers through one callback per batch, both ways one packed string',
);
