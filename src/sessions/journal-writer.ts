// The session journal's disk work, on a thread of its own (journal-writer-thread.ts).
//
// The main thread writes each event-loop turn's records, as text lines, into a ring of shared
// memory and goes on: no syscall, no message, no wake-up per turn. The writer thread looks at the
// ring every few milliseconds (sooner when asked), adds the checksums and writes what it finds,
// fdatasyncs when told to, and does compaction's file work. Commands travel in the same ring, as
// lines that start with U+0001 (JSON records start with '['), so records and commands reach the
// disk in the order they were made, whatever the threads do in between.
//
// Why a ring and not a postMessage per turn: that woke the writer at every turn, 2,700 times a
// second under sticky load, ~26 µs of CPU each (a thread switch and a small write()); the ring's
// writer wakes ~220 times. And why not a batch on a timer in the main thread: records handed
// over late would sit in the main thread's heap, where a host whose main thread is stuck in an
// isolate (until the watchdog aborts it) can no longer write them. In the ring they are the
// writer's to write.
//
// When the ring is full (the disk is far behind), text waits in the main thread (#overflow) and
// is moved in as the writer frees space. drain() and close() wait for the writer (Atomics.wait),
// so a graceful stop, and a test, still finds everything on disk.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';

/** What the writer thread tells the main thread: only failures, for the log (damage is counted in shared memory). */
export interface WriterReport {
  readonly kind: 'failed';
  readonly what: string;
  readonly err: string;
}

export interface WriterData {
  readonly dir: string;
  readonly gen: number;
  /** The ring: bytes at positions produced..consumed modulo its size are the writer's to take. */
  readonly ring: SharedArrayBuffer;
  /** [producedCell], [consumedCell], [doneCell], as byte positions in the stream (they only grow). */
  readonly positions: BigInt64Array;
  /** [wakeCell]: bumped to wake the writer now; [damageCell]: failures that may have cost records. */
  readonly flags: Int32Array;
}

/** Bytes the main thread has put into the stream (ring). */
export const producedCell = 0;
/** Bytes the writer has taken out of the ring (that space is free again). */
export const consumedCell = 1;
/** Bytes whose lines the writer has completely handled (written, synced, …). */
export const doneCell = 2;
export const wakeCell = 0;
/** Counted before the bytes of the failed line are marked done: whoever sees them done sees the damage too. */
export const damageCell = 1;

/** The commands, as the lines that carry them. */
export const command = {
  sync: '\u0001sync',
  /** `<id> <json>`: write passive/<id> (a passivated session's data, journal-codec line), synced, before the lines after it. */
  passive: '\u0001passive ',
  snapshotBegin: '\u0001snapshot-begin ',
  snapshotEnd: '\u0001snapshot-end',
  close: '\u0001close',
} as const;

/** The checksum and the space the writer puts before each record (journal-codec.ts lineChecksum). */
export const checksumBytes = 9;
// Over a second of records at 25,000 sticky requests a second (~70 bytes each), 200 of the writer's looks; a compaction's snapshot passes through #overflow.
const ringBytes = 2 << 20;
/** How long close() waits for the writer before it gives up (the writer thread is stuck or gone). */
const closeWaitMs = 10_000;

export class JournalWriter {
  readonly #worker: Worker;
  readonly #ring: Buffer;
  readonly #positions = new BigInt64Array(new SharedArrayBuffer(3 * 8));
  readonly #flags = new Int32Array(new SharedArrayBuffer(2 * 4));
  readonly #logger: Logger;
  readonly #dir: string;
  /** Mirror of positions[producedCell]: only this thread writes it. */
  #produced = 0;
  /** Bytes handed to the stream: in the ring, plus what waits in #overflow. */
  #appended = 0;
  /** Text that did not fit into the ring yet, oldest first (#pump moves it in). */
  #overflow: Buffer[] = [];
  #pumpTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** The writer thread ended (closed, or failed): nothing more is written. */
  #gone = false;

