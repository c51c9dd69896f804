// The pino root logger. Every line about a version goes through versionLogger() so it carries app and version.
import { createHash } from 'node:crypto';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ sync: false }));
}

export function versionLogger(root: Logger, app: string, version: string): Logger {
  return root.child({ app, version });
}

/** Session ids are secrets: logs carry only this short, stable hash of one. */
export function sessionTag(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 10);
}
