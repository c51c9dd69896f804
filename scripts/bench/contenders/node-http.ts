// Contender 1, the baseline: bare node:http `res.end('Hello')` on the same Node binary as tandem.
import path from 'node:path';
import type { Contender } from '../contender.ts';
import { ServerProcess } from '../server-process.ts';

export const nodeHttp: Contender = {
  name: 'node-http',
  async start(ctx) {
    const server = new ServerProcess({
      label: 'node-http',
      command: process.execPath,
      args: [path.join(import.meta.dirname, '..', 'fixtures', 'node-http-server.mjs'), '0'],
      cpu: ctx.pinning.serverCpu,
    });
    try {
      const line = await server.waitForLine((l) => l.includes('"listening"'), 10_000, 'its "listening" line');
      const { port } = JSON.parse(line) as { port: number };
      const url = `http://127.0.0.1:${port}/`;
      return { kind: 'started', target: { server, url, warmupSeconds: 3, detail: `node ${process.version}`, stop: () => server.stop() } };
    } catch (err) {
      await server.stop();
      throw err;
    }
  },
};
