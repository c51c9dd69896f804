#!/usr/bin/env -S node --no-node-snapshot
// Parses argv/env into a validated Config, starts the host, handles signals.
// By default the CLI is a small supervisor: it runs the host as a child process and restarts it
// within 2 s when it dies (an isolate V8 lost control of can only be stopped by aborting the
// process, see notes/isolated-vm.md). `--no-supervisor` runs the host in this process.
import { parseArgs } from 'node:util';
import { ConfigError, defaults, resolveConfig, type Config } from './config.ts';
import { createLogger } from './log.ts';
import type { Host } from './host.ts';
import { superviseHost } from './supervisor.ts';

const usage = `tandem: versioned application container (parallel deployment of fetch-handler apps)

Usage: tandem [options]

  --webapps <dir>            folder watched for name##version bundles (default ./${defaults.webappsDir})
  --state-dir <dir>          tandem's own files: work/, retired/, sessions/, cache/ (default .tandem beside webapps)
  --host <addr>              address to listen on (default ${defaults.host})
  --port <n>                 app port, 0 = any free port (default ${defaults.port})
  --admin-host <addr>        admin listener address (default ${defaults.adminHost})
  --admin-port <n>           admin port, 0 = no admin listener (default ${defaults.adminPort})
  --memory-limit <MB>        heap limit of each version's isolate (default ${defaults.memoryLimitMb})
  --cpu-limit <ms>           CPU budget of one request inside an isolate (default ${defaults.cpuLimitMs})
  --off-thread-after <ms>    a version whose call holds the main thread longer runs on a worker thread
                             until calm again, 0 = never (default ${defaults.offThreadAfterMs})
  --ready-timeout <ms>       load + ready() deadline of a new version (default ${defaults.readyTimeoutMs})
  --drain-timeout <ms>       in-flight grace for an undeployed or replaced version (default ${defaults.drainTimeoutMs})
  --shutdown-timeout <ms>    in-flight grace on SIGINT/SIGTERM (default ${defaults.shutdownTimeoutMs})
  --settle <ms>              a bundle must be quiet this long before it deploys (default ${defaults.settleMs})
  --session-timeout <min>    idle timeout of sessions (default ${defaults.sessionTimeoutMinutes})
  --session-max-age <min>    absolute lifetime of a session, 0 = none (default ${defaults.sessionMaxAgeMinutes})
  --session-store <store>    memory | redis://host:port[/db] (default ${defaults.sessionStore})
  --max-active-sessions <n>  sessions kept in memory before idle ones are passivated, 0 = no limit
  --max-body <bytes>         request body limit, 413 beyond (default ${defaults.maxBodyBytes})
  --no-outbound-fetch        fetch() inside apps throws instead of calling out
  --fetch-timeout <ms>       timeout of an app's outbound fetch() (default ${defaults.fetchTimeoutMs})
  --undeploy-old-versions    unload a superseded version once its last session is gone
  --asset-cache-control <v>  Cache-Control of files served from a bundle's public/ folder
  --log-level <level>        fatal|error|warn|info|debug|trace (default ${defaults.logLevel})
  --no-supervisor            run the host in this process (no automatic restart)
  --help                     this text

Environment: TANDEM_ADMIN_TOKEN sets the admin token (random and logged once when unset).
`;

/** How long a host whose isolate V8 lost may spend saving sessions before it aborts. */
const catastrophicSaveMs = 500;

const numberOptions = {
  port: 'port',
  'admin-port': 'adminPort',
  'memory-limit': 'memoryLimitMb',
  'cpu-limit': 'cpuLimitMs',
  'off-thread-after': 'offThreadAfterMs',
  'ready-timeout': 'readyTimeoutMs',
  'drain-timeout': 'drainTimeoutMs',
  'shutdown-timeout': 'shutdownTimeoutMs',
  settle: 'settleMs',
  'session-timeout': 'sessionTimeoutMinutes',
  'session-max-age': 'sessionMaxAgeMinutes',
  'max-active-sessions': 'maxActiveSessions',
  'max-body': 'maxBodyBytes',
  'fetch-timeout': 'fetchTimeoutMs',
} as const satisfies Record<string, keyof Config>;

const stringOptions = {
  webapps: 'webappsDir',
  'state-dir': 'stateDir',
  host: 'host',
  'admin-host': 'adminHost',
  'session-store': 'sessionStore',
  'asset-cache-control': 'assetCacheControl',
  'log-level': 'logLevel',
} as const satisfies Record<string, keyof Config>;

export interface CliArgs {
  readonly config: Config;
  readonly supervise: boolean;
  readonly help: boolean;
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    help: { type: 'boolean' },
    'outbound-fetch': { type: 'boolean' },
    'undeploy-old-versions': { type: 'boolean' },
    supervisor: { type: 'boolean' },
  };
  for (const name of [...Object.keys(numberOptions), ...Object.keys(stringOptions)]) options[name] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, allowNegative: true, strict: true }));
  } catch (err) {
    throw new ConfigError('(command line)', `${(err as Error).message}; see --help`);
  }
  const input: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(numberOptions)) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${flag}`, `expected a number, got ${JSON.stringify(raw)}`);
    input[key] = n;
  }
  for (const [flag, key] of Object.entries(stringOptions)) if (typeof values[flag] === 'string') input[key] = values[flag];
  if (typeof values['outbound-fetch'] === 'boolean') input['outboundFetch'] = values['outbound-fetch'];
  if (values['undeploy-old-versions'] === true) input['undeployOldVersions'] = true;
  if (env['TANDEM_ADMIN_TOKEN'] !== undefined && env['TANDEM_ADMIN_TOKEN'] !== '') input['adminToken'] = env['TANDEM_ADMIN_TOKEN'];
  return {
    config: resolveConfig(input as Partial<Config>),
    supervise: values['supervisor'] !== false && env['TANDEM_SUPERVISED'] !== '1',
    help: values['help'] === true,
  };
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseCli(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`tandem: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(usage);
    return;
  }
  const logger = createLogger(args.config.logLevel);
  if (args.supervise) {
    await superviseHost({ argv: process.argv.slice(2), logger });
    return;
  }
  let started: Host | null = null;
  // Loaded only here: the supervisor process never needs isolated-vm, esbuild or the rest (-~60 MB RSS).
  const { startHost } = await import('./host.ts');
  const host = await startHost(args.config, logger, {
    announceAdminToken: process.env['TANDEM_ANNOUNCE_ADMIN_TOKEN'] === '1',
    onCatastrophic: (version, message) => {
      // V8 lost the isolate (the deployer has quarantined its bundle): process.exit() can hang now,
      // only abort() ends the process for sure. The sessions get a short, bounded chance to be saved.
      logger.fatal({ app: version.app.name, version: version.label, err: message, quarantined: version.quarantined }, 'isolate lost control, host restarting');
      logger.flush();
      const abort = (): never => process.abort();
      setTimeout(abort, catastrophicSaveMs).unref();
      Promise.resolve(started?.sessions.stop()).then(abort, abort);
    },
  }).catch((err: unknown) => {
    logger.fatal({ err }, 'host failed to start');
    logger.flush();
    process.exit(3);
  });
  started = host;
  let signalled = false;
  const shutdown = (signal: string): void => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    host.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (import.meta.main) await main();
