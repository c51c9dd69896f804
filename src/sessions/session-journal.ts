// The embedded store's durability: an append-only journal of session changes under
// <stateDir>/sessions/, and a snapshot it is compacted into when it grows past a multiple of the
// live data. Records go out in batches: whatever one event-loop turn queued is put, at the end of
// the turn, into the writer thread's ring of shared memory (journal-writer.ts); that thread writes
// it within a few milliseconds and, on the store's flush timer, fdatasyncs. The main thread never
// waits for the disk while serving.
//
// Files of generation G: snapshot-G.jnl (complete state at compaction, absent for G = 0) and
// journal-G.jnl (changes since). Compaction writes snapshot-(G+1).tmp, fsyncs, renames it into
// place, then starts journal-(G+1): a crash at any point leaves one readable generation.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync as unlinkFile } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.ts';
import { decodeLines, isJournalOp, type JournalOp } from './journal-codec.ts';
import { command, JournalWriter } from './journal-writer.ts';

export interface SessionJournalOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** Compact when the journal is larger than this many times the last snapshot… */
  readonly compactFactor?: number;
  /** …and larger than this, bytes. */
  readonly compactMinBytes?: number;
}

export interface FlushStats {
  /** Handed to the writer: the records' bytes, with each line's checksum. */
  readonly bytes: number;
  /** Main-thread time it took. */
  readonly ms: number;
}

export interface WriteMark {
  /** The writer's stream position when the mark was taken. */
  readonly position: number;
  readonly damageCount: number;
}

/** A snapshot goes to the writer in lists of records of about this many characters. */
const snapshotChunk = 1 << 20;

const fileName = /^(snapshot|journal)-(\d+)\.jnl$/;

export class SessionJournal {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #factor: number;
  readonly #minBytes: number;
  #gen = 0;
  /** Set by open() (#load), which is the only way to make a journal. */
  #writer!: JournalWriter;
  #pending: string[] = [];
  #journalBytes = 0;
  #snapshotBytes = 0;
  #writeScheduled = false;
  /** A file read at open was damaged. */
  #loadDamaged = false;
  /** The writer's damage count the last compaction answered. */
  #damageSeen = 0;

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
    // Opened here once, so a journal that cannot be written fails the start, not the writer thread later.
    closeSync(openSync(path.join(this.#dir, `journal-${this.#gen}.jnl`), 'a'));
    this.#writer = new JournalWriter({ dir: this.#dir, gen: this.#gen, logger: this.#logger });
  }

  /**
   * True when a file was damaged, or a write failed (records lost from the file, maybe a torn
   * line): the store compacts at its next flush, from memory, so nothing is lost and no record
   * follows a torn line.
   */
  get damaged(): boolean {
    return this.#loadDamaged || this.#writer.damageCount !== this.#damageSeen;
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
      this.#loadDamaged = true;
      this.#logger.warn({ file, offset: damage?.offset ?? 0, skipped: (damage?.skipped ?? 0) + foreign }, 'session journal damaged, skipped unreadable records');
    }
    return buf.length;
  }

  /** Queues one record; it goes to the writer at the end of this event-loop turn. */
  append(op: JournalOp): void {
    this.#queue(JSON.stringify(op));
  }

  /**
   * Queues a passivated session's data for its file under passive/: the writer writes and syncs the
   * file before it handles what is queued after it (the session's 'p' record), so the journal never
   * names a file that is not on disk.
   */
  passivate(id: string, flatDataJson: string): void {
    this.#queue(command.passive + id + ' ' + flatDataJson);
  }

  #queue(line: string): void {
    this.#pending.push(line);
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

  /** Hands the queued records to the writer thread's ring (no sync). */
  write(): FlushStats {
    if (this.#pending.length === 0) return { bytes: 0, ms: 0 };
    const started = performance.now();
    const lines = this.#pending;
    this.#pending = [];
    const bytes = this.#writer.append(lines);
    this.#journalBytes += bytes;
    return { bytes, ms: performance.now() - started };
  }

  /** Hands over what is queued, then asks for an fdatasync of everything written. */
  flush(): FlushStats {
    const stats = this.write();
    this.#writer.sync();
    return stats;
  }

  /** A mark for writeState(): everything handed over until now. */
  mark(): WriteMark {
    return { position: this.#writer.mark(), damageCount: this.#writer.damageCount };
  }

  /**
   * Whether everything handed over before `mark` is in the files (a passivated session's file may
   * go once its new records are in the journal): 'failed' when a write failed meanwhile; then a
   * new mark, taken after the compaction that repairs it, is the one to wait for.
   */
  writeState(mark: WriteMark): 'written' | 'waiting' | 'failed' {
    const writer = this.#writer;
    if (writer.damageCount !== mark.damageCount) return 'failed';
    return writer.isDone(mark.position) ? 'written' : 'waiting';
  }

  /** Hands over what is queued and waits until the writer has written it (tests, tools). */
  drain(): void {
    this.write();
    this.#writer.drain();
  }

  get needsCompaction(): boolean {
    return this.#journalBytes > this.#minBytes && this.#journalBytes > this.#factor * this.#snapshotBytes;
  }

  /**
   * Replaces snapshot + journal with a snapshot of `live` (every session as it is now) and an empty
   * journal. The records are made here, from memory as it is now; the writer writes the files, and
   * the records appended after this call go to the new journal.
   */
  compact(live: Iterable<JournalOp>): FlushStats {
    const writer = this.#writer;
    const started = performance.now();
    const gen = this.#gen + 1;
    // Every queued record is in the snapshot; the queued passive files are not, and go first.
    const files = this.#pending.filter((line) => line.startsWith(command.passive));
    this.#pending = [];
    writer.append(files);
    const bytes = writer.snapshot(gen, snapshotChunks(live));
    this.#gen = gen;
    this.#snapshotBytes = bytes;
    this.#journalBytes = 0;
    this.#loadDamaged = false;
    this.#damageSeen = writer.damageCount;
    const ms = performance.now() - started;
    this.#logger.debug({ bytes, ms: Math.round(ms), gen }, 'session journal compacting');
    return { bytes, ms };
  }

  /** Hands over what is queued and waits until it is written and synced; then the file is closed. */
  close(): void {
    this.write();
    this.#writer.close(); // kept: writeState() still reads its progress
  }
}

/** The snapshot's records, in lists of about `snapshotChunk` characters. */
function* snapshotChunks(live: Iterable<JournalOp>): Generator<string[]> {
  let chunk: string[] = [];
  let length = 0;
  for (const op of live) {
    const json = JSON.stringify(op);
    chunk.push(json);
    length += json.length;
    if (length > snapshotChunk) {
      yield chunk;
      chunk = [];
      length = 0;
    }
  }
  yield chunk;
}

function removeFile(file: string, missingOk = false): void {
  try {
    unlinkFile(file);
  } catch (err) {
    if (!missingOk || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

