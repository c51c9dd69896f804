// The live event stream and /metrics: an action shows up on the stream, and the Prometheus
// counters agree with the requests the test sent, per host.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { Client, counterApp, waitFor } from '../e2e/harness.ts';
import { act, admin, adminTestHost, adminToken, adminUrl, startWithAdmin, shopHost } from './admin-harness.ts';
import type { TestHost } from '../e2e/harness.ts';

interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads an SSE stream in the background, collecting its events. */
async function openStream(h: TestHost): Promise<{ events: SseEvent[]; close: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${adminUrl(h)}/api/events`, { headers: { authorization: `Bearer ${adminToken}` }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  const events: SseEvent[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { events, close: () => controller.abort() };
}

function family(families: MetricFamily[], name: string): MetricFamily {
  const f = families.find((m) => m.name === name);
  assert.ok(f !== undefined, `metric ${name} is exported`);
  return f;
}

async function metrics(h: TestHost): Promise<MetricFamily[]> {
  const reply = await admin(h, '/metrics');
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(reply.text);
}

describe('admin event stream and metrics', () => {
  it('streams a snapshot on connect, then the state change and activity of an action', async (t) => {
    const h = await shopHost(t);
    const stream = await openStream(h);
    t.after(stream.close);

    await waitFor(() => stream.events.some((e) => e.event === 'snapshot'), 5000, 'the first snapshot');
    const first = JSON.parse(stream.events.find((e) => e.event === 'snapshot')!.data) as { apps: { name: string }[] };
    assert.deepEqual(first.apps.map((a) => a.name), ['shop']);

    const before = stream.events.length;
    assert.equal((await act(h, 'shop', '1.0.0', 'disable')).status, 200);
    await waitFor(() => stream.events.slice(before).some((e) => e.event === 'state'), 5000, 'a state event');
    const state = JSON.parse(stream.events.slice(before).find((e) => e.event === 'state')!.data) as unknown;
    assert.deepEqual(state, { app: 'shop', version: '1.0.0', from: 'ready', to: 'disabled' });
    await waitFor(() => stream.events.slice(before).some((e) => e.event === 'activity' && (JSON.parse(e.data) as { kind: string }).kind === 'disabled'), 5000, 'the disabled activity');
    await waitFor(
      () => stream.events.slice(before).some((e) => e.event === 'snapshot' && e.data.includes('"state":"disabled"')),
      5000,
      'a snapshot showing the version disabled',
    );
  });

  it('counts the requests sent, by app, version and status, in a registry of its own per host', async (t) => {
    const h = await adminTestHost();
    const other = await adminTestHost();
    t.after(() => Promise.all([h.stop(), other.stop()]));
    await h.deployFolder('shop##1.0.0', { 'index.mjs': counterApp('1') });
    await h.deployFile('boom##1.mjs', 'export default { fetch() { throw new Error("boom"); } };');
    await other.deployFolder('shop##1.0.0', { 'index.mjs': counterApp('other') });
    await startWithAdmin(h);
    await startWithAdmin(other);
    await h.waitState('shop', '1.0.0');
    await h.waitState('boom', '1');
    await other.waitState('shop', '1.0.0');

    const browsers = [new Client(h.url), new Client(h.url), new Client(h.url)];
    let sent = 0;
    for (let i = 0; i < 7; i++) {
      assert.equal((await browsers[i % 3]!.get('/shop/')).status, 200);
      sent++;
    }
    for (let i = 0; i < 2; i++) assert.equal((await new Client(h.url).get('/boom/')).status, 500);
    assert.equal((await new Client(other.url).get('/shop/')).status, 200, 'a request to the other host');

    const families = await metrics(h);
    const requests = family(families, 'tandem_requests_total');
    assert.equal(requests.type, 'COUNTER');
    const shopRequests = requests.metrics.filter((m) => m.labels?.['app'] === 'shop');
    assert.equal(shopRequests.reduce((sum, m) => sum + Number(m.value), 0), sent, 'shop requests summed over statuses');
    assert.deepEqual(shopRequests.map((m) => m.labels), [{ app: 'shop', version: '1.0.0', status: '200' }]);
    assert.deepEqual(requests.metrics.filter((m) => m.labels?.['app'] === 'boom').map((m) => [m.labels?.['status'], m.value]), [['500', '2']]);
    const errors = family(families, 'tandem_request_errors_total').metrics;
    assert.equal(errors.find((m) => m.labels?.['app'] === 'boom')?.value, '2');
    assert.equal(errors.find((m) => m.labels?.['app'] === 'shop')?.value, '0');

    assert.equal(family(families, 'tandem_request_duration_seconds').type, 'HISTOGRAM');
    // parse-prometheus-text-format merges the series of a labelled histogram into one, so the
    // histogram's own lines are checked in the text.
    const text = (await admin(h, '/metrics')).text;
    assert.match(text, new RegExp(`^tandem_request_duration_seconds_count\\{app="shop",version="1\\.0\\.0"\\} ${sent}$`, 'm'));
    assert.match(text, new RegExp(`^tandem_request_duration_seconds_bucket\\{app="shop",version="1\\.0\\.0",le="\\+Inf"\\} ${sent}$`, 'm'));
    assert.match(text, /^tandem_request_duration_seconds_count\{app="boom",version="1"\} 2$/m);

    const sessions = family(families, 'tandem_sessions');
    assert.equal(sessions.metrics.find((m) => m.labels?.['app'] === 'shop')?.value, '3', 'three browsers, three sessions');
    const deploys = family(families, 'tandem_deploys_total').metrics;
    assert.equal(deploys.find((m) => m.labels?.['app'] === 'shop' && m.labels['result'] === 'deployed')?.value, '1');
    const heap = family(families, 'tandem_isolate_heap_bytes').metrics.find((m) => m.labels?.['app'] === 'shop');
    assert.ok(Number(heap?.value) > 0, 'heap used is exported');

    const otherRequests = family(await metrics(other), 'tandem_requests_total').metrics;
    assert.deepEqual(otherRequests.map((m) => m.value), ['1'], 'the other host counts only its own request');
  });
});