  constructor(options: { dir: string; gen: number; logger: Logger }) {
    this.#logger = options.logger;
    this.#dir = options.dir;
    const ring = new SharedArrayBuffer(ringBytes);
    this.#ring = Buffer.from(ring);
    const data: WriterData = { dir: options.dir, gen: options.gen, ring, positions: this.#positions, flags: this.#flags };
    this.#worker = new Worker(new URL('./journal-writer-thread.ts', import.meta.url), { workerData: data, stdout: false, stderr: false });
    this.#worker.on('message', (report: WriterReport) => {
      this.#logger.error({ err: report.err, dir: this.#dir, step: report.what }, report.what === 'sync' ? 'session journal sync failed' : 'session journal write failed');
    });
    this.#worker.on('error', (err: unknown) => {
      // Not expected (every line's work is caught there): from now on nothing is written.
      this.#logger.error({ err, dir: this.#dir }, 'session journal writer thread failed');
      Atomics.add(this.#flags, damageCell, 1);
    });
    this.#worker.on('exit', () => {
      this.#gone = true;
      this.#overflow = [];
      if (this.#pumpTimer !== null) clearTimeout(this.#pumpTimer);
    });
    this.#worker.unref();
  }

  /** Records' JSON texts, in order: the writer adds the checksums (journal-codec.ts). Returns the bytes they take on disk. */
  append(lines: readonly string[]): number {
    if (this.#closed || lines.length === 0) return 0;
    return this.#put(lines.join('\n') + '\n') + checksumBytes * lines.length;
  }

  /** fdatasync of everything handed over before. */
  sync(): void {
    if (!this.#closed) this.#put(command.sync + '\n');
  }

  /** Compaction: the snapshot of generation `gen` is `chunks` (each a list of records); records appended after it go to journal-`gen`. */
  snapshot(gen: number, chunks: Iterable<readonly string[]>): number {
    if (this.#closed) return 0;
    this.#put(`${command.snapshotBegin}${gen}\n`);
    let bytes = 0;
    for (const lines of chunks) bytes += this.append(lines);
    this.#put(command.snapshotEnd + '\n');
    this.#wake(); // a compaction's files are worth starting at once
    return bytes;
  }

  /** A position for isDone(): everything handed over until now. */
  mark(): number {
    return this.#appended;
  }

  /** The writer has handled everything handed over before `mark`. */
  isDone(mark: number): boolean {
    return Number(Atomics.load(this.#positions, doneCell)) >= mark;
  }

  /** How many times records may have been lost from the files (a write or a compaction failed). */
  get damageCount(): number {
    return Atomics.load(this.#flags, damageCell);
  }

  /** Blocks until the writer handled everything handed over so far, or `timeoutMs` passed. True when it did. */
  drain(timeoutMs = closeWaitMs): boolean {
    return this.#waitFor(this.#appended, timeoutMs);
  }

  /** Syncs and closes the journal file, waiting for the writer; then the thread ends. */
  close(): void {
    if (this.#closed) return;
    this.#put(command.close + '\n');
    this.#closed = true;
    if (!this.#waitFor(this.#appended, closeWaitMs)) {
      this.#logger.error({ dir: this.#dir, waitedMs: closeWaitMs }, 'session journal writer did not finish in time; the last records may be lost');
      void this.#worker.terminate();
    }
  }

  #put(text: string): number {
    const bytes = Buffer.byteLength(text);
    if (this.#gone) return bytes; // counted as damage when the thread failed; nothing would read it
    this.#appended += bytes;
    if (this.#overflow.length === 0 && this.#free() >= bytes) {
      this.#copyIn(text, bytes);
      return bytes;
    }
    this.#overflow.push(Buffer.from(text));
    this.#pump();
    return bytes;
  }

  #free(): number {
    return ringBytes - (this.#produced - Number(Atomics.load(this.#positions, consumedCell)));
  }

  /** Copies `bytes` of `text` in at the producer's position, across the ring's end when it must. */
  #copyIn(text: string, bytes: number): void {
    const at = this.#produced % ringBytes;
    if (at + bytes <= ringBytes) this.#ring.write(text, at);
    else {
      const buf = Buffer.from(text);
      buf.copy(this.#ring, at, 0, ringBytes - at);
      buf.copy(this.#ring, 0, ringBytes - at);
    }
    this.#publish(bytes);
  }

  #publish(bytes: number): void {
    this.#produced += bytes;
    Atomics.store(this.#positions, producedCell, BigInt(this.#produced));
    // A ring filling up is worth writing now rather than at the writer's next look.
    if (ringBytes - this.#free() > ringBytes / 2) this.#wake();
  }

  /** Moves waiting text into the ring as far as it fits; looks again soon while some is left. */
  readonly #pump = (): void => {
    this.#pumpTimer = null;
    while (this.#overflow.length > 0) {
      const free = this.#free();
      if (free === 0) break;
      const head = this.#overflow[0]!;
      const n = Math.min(free, head.length);
      const at = this.#produced % ringBytes;
      const first = Math.min(n, ringBytes - at);
      head.copy(this.#ring, at, 0, first);
      if (first < n) head.copy(this.#ring, 0, first, n);
      this.#publish(n);
      if (n === head.length) this.#overflow.shift();
      else this.#overflow[0] = head.subarray(n);
    }
    if (this.#overflow.length > 0) {
      this.#wake();
      this.#pumpTimer ??= setTimeout(this.#pump, 1);
    }
  };

  #wake(): void {
    Atomics.add(this.#flags, wakeCell, 1);
    Atomics.notify(this.#flags, wakeCell);
  }

  #waitFor(position: number, timeoutMs: number): boolean {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#gone) return this.isDone(position);
      this.#pump();
      const done = Atomics.load(this.#positions, doneCell);
      if (Number(done) >= position) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      this.#wake();
      // Short waits: overflow may need moving in as the writer frees space.
      Atomics.wait(this.#positions, doneCell, done, Math.min(left, this.#overflow.length > 0 ? 1 : left));
    }
  }
}
