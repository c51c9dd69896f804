// The embedded store's durability: an append-only journal of session changes under
// <stateDir>/sessions/, and a snapshot it is compacted into when it grows past a multiple of the
// live data. Records are written in batches: whatever one event-loop turn queued goes out in one
// write() at the end of the turn (so a host whose main thread is then stuck in an isolate, or that
// is killed, has them in the OS page cache), and fdatasync runs on the store's flush timer, off the
// main thread. Never a write or a sync per request.
//
// Files of generation G: snapshot-G.jnl (complete state at compaction, absent for G = 0) and
// journal-G.jnl (changes since). Compaction writes snapshot-(G+1).tmp, fsyncs, renames it into
// place, then starts journal-(G+1): a crash at any point leaves one readable generation.
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync as unlinkFile, writeSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.ts';
import { decodeLines, encodeLine, isJournalOp, type JournalOp } from './journal-codec.ts';

export interface SessionJournalOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** Compact when the journal is larger than this many times the last snapshot… */
  readonly compactFactor?: number;
  /** …and larger than this, bytes. */
  readonly compactMinBytes?: number;
}

export interface FlushStats {
  readonly bytes: number;
  readonly ms: number;
}

const fileName = /^(snapshot|journal)-(\d+)\.jnl$/;

export class SessionJournal {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #factor: number;
  readonly #minBytes: number;
  #gen = 0;
  #fd = -1;
  #pending: string[] = [];
  #journalBytes = 0;
  #snapshotBytes = 0;
  #syncing = false;
  #closeAfterSync = -1;
  #writeScheduled = false;
  #unsynced = false;
  /**
   * True when a file was damaged, or a write failed (records lost from the file, maybe a torn
   * line): the store compacts at once, from memory, so nothing is lost and no record follows a torn line.
   */
  damaged = false;

  private constructor(options: SessionJournalOptions) {
    this.#dir = options.dir;
    this.#logger = options.logger;
    this.#factor = options.compactFactor ?? 4;
    this.#minBytes = options.compactMinBytes ?? 4 * 1024 * 1024;
  }

  /** Opens the newest generation, calling `replay` with every intact record in order. */
  static open(options: SessionJournalOptions, replay: (op: JournalOp) => void): SessionJournal {
    const journal = new SessionJournal(options);
    journal.#load(replay);
    return journal;
  }

  get dir(): string {
    return this.#dir;
  }

