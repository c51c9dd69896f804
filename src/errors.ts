// Errors that cross a module boundary carry a code and, where they concern one, the app and version.

export const ErrorCode = {
  bundleName: 'TANDEM_BUNDLE_NAME',
  bundleEntry: 'TANDEM_BUNDLE_ENTRY',
  bundleSettings: 'TANDEM_BUNDLE_SETTINGS',
  archiveUnsafe: 'TANDEM_ARCHIVE_UNSAFE',
  archiveCorrupt: 'TANDEM_ARCHIVE_CORRUPT',
  appLoad: 'TANDEM_APP_LOAD',
  appTimeout: 'TANDEM_APP_TIMEOUT',
  appCpuLimit: 'TANDEM_APP_CPU_LIMIT',
  appMemoryLimit: 'TANDEM_APP_MEMORY_LIMIT',
  appError: 'TANDEM_APP_ERROR',
  appBadResponse: 'TANDEM_APP_BAD_RESPONSE',
  isolateGone: 'TANDEM_ISOLATE_GONE',
  sessionStore: 'TANDEM_SESSION_STORE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class TandemError extends Error {
  readonly code: ErrorCode;
  readonly app: string | undefined;
  readonly version: string | undefined;

  constructor(code: ErrorCode, message: string, where: { app?: string; version?: string; cause?: unknown } = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'TandemError';
    this.code = code;
    this.app = where.app;
    this.version = where.version;
  }
}

/** A short, single-line description of anything thrown, for logs and HTTP error bodies. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
