// fetch() inside an isolate, performed by the host with a timeout; off with --no-outbound-fetch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, TestHost } from './harness.ts';

const proxyApp = `
export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get('to');
    try {
      const res = await fetch(target, { method: 'POST', body: 'ping', headers: { 'x-from': 'tandem' } });
      return Response.json({ status: res.status, body: await res.text(), type: res.headers.get('content-type'), cookies: res.headers.getSetCookie() });
    } catch (err) {
      return Response.json({ error: err.constructor.name + ': ' + err.message }, { status: 502 });
    }
  }
};`;

async function upstream(t: { after: (fn: () => unknown) => void }): Promise<string> {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') return; // never answers
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${req.method} ${req.headers['x-from']} ${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('outbound fetch', () => {
  it('lets an app call another HTTP API through the host', async (t) => {
    const base = await upstream(t);
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('proxy##1.mjs', proxyApp);
    await h.start();
    const res = await new Client(h.url).get(`/proxy?to=${encodeURIComponent(`${base}/echo`)}`);
    assert.deepEqual(res.json(), { status: 200, body: 'POST tandem ping', type: 'text/plain', cookies: ['a=1', 'b=2'] });
  });

  it('fails the app\'s fetch with a TypeError after the timeout, without hurting the host', async (t) => {
    const base = await upstream(t);
    const h = await TestHost.create({ fetchTimeoutMs: 200 });
    t.after(() => h.stop());
    await h.deployFile('proxy##1.mjs', proxyApp);
    await h.start();
    const res = await new Client(h.url).get(`/proxy?to=${encodeURIComponent(`${base}/slow`)}`);
    assert.equal(res.status, 502);
    assert.match(res.json<{ error: string }>().error, /^TypeError: .*timed out after 200 ms/);
  });

  it('throws a TypeError that says so when started with --no-outbound-fetch', async (t) => {
    const base = await upstream(t);
    const h = await TestHost.create({ outboundFetch: false });
    t.after(() => h.stop());
    await h.deployFile('proxy##1.mjs', proxyApp);
    await h.start();
    const res = await new Client(h.url).get(`/proxy?to=${encodeURIComponent(`${base}/echo`)}`);
    assert.equal(res.status, 502);
    assert.match(res.json<{ error: string }>().error, /^TypeError: fetch\(\) is disabled.*--no-outbound-fetch/);
  });
});
