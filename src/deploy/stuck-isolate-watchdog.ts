// Some runaway code cannot be interrupted by V8 (one huge builtin call such as
// `new Array(2**28).fill(0)`). Isolate calls run on the host's main thread, so such a call holds the
// main thread for good: isolated-vm's own catastrophic-error callback would need that thread and never
// runs (measured: the process dies of SIGSEGV ~5.3 s later, saving nothing). This watchdog runs on its
// own thread: AppIsolate marks each call (slot + sequence number in shared memory); when one call
// outlives its timeout by `graceMs`, the watchdog thread quarantines the bundle, logs a fatal line
// and aborts the process, so the supervisor restarts the host without the bad bundle.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import type { EntryMark } from '../runtime/isolate.ts';

export interface WatchedVersion {
  readonly app: string;
  readonly version: string;
  /** Bundle file name (the quarantine key). */
  readonly source: string;
  readonly fingerprint: string;
  /** The timeout every call into the version's isolate carries. */
  readonly timeoutMs: number;
}

export interface StuckIsolateWatchdogOptions {
  readonly quarantineFile: string;
  readonly logger: Logger;
}

/** How long past its timeout a call may run before the process is given up. */
const graceMs = 1000;
/** How often the watchdog thread looks. */
const sampleMs = 50;

export type WatchdogMessage =
  | { readonly kind: 'watch'; readonly slot: number; readonly version: WatchedVersion }
  | { readonly kind: 'unwatch'; readonly slot: number };

export class StuckIsolateWatchdog {
  /** [0]: slot of the version whose isolate the main thread is in (0 = none); [1]: call sequence. */
  readonly cells = new Int32Array(new SharedArrayBuffer(8));
  readonly #worker: Worker;
  #nextSlot = 1;

  constructor(options: StuckIsolateWatchdogOptions) {
    this.#worker = new Worker(new URL('./stuck-isolate-watchdog-worker.ts', import.meta.url), {
      workerData: { cells: this.cells, quarantineFile: options.quarantineFile, graceMs, sampleMs, pid: process.pid },
      stdout: false,
      stderr: false,
    });
    this.#worker.on('error', (err: unknown) => options.logger.error({ err }, 'stuck-isolate watchdog failed'));
    this.#worker.unref();
  }

  /** Starts watching a version's isolate calls; the returned mark goes into AppIsolate's options. */
  watch(version: WatchedVersion): EntryMark {
    const slot = this.#nextSlot++;
    this.#post({ kind: 'watch', slot, version });
    return { cells: this.cells, slot };
  }

  unwatch(mark: EntryMark): void {
    this.#post({ kind: 'unwatch', slot: mark.slot });
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }

  #post(message: WatchdogMessage): void {
    this.#worker.postMessage(message);
  }
}