  #load(replay: (op: JournalOp) => void): void {
    mkdirSync(this.#dir, { recursive: true });
    const names = readdirSync(this.#dir);
    for (const name of names) {
      const m = fileName.exec(name);
      if (m !== null && m[1] === 'snapshot') this.#gen = Math.max(this.#gen, Number(m[2]));
    }
    this.#snapshotBytes = this.#readFile(`snapshot-${this.#gen}.jnl`, replay);
    this.#journalBytes = this.#readFile(`journal-${this.#gen}.jnl`, replay);
    for (const name of names) {
      const m = fileName.exec(name);
      if ((m !== null && Number(m[2]) !== this.#gen) || name.endsWith('.tmp')) removeFile(path.join(this.#dir, name), true);
    }
    this.#fd = openSync(path.join(this.#dir, `journal-${this.#gen}.jnl`), 'a');
  }

  #readFile(name: string, replay: (op: JournalOp) => void): number {
    const file = path.join(this.#dir, name);
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    let foreign = 0;
    const damage = decodeLines(buf, (value) => {
      if (isJournalOp(value)) replay(value);
      else foreign++;
    });
    if (damage !== null || foreign > 0) {
      this.damaged = true;
      this.#logger.warn({ file, offset: damage?.offset ?? 0, skipped: (damage?.skipped ?? 0) + foreign }, 'session journal damaged, skipped unreadable records');
    }
    return buf.length;
  }

  /** Queues one record; it reaches the file at the end of this event-loop turn. */
  append(op: JournalOp): void {
    this.#pending.push(JSON.stringify(op));
    if (!this.#writeScheduled) {
      this.#writeScheduled = true;
      setImmediate(this.#writeTurn);
    }
  }

  readonly #writeTurn = (): void => {
    this.#writeScheduled = false;
    try {
      this.write();
    } catch (err) {
      this.#logger.error({ err, dir: this.#dir }, 'session journal write failed');
    }
  };

  /** Writes the queued records in one write (no sync). */
  write(): FlushStats {
    if (this.#pending.length === 0 || this.#fd === -1) return { bytes: 0, ms: 0 };
    const started = performance.now();
    let text = '';
    for (const json of this.#pending) text += encodeLine(json);
    this.#pending = [];
    let bytes: number;
    try {
      bytes = writeAll(this.#fd, text);
    } catch (err) {
      this.damaged = true;
      throw err;
    }
    this.#journalBytes += bytes;
    this.#unsynced = true;
    return { bytes, ms: performance.now() - started };
  }

  /** Writes what is queued and starts an fdatasync of everything written, in the background. */
  flush(): FlushStats {
    const stats = this.write();
    if (this.#unsynced && !this.#syncing) {
      this.#unsynced = false;
      this.#syncing = true;
      const fd = this.#fd;
      fdatasync(fd, (err) => {
        this.#syncing = false;
        if (err) this.#logger.error({ err, dir: this.#dir }, 'session journal sync failed');
        if (this.#closeAfterSync === fd) {
          this.#closeAfterSync = -1;
          closeSync(fd);
        }
      });
    }
    return stats;
  }

  get needsCompaction(): boolean {
    return this.#journalBytes > this.#minBytes && this.#journalBytes > this.#factor * this.#snapshotBytes;
  }

  /** Replaces snapshot + journal with a snapshot of `live` (every session as it is now) and an empty journal. */
  compact(live: Iterable<JournalOp>): FlushStats {
    const started = performance.now();
    const gen = this.#gen + 1;
    const tmp = path.join(this.#dir, `snapshot-${gen}.tmp`);
    const fd = openSync(tmp, 'w');
    let bytes = 0;
    try {
      let chunk = '';
      for (const op of live) {
        chunk += encodeLine(JSON.stringify(op));
        if (chunk.length > 1 << 20) {
          bytes += writeAll(fd, chunk);
          chunk = '';
        }
      }
      bytes += writeAll(fd, chunk);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path.join(this.#dir, `snapshot-${gen}.jnl`));
    const newFd = openSync(path.join(this.#dir, `journal-${gen}.jnl`), 'a');
    syncDir(this.#dir);
    this.#retireFd(this.#fd);
    this.#fd = newFd;
    this.#pending = []; // everything queued is in the snapshot
    for (const old of [`snapshot-${this.#gen}.jnl`, `journal-${this.#gen}.jnl`]) removeFile(path.join(this.#dir, old), true);
    this.#gen = gen;
    this.#snapshotBytes = bytes;
    this.#journalBytes = 0;
    this.damaged = false;
    const ms = performance.now() - started;
    this.#logger.debug({ bytes, ms: Math.round(ms), gen }, 'session journal compacted');
    return { bytes, ms };
  }

  /** Flushes, waits for the data to be on disk, closes the file. */
  close(): void {
    if (this.#fd === -1) return;
    this.flush();
    fsyncSync(this.#fd);
    this.#retireFd(this.#fd);
    this.#fd = -1;
  }

  #retireFd(fd: number): void {
    if (this.#syncing) this.#closeAfterSync = fd;
    else closeSync(fd);
  }
}

function writeAll(fd: number, text: string): number {
  if (text === '') return 0;
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  return buf.length;
}

function removeFile(file: string, missingOk = false): void {
  try {
    unlinkFile(file);
  } catch (err) {
    if (!missingOk || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
