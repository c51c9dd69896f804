// Makes docs/admin.png, the README's picture of the admin page: a host in a temp dir with two apps,
// several versions in different states, sessions, traffic and some events, photographed with
// Debian's chromium. Run: node --no-node-snapshot scripts/admin-screenshot.ts [out.png]
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { chromium } from 'playwright-core';
import { resolveConfig } from '../src/config.ts';
import { startHost, type Host } from '../src/host.ts';
import { createLogger } from '../src/log.ts';

const out = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', 'docs', 'admin.png'));
const token = 'screenshot-token-0123456789abcdef';

const shopApp = (label: string): string => `
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.endsWith('/boom')) throw new Error('checkout failed');
    const session = ctx.createSession();
    session.set('n', (session.get('n') ?? 0) + 1);
    return Response.json({ label: ${JSON.stringify(label)}, version: env.version });
  }
};`;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-screenshot-'));
  const webapps = path.join(dir, 'webapps');
  await mkdir(webapps, { recursive: true });
  const config = resolveConfig({ webappsDir: webapps, port: 0, adminPort: 0, adminToken: token, settleMs: 50, logLevel: 'warn' });
  const host = await startHost(config, createLogger('warn', new Writable({ write: (_c, _e, done) => done() })), { adminListenPort: 0 });
  try {
    await stage(host, dir, webapps);
    await photograph(host, out);
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await host.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function stage(host: Host, dir: string, webapps: string): Promise<void> {
  const deploy = async (name: string, source: string): Promise<void> => {
    const staging = path.join(dir, `staging-${name}`);
    await mkdir(staging, { recursive: true });
    await writeFile(path.join(staging, 'index.mjs'), source);
    await rename(staging, path.join(webapps, name));
  };
  const waitState = async (app: string, version: string, states: string[]): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!states.includes(host.registry.app(app)?.find(version)?.state ?? '')) {
      if (Date.now() > deadline) throw new Error(`${app}##${version} did not reach ${states.join('/')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const visit = async (pathname: string, times: number, browsers: number): Promise<void> => {
    for (let b = 0; b < browsers; b++) {
      let cookie = '';
      for (let i = 0; i < times; i++) {
        const res = await fetch(`http://127.0.0.1:${host.port}${pathname}`, { headers: cookie === '' ? {} : { cookie } });
        const set = res.headers.getSetCookie()[0];
        if (set !== undefined) cookie = set.split(';')[0]!;
        await res.arrayBuffer();
      }
    }
  };
  const act = async (url: string): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${host.adminPort}${url}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  };

  await deploy('shop##1.4.2', shopApp('1.4.2'));
  await waitState('shop', '1.4.2', ['ready']);
  await visit('/shop/cart', 9, 4);
  await deploy('shop##1.5.0', shopApp('1.5.0'));
  await waitState('shop', '1.5.0', ['ready']);
  await visit('/shop/cart', 14, 11);
  await visit('/shop/boom', 1, 2);
  await deploy('shop##1.6.0-rc.1', shopApp('1.6.0-rc.1'));
  await waitState('shop', '1.6.0-rc.1', ['ready']);
  await visit('/shop/cart', 6, 3);
  await act('/api/apps/shop/versions/1.6.0-rc.1/disable');

  await deploy('reports#api##3.0.9', shopApp('3.0.9'));
  await waitState('reports#api', '3.0.9', ['ready']);
  await visit('/reports/api/daily', 5, 3);
  await deploy('reports#api##3.1.0', shopApp('3.1.0'));
  await waitState('reports#api', '3.1.0', ['ready']);
  await visit('/reports/api/daily', 8, 5);
  await act(`/api/apps/${encodeURIComponent('reports#api')}/versions/3.0.9/undeploy`);
  await deploy('reports#api##3.2.0', 'export default { fetch( };');
  await waitState('reports#api', '3.2.0', ['failed']);
}

async function photograph(host: Host, file: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 }, deviceScaleFactor: 1 });
    const base = `http://127.0.0.1:${host.adminPort}`;
    await page.goto(`${base}/`);
    await page.fill('#token', token);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type="submit"]')]);
    await page.waitForSelector('tr[data-app="reports#api"][data-version="3.2.0"]');
    await page.locator('#conn[data-state="live"]').waitFor();
    await mkdir(path.dirname(file), { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
  } finally {
    await browser.close();
  }
}

await main();
