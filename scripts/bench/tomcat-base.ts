// Tomcat 10 from Debian, run from a private CATALINA_BASE so nothing of the system install is used
// or changed except its binaries.
//
// Where Debian (bookworm, tomcat10 10.1.x) puts things, each checked on this machine after
// `apt-get install tomcat10`:
//   /usr/share/tomcat10/bin        catalina.sh (its `run` execs java), setclasspath.sh, version.sh
//                                  (package tomcat10-common; CATALINA_HOME=/usr/share/tomcat10)
//   /usr/share/tomcat10/lib        the Tomcat jars (links into /usr/share/java, libtomcat10-java)
//   /usr/share/tomcat10/etc        the pristine conf files the package installs from (tomcat10)
//   /etc/tomcat10                  the system's live conf: server.xml, web.xml, context.xml,
//                                  catalina.properties, logging.properties, Catalina/, policy.d/
//   /var/lib/tomcat10              the system CATALINA_BASE: conf -> /etc/tomcat10,
//                                  logs -> /var/log/tomcat10, work -> /var/cache/tomcat10, webapps/
//   /lib/systemd/system/tomcat10.service  never started here (no systemd in a container); we do
//                                  not use it: our base has its own port
// Java: tomcat10-common depends on default-jre-headless | java11-runtime-headless (OpenJDK 17 here).
// A JDK's `jar` is not needed: scripts/archive-builders.ts writes the WARs (a WAR is a plain ZIP; Servlet 3+ needs no web.xml for a JSP-only app).
import { spawnSync } from 'node:child_process';
import { access, copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const catalinaHome = '/usr/share/tomcat10';
const confSources = ['/usr/share/tomcat10/etc', '/etc/tomcat10'];
// The conf files Tomcat reads at start; server.xml is written fresh (see serverXml).
const confFiles = ['web.xml', 'context.xml', 'catalina.properties', 'logging.properties', 'jaspic-providers.xml', 'tomcat-users.xml'];

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

export type Installed = { readonly ok: true; readonly confSource: string; readonly version: string } | { readonly ok: false; readonly reason: string };

/** Installs tomcat10 with apt-get when missing. Never throws: a reason to skip comes back instead. */
export async function ensureTomcat(log: (line: string) => void): Promise<Installed> {
  if (!(await exists(path.join(catalinaHome, 'bin', 'catalina.sh')))) {
    log('tomcat: /usr/share/tomcat10 missing, installing the Debian package tomcat10 with apt-get (once)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'tomcat10'], { env, encoding: 'utf8' });
    if (result.status !== 0) {
      // A fresh machine may not have the package lists yet.
      spawnSync('apt-get', ['update'], { env, encoding: 'utf8' });
      result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'tomcat10'], { env, encoding: 'utf8' });
    }
    if (result.status !== 0) {
      const why = result.error?.message ?? (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ');
      return { ok: false, reason: `apt-get install tomcat10 failed (needs root and Debian's package lists): ${why}` };
    }
    if (!(await exists(path.join(catalinaHome, 'bin', 'catalina.sh')))) {
      return { ok: false, reason: `apt-get installed tomcat10 but ${catalinaHome}/bin/catalina.sh is not there` };
    }
  }
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.status !== 0) return { ok: false, reason: 'java is not on PATH (apt-get install default-jre-headless)' };
  let confSource: string | undefined;
  for (const dir of confSources) if (await exists(path.join(dir, 'web.xml'))) confSource ??= dir;
  if (confSource === undefined) return { ok: false, reason: `no Tomcat conf found in ${confSources.join(' or ')}` };
  const version = spawnSync('sh', [path.join(catalinaHome, 'bin', 'version.sh')], { encoding: 'utf8', env: { ...process.env, CATALINA_HOME: catalinaHome } });
  const match = /Server number:\s*(\S+)/.exec(version.stdout ?? '');
  return { ok: true, confSource, version: match?.[1] ?? 'unknown' };
}

/** Makes conf/, logs/, temp/, work/ and webapps/ of a private CATALINA_BASE under `dir`. */
export async function makeCatalinaBase(dir: string, confSource: string, port: number): Promise<void> {
  for (const sub of ['conf', 'logs', 'temp', 'work', 'webapps']) await mkdir(path.join(dir, sub), { recursive: true });
  const available = new Set(await readdir(confSource));
  for (const file of confFiles) {
    if (!available.has(file)) continue;
    const from = path.join(confSource, file);
    if ((await stat(from)).isFile()) await copyFile(from, path.join(dir, 'conf', file));
  }
  await writeFile(path.join(dir, 'conf', 'server.xml'), serverXml(port));
}

/**
 * Debian's server.xml rewritten to the bench's needs rather than patched: HTTP on 127.0.0.1 only,
 * shutdown port -1 (stop by signal), no AJP connector, no AccessLogValve, no UserDatabase realm.
 * The Host keeps Tomcat's defaults that matter here: autoDeploy="true", checked by the Engine's
 * background processor every backgroundProcessorDelay = 10 s (not changed, so deploy latency is
 * what a stock Tomcat gives).
 * One change from stock: maxKeepAliveRequests="-1". Tomcat's default 100 closes every keep-alive
 * connection after 100 requests; autocannon then keeps the request it had already written on the
 * closing socket in its queue and pairs every later response with the request before it, which
 * inflated Tomcat's p50 from ~0.3 ms to ~10 ms in our runs. node:http, workerd and tandem keep
 * connections open without a request limit, so this also makes the comparison like for like.
 */
function serverXml(port: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Listener className="org.apache.catalina.core.JreMemoryLeakPreventionListener" />
  <Listener className="org.apache.catalina.core.ThreadLocalLeakPreventionListener" />
  <Service name="Catalina">
    <Connector address="127.0.0.1" port="${port}" protocol="HTTP/1.1" connectionTimeout="20000" maxKeepAliveRequests="-1" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="true" />
    </Engine>
  </Service>
</Server>
`;
}
