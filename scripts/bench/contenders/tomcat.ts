// Contender 6: Tomcat 10 (Debian) with parallel deployment, the thing tandem imitates.
// foo##001.war and foo##002.war are deployed side by side; the load is the sticky-session load of
// tandem-session: GET /foo/ with one JSESSIONID (on 002, the version new sessions get), the JSP
// reading and bumping a counter in the session. The JVM warms up for 10 s, not 3.
// Deploy latency: with the same Tomcat up, `lat##00<i>.war` is renamed into webapps and GET /lat/
// is polled every 5 ms until version i answers.
import { mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { summarize, type Contender, type LatencySummary } from '../contender.ts';
import { freePort, get, getSessionCookie, waitForBody } from '../http-probe.ts';
import { ServerProcess } from '../server-process.ts';
import { catalinaHome, ensureTomcat, makeCatalinaBase } from '../tomcat-base.ts';
import { zipBytes } from '../../archive-builders.ts';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'tomcat');
const startTimeoutMs = 60_000;
/** Tomcat's default backgroundProcessorDelay, which paces autoDeploy. */
const autoDeployPeriodMs = 10_000;

async function war(template: string, version: string): Promise<Buffer> {
  const jsp = (await readFile(path.join(fixtures, template), 'utf8')).replaceAll('@VERSION@', version);
  return zipBytes([{ name: 'index.jsp', body: jsp }]);
}

export const tomcat: Contender = {
  name: 'tomcat',
  async start(ctx) {
    const installed = await ensureTomcat(ctx.log);
    if (!installed.ok) return { kind: 'skipped', reason: installed.reason };
    const base = await mkdtemp(path.join(ctx.tmpRoot, 'tomcat-'));
    const staging = path.join(base, 'staging');
    await mkdir(staging);
    const port = await freePort();
    await makeCatalinaBase(base, installed.confSource, port);
    const webapps = path.join(base, 'webapps');
    await writeFile(path.join(webapps, 'foo##001.war'), await war('index.jsp', '001'));
    await writeFile(path.join(webapps, 'foo##002.war'), await war('index.jsp', '002'));

    const server = new ServerProcess({
      label: 'tomcat',
      command: path.join(catalinaHome, 'bin', 'catalina.sh'),
      args: ['run'], // catalina.sh execs java, so the pid is the JVM's
      cpu: ctx.pinning.serverCpu,
      env: { ...process.env, CATALINA_HOME: catalinaHome, CATALINA_BASE: base, CATALINA_TMPDIR: path.join(base, 'temp'), CATALINA_PID: '' },
      cwd: base,
    });
    const origin = `http://127.0.0.1:${port}`;
    try {
      await server.waitForLine((l) => l.includes('Server startup in'), startTimeoutMs, '"Server startup in"');
      const { cookie, body } = await getSessionCookie(`${origin}/foo/`);
      if (!body.includes('Hello from 002')) throw new Error(`tomcat: a new session should land on foo##002, got ${JSON.stringify(body)}`);
      // Sessions that are not new go to 001 only if they were made there; that it is deployed shows in the log.
      await server.waitForLine((l) => l.includes('foo##001.war'), 5_000, 'the deployment of foo##001.war');
      return {
        kind: 'started',
        target: {
          server,
          url: `${origin}/foo/`,
          requests: [{ path: '/foo/', headers: { cookie } }],
          warmupSeconds: 10,
          detail: `Tomcat ${installed.version}, foo##001 + foo##002 deployed, GET /foo/ with one JSESSIONID on 002 (JSP reads n, sets n + 1)`,
          verify: async () => {
            const after = await get(`${origin}/foo/`, cookie);
            const match = /n=(\d+)/.exec(after.body);
            if (!after.body.includes('Hello from 002') || match === null || Number(match[1]) < 1) throw new Error(`tomcat: after the load the session answered ${JSON.stringify(after.body)}`);
            return `session on 002 counted n=${match[1]}`;
          },
          deployLatency: (tries) => measureTomcatDeployLatency(origin, webapps, staging, tries, server),
          stop: () => server.stop(30_000),
        },
      };
    } catch (err) {
      await server.stop(10_000);
      throw err;
    }
  },
};

/**
 * Renames `lat##00<i>.war` into webapps and polls GET /lat/ every 5 ms until version i answers.
 * Before each rename we wait a random part of the 10 s autoDeploy period: a WAR dropped right after
 * the previous deploy was noticed would always wait almost a full period, one dropped at a random
 * moment waits half of one on average, which is what an operator sees.
 */
async function measureTomcatDeployLatency(origin: string, webapps: string, staging: string, tries: number, server: ServerProcess): Promise<LatencySummary> {
  const samples: number[] = [];
  for (let i = 1; i <= tries; i++) {
    const version = String(i).padStart(3, '0');
    const file = `lat##${version}.war`;
    await writeFile(path.join(staging, file), await war('latency.jsp', version));
    await new Promise((resolve) => setTimeout(resolve, Math.random() * autoDeployPeriodMs));
    const started = performance.now();
    await rename(path.join(staging, file), path.join(webapps, file));
    await waitForBody(`${origin}/lat/`, `Hello from ${version}`, {
      intervalMs: 5,
      timeoutMs: autoDeployPeriodMs * 3,
      abort: () => (server.hasExited ? `tomcat exited; last output:\n${server.tail()}` : null),
      what: `Tomcat to deploy ${file}`,
    });
    samples.push(performance.now() - started);
  }
  return summarize(samples, 'stock autoDeploy: the Host checks webapps every backgroundProcessorDelay = 10 s (Tomcat default, kept); WAR dropped at a random moment; includes unpacking and the first JSP compile');
}
