// The session journal's disk work, on a thread of its own (journal-writer-thread.ts). The main
// thread posts each event-loop turn's records as one message and goes on; checksums, write(),
// fdatasync and compaction's file work happen on the writer thread, in the order they were sent.
// On the main thread, write() measured 2-10 ms now and then (a few times per 10 s of load) when
// it landed on the page the last fdatasync was writing back, and every app waited; on a slow
// cloud disk it would be longer. Records are handed over at the end of the turn that made them,
// as before: a host killed afterwards loses only what the writer had not written yet (it writes
// within a millisecond when idle). drain() and close() wait for the writer (Atomics.wait), so a
// graceful stop, and a test, still finds everything on disk.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';

/** `lines` are records' JSON texts: the writer adds the checksums (journal-codec.ts). */
export type WriterCommand =
  | { readonly kind: 'append'; readonly lines: readonly string[] }
  | { readonly kind: 'sync' }
  | { readonly kind: 'snapshot-begin'; readonly gen: number }
  | { readonly kind: 'snapshot-lines'; readonly lines: readonly string[] }
  | { readonly kind: 'snapshot-end' }
  | { readonly kind: 'drain' }
  | { readonly kind: 'close' };

export type WriterMessage = WriterCommand & { readonly seq: number };

/** What the writer thread tells the main thread: only failures, for the log (damage is counted in shared memory). */
export interface WriterReport {
  readonly kind: 'failed';
  readonly what: WriterMessage['kind'];
  readonly err: string;
}

export interface WriterData {
  readonly dir: string;
  /** The open journal of generation `gen` (append mode). */
  readonly fd: number;
  readonly gen: number;
  /** [doneCell]: sequence number of the last message the writer finished; [damageCell]: failures that may have cost records. */
  readonly cells: Int32Array;
}

export const doneCell = 0;
/** Counted before the failed message is marked done: whoever sees it done sees the damage too. */
export const damageCell = 1;

/** How long close() waits for the writer before it gives up (the writer thread is stuck or gone). */
const closeWaitMs = 10_000;

export class JournalWriter {
  readonly #worker: Worker;
  readonly #cells = new Int32Array(new SharedArrayBuffer(8));
  readonly #logger: Logger;
  readonly #dir: string;
  #seq = 0;
  #closed = false;

  constructor(options: { dir: string; fd: number; gen: number; logger: Logger }) {
    this.#logger = options.logger;
    this.#dir = options.dir;
    const data: WriterData = { dir: options.dir, fd: options.fd, gen: options.gen, cells: this.#cells };
    this.#worker = new Worker(new URL('./journal-writer-thread.ts', import.meta.url), { workerData: data, stdout: false, stderr: false });
    this.#worker.on('message', (report: WriterReport) => {
      this.#logger.error({ err: report.err, dir: this.#dir, step: report.what }, report.what === 'sync' ? 'session journal sync failed' : 'session journal write failed');
    });
    this.#worker.on('error', (err: unknown) => {
      // Not expected (every message's work is caught there): from now on nothing is written.
      this.#logger.error({ err, dir: this.#dir }, 'session journal writer thread failed');
      Atomics.add(this.#cells, damageCell, 1);
    });
    this.#worker.unref();
  }

  /** Sends one command; returns its sequence number (see isDone()). */
  post(command: WriterCommand): number {
    if (this.#closed) return this.#seq;
    const seq = ++this.#seq;
    this.#worker.postMessage({ ...command, seq });
    return seq;
  }

  /** The writer finished the command with this sequence number (and every one before it). */
  isDone(seq: number): boolean {
    return Atomics.load(this.#cells, doneCell) >= seq;
  }

  /** How many times records may have been lost from the files (a write or a compaction failed). */
  get damageCount(): number {
    return Atomics.load(this.#cells, damageCell);
  }

  /** Blocks until the writer finished everything sent so far, or `timeoutMs` passed. True when it did. */
  drain(timeoutMs = closeWaitMs): boolean {
    return this.#waitFor(this.post({ kind: 'drain' }), timeoutMs);
  }

  /** Syncs and closes the journal file, waiting for the writer; then the thread ends. */
  close(): void {
    if (this.#closed) return;
    const seq = this.post({ kind: 'close' });
    this.#closed = true;
    if (!this.#waitFor(seq, closeWaitMs)) {
      this.#logger.error({ dir: this.#dir, waitedMs: closeWaitMs }, 'session journal writer did not finish in time; the last records may be lost');
      void this.#worker.terminate();
    }
  }

  #waitFor(seq: number, timeoutMs: number): boolean {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const done = Atomics.load(this.#cells, doneCell);
      if (done >= seq) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#cells, doneCell, done, left);
    }
  }
}
