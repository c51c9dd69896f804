// The churn benchmark in small: a host process under autocannon load while versions are deployed,
// redeployed and undeployed; no request may fail and no session may lose a count.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runChurn } from '../../scripts/churn.ts';

describe('churn', () => {
  it('fails no request and loses no session while versions are deployed, redeployed and undeployed under load', async () => {
    const report = await runChurn({ connections: 16, cycles: 6, sessionsPerApp: 32 });
    process.stdout.write(`# churn: ${report.requests} requests, deploy latency p50 ${report.deployLatencyMs.p50} ms p95 ${report.deployLatencyMs.p95} ms\n`);
    assert.ok(report.requests > 1000, `${report.requests} requests`);
    assert.equal(report.non2xx, 0);
    assert.equal(report.socketErrors, 0);
    assert.equal(report.timeouts, 0);
    assert.equal(report.sessionsBefore, 64);
    assert.equal(report.lostSessions, 0);
    assert.equal(report.sessionsAfter, 64);
  });
});
