// The embedded session store: Maps, synchronous on the hot path.
// With `persistence`, every change is also queued for the journal (session-journal.ts), which
// writes a turn's changes in one write at the end of that event-loop turn; touches (last access)
// are batched per flush (every 200 ms by default), which also syncs and compacts. Past
// `maxActive` sessions the least recently used are passivated: their data moves to a file, a
// small stub (app, version, times) stays so counting, adoption and expiry never read the disk;
// get() reloads the data synchronously.
import type { Logger } from '../log.ts';
import type { JournalOp } from './journal-codec.ts';
import { PassiveFiles } from './passive-files.ts';
import { SessionJournal, type FlushStats, type WriteMark } from './session-journal.ts';
import { flattenData, setPairs, type SessionChange, type SessionRecord, type SessionStore } from './store.ts';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export interface PersistenceOptions {
  /** `<stateDir>/sessions`. */
  readonly dir: string;
  readonly logger: Logger;
  /** Sessions kept in memory with their data; 0 = all. */
  readonly maxActive?: number;
  readonly flushEveryMs?: number;
  /**
   * Event-loop time one flush may spend passivating (~3 µs a session, its file then the writer
   * thread's); handing them over adds about as much again. The rest go on the next flushes.
   */
  readonly passivateMsPerFlush?: number;
  readonly compactFactor?: number;
  readonly compactMinBytes?: number;
}

/** Sessions waiting until the writer has handled everything handed over before `mark` (their passive files to remove, or to be written). */
interface MarkedIds {
  readonly ids: readonly string[];
  mark: WriteMark;
}

/** A passivated session: everything but its data. */
interface PassiveSession {
  readonly app: string;
  version: string;
  readonly createdAt: number;
  lastAccessAt: number;
}

interface Persistence {
  readonly journal: SessionJournal;
  readonly files: PassiveFiles;
  readonly logger: Logger;
  readonly timer: NodeJS.Timeout;
  readonly passivateMs: number;
}

export class MemorySessionStore implements SessionStore {
  /** Live sessions with their data; with passivation, in least-recently-used-first order. */
  readonly #active = new Map<string, SessionRecord>();
  readonly #passive = new Map<string, PassiveSession>();
  readonly #touched = new Set<SessionRecord>();
  /** Passive files whose session was reloaded or deleted: removed once the journal says so on disk (#removeWrittenOff). */
  readonly #unlinkAfterFlush = new Set<string>();
  #unlinkWaiting: MarkedIds[] = [];
  /**
   * Data of sessions passivated but whose files the writer thread has not written yet: a reload
   * takes it from here, and a failed write puts it back in memory (#settlePassivated).
   */
  readonly #passivating = new Map<string, Map<string, string>>();
  #passivatedWaiting: MarkedIds[] = [];
  readonly #maxActive: number;
  readonly #p: Persistence | null;

  constructor(persistence?: PersistenceOptions) {
    this.#maxActive = persistence?.maxActive ?? 0;
    if (persistence === undefined) {
      this.#p = null;
      return;
    }
    const journal = SessionJournal.open(persistence, (op) => this.#replay(op));
    const files = new PassiveFiles(path.join(persistence.dir, 'passive'));
    const timer = setInterval(() => this.#tick(), persistence.flushEveryMs ?? 200);
    timer.unref();
    this.#p = { journal, files, logger: persistence.logger, timer, passivateMs: persistence.passivateMsPerFlush ?? 10 };
    for (const id of files.ids()) if (!this.#passive.has(id)) files.remove(id); // orphans of a crash mid-passivation
    if (journal.damaged) journal.compact(this.#liveOps());
  }

  get size(): number {
    return this.#active.size + this.#passive.size;
  }

  get activeCount(): number {
    return this.#active.size;
  }

  get passiveCount(): number {
    return this.#passive.size;
  }

  get(id: string): SessionRecord | undefined {
    const record = this.#active.get(id);
    if (record !== undefined || this.#passive.size === 0) return record;
    return this.#reload(id);
  }

  create(record: SessionRecord, _ttlMs?: number): void {
    this.#active.set(record.id, record);
    this.#p?.journal.append(['c', record.id, record.app, record.version, record.createdAt, record.lastAccessAt, flattenData(record.data)]);
  }

  update(record: SessionRecord, change: SessionChange, _ttlMs?: number): void {
    const live = this.#live(record);
    if (live === undefined) return;
    const data = live.data;
    setPairs(data, change.set);
    for (const key of change.del) data.delete(key);
    this.#p?.journal.append(['u', live.id, live.lastAccessAt, change.set, change.del]);
  }

  touch(record: SessionRecord, _ttlMs?: number): void {
    // The record is the live object: lastAccessAt is already set. The journal gets it once per flush.
    if (this.#p === null) return;
    this.#touched.add(record);
    if (this.#maxActive > 0 && this.#active.delete(record.id)) this.#active.set(record.id, record);
  }

  rebind(record: SessionRecord, version: string): void {
    record.version = version;
    const stub = this.#passive.get(record.id);
    if (stub !== undefined) stub.version = version;
    this.#p?.journal.append(['b', record.id, version]);
  }

  rename(record: SessionRecord, newId: string): SessionRecord {
    const live = this.#live(record);
    if (live === undefined) return { ...record, id: newId }; // deleted meanwhile (invalidated by another request): stays deleted
    const moved: SessionRecord = { ...live, id: newId, data: live.data };
    this.#active.delete(live.id);
    this.#active.set(newId, moved);
    this.#p?.journal.append(['r', live.id, newId]);
    return moved;
  }

  delete(id: string): void {
    this.#active.delete(id);
    this.#passivating.delete(id);
    if (this.#passive.delete(id)) this.#unlinkAfterFlush.add(id);
    this.#p?.journal.append(['d', id]);
  }

  countByVersion(app: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [, s] of this.#entries()) if (s.app === app) counts.set(s.version, (counts.get(s.version) ?? 0) + 1);
    return counts;
  }

  adoptAll(app: string, fromVersion: string, toVersion: string): number {
    let n = 0;
    for (const [id, s] of this.#entries()) {
      if (s.app === app && s.version === fromVersion) {
        s.version = toVersion;
        this.#p?.journal.append(['b', id, toVersion]);
        n++;
      }
    }
    return n;
  }

  deleteVersion(app: string, version: string): number {
    const doomed: string[] = [];
    for (const [id, s] of this.#entries()) if (s.app === app && s.version === version) doomed.push(id);
    for (const id of doomed) this.delete(id);
    return doomed.length;
  }

  sweep(now: number, idleMsFor: (app: string) => number, maxAgeMs: number): number {
    const doomed: string[] = [];
    for (const [id, s] of this.#entries()) {
      if (now - s.lastAccessAt > idleMsFor(s.app) || (maxAgeMs > 0 && now - s.createdAt > maxAgeMs)) doomed.push(id);
    }
    for (const id of doomed) this.delete(id);
    return doomed.length;
  }

  /** Passivates what is over the limit, writes queued records, compacts when due. Runs on a timer; tests and the bench call it. */
  flush(): FlushStats {
    const p = this.#p;
    if (p === null) return { bytes: 0, ms: 0 };
    this.#settlePassivated(p);
    const passivated = this.#passivateExcess(p);
    for (const record of this.#touched) if (this.#active.get(record.id) === record) p.journal.append(['t', record.id, record.lastAccessAt]);
    this.#touched.clear();
    let stats: FlushStats;
    try {
      stats = p.journal.flush();
    } finally {
      // After a failed write the journal lacks records memory still has: a snapshot puts them back.
      if (p.journal.damaged || p.journal.needsCompaction) p.journal.compact(this.#liveOps());
    }
    if (passivated.length > 0) this.#passivatedWaiting.push({ ids: passivated, mark: p.journal.mark() });
    if (this.#unlinkAfterFlush.size > 0) {
      this.#unlinkWaiting.push({ ids: [...this.#unlinkAfterFlush], mark: p.journal.mark() });
      this.#unlinkAfterFlush.clear();
    }
    this.#removeWrittenOff(p);
    return stats;
  }

  /**
   * Passivated sessions whose files are written let go of their data. After a failed write they
   * are active again, data in memory: the compaction that follows a failure then snapshots them whole.
   */
  #settlePassivated(p: Persistence): void {
    if (this.#passivatedWaiting.length === 0) return;
    const waiting: MarkedIds[] = [];
    for (const batch of this.#passivatedWaiting) {
      const state = p.journal.writeState(batch.mark);
      if (state === 'waiting') {
        waiting.push(batch);
        continue;
      }
      for (const id of batch.ids) {
        const data = this.#passivating.get(id);
        this.#passivating.delete(id);
        const stub = this.#passive.get(id);
        if (state === 'written' || data === undefined || stub === undefined) continue;
        this.#passive.delete(id);
        this.#active.set(id, { id, app: stub.app, version: stub.version, createdAt: stub.createdAt, lastAccessAt: stub.lastAccessAt, data });
        p.journal.append(['c', id, stub.app, stub.version, stub.createdAt, stub.lastAccessAt, flattenData(data)]);
        this.#unlinkAfterFlush.add(id); // a file half written
      }
    }
    this.#passivatedWaiting = waiting;
  }

  /**
   * The journal's writer is on its own thread: a passive file goes only once the records that
   * make it unneeded (its session reloaded into the journal, or deleted) are in the journal files.
   */
  #removeWrittenOff(p: Persistence): void {
    if (this.#unlinkWaiting.length === 0) return;
    let fresh: WriteMark | null = null;
    const waiting: MarkedIds[] = [];
    for (const batch of this.#unlinkWaiting) {
      const state = p.journal.writeState(batch.mark);
      if (state === 'written') {
        for (const id of batch.ids) if (!this.#passive.has(id)) p.files.remove(id);
        continue;
      }
      // After a failed write this flush compacted: wait for that snapshot instead.
      if (state === 'failed') batch.mark = fresh ??= p.journal.mark();
      waiting.push(batch);
    }
    this.#unlinkWaiting = waiting;
  }

  /** Writes a snapshot of every session now and starts a fresh journal (the timer does this when the journal outgrows the data). */
  compact(): FlushStats {
    if (this.#p === null) return { bytes: 0, ms: 0 };
    const passivated = this.#passivateExcess(this.#p);
    const stats = this.#p.journal.compact(this.#liveOps());
    if (passivated.length > 0) this.#passivatedWaiting.push({ ids: passivated, mark: this.#p.journal.mark() });
    return stats;
  }

  close(): void {
    const p = this.#p;
    if (p === null) return;
    clearInterval(p.timer);
    this.flush();
    p.journal.close();
    this.#removeWrittenOff(p);
  }

  /** Waits until every change so far is written to the journal files, and removes the passive files that made unneeded (tests and tools; serving never waits). */
  drain(): void {
    if (this.#p === null) return;
    this.#p.journal.drain();
    this.#settlePassivated(this.#p);
    this.#removeWrittenOff(this.#p);
  }

  #tick(): void {
    try {
      this.flush();
    } catch (err) {
      this.#p!.logger.error({ err, dir: this.#p!.journal.dir }, 'session journal write failed');
    }
  }

  /** The record a request holds may have been passivated or reloaded meanwhile: changes go to the live one. */
  #live(record: SessionRecord): SessionRecord | undefined {
    const live = this.#active.get(record.id);
    if (live !== undefined || !this.#passive.has(record.id)) return live;
    return this.#reload(record.id);
  }

  #reload(id: string): SessionRecord | undefined {
    const stub = this.#passive.get(id);
    if (stub === undefined || this.#p === null) return undefined;
    // Passivated moments ago: the writer may not have written the file yet.
    const data = this.#passivating.get(id) ?? this.#p.files.read(id);
    this.#passivating.delete(id);
    this.#passive.delete(id);
    if (data === null) {
      this.#p.logger.warn({ file: path.join(this.#p.journal.dir, 'passive'), app: stub.app }, 'passivated session unreadable, dropped');
      this.#p.journal.append(['d', id]);
      return undefined;
    }
    const record: SessionRecord = { id, app: stub.app, version: stub.version, createdAt: stub.createdAt, lastAccessAt: stub.lastAccessAt, data };
    this.#active.set(id, record);
    // The journal holds the data again, so the file can go once that record is written.
    this.#p.journal.append(['c', id, stub.app, stub.version, stub.createdAt, stub.lastAccessAt, flattenData(data)]);
    this.#unlinkAfterFlush.add(id);
    return record;
  }

  /**
   * Passivates the least recently used sessions past maxActive (within the time budget); returns
   * their ids. One batch at a time: the writer syncs each file (~0.3 ms here), and the next batch
   * waits until it has, so a burst cannot pile up data that is neither freed nor on disk.
   */
  #passivateExcess(p: Persistence): string[] {
    const ids: string[] = [];
    if (this.#maxActive === 0 || this.#passivatedWaiting.length > 0) return ids;
    let excess = this.#active.size - this.#maxActive;
    if (excess <= 0) return ids;
    const deadline = performance.now() + p.passivateMs;
    const stubs: JournalOp[] = [];
    for (const record of this.#active.values()) {
      if (excess-- <= 0 || performance.now() > deadline) break;
      p.journal.passivate(record.id, JSON.stringify(flattenData(record.data)));
      stubs.push(['p', record.id, record.app, record.version, record.createdAt, record.lastAccessAt]);
      this.#active.delete(record.id);
      this.#passive.set(record.id, { app: record.app, version: record.version, createdAt: record.createdAt, lastAccessAt: record.lastAccessAt });
      this.#passivating.set(record.id, record.data);
      this.#unlinkAfterFlush.delete(record.id);
      ids.push(record.id);
    }
    // The files first, then the records that name them: the writer keeps that order on disk, and
    // syncs the batch's files together before the first of these records.
    for (const stub of stubs) p.journal.append(stub);
    return ids;
  }

  #replay(op: JournalOp): void {
    switch (op[0]) {
      case 'c': {
        const data = setPairs(new Map(), op[6]);
        this.#passive.delete(op[1]);
        this.#active.set(op[1], { id: op[1], app: op[2], version: op[3], createdAt: op[4], lastAccessAt: op[5], data });
        return;
      }
      case 'u': {
        const r = this.#active.get(op[1]);
        if (r === undefined) return;
        r.lastAccessAt = op[2];
        setPairs(r.data, op[3]);
        for (const key of op[4]) r.data.delete(key);
        return;
      }
      case 't': {
        const r = this.#active.get(op[1]) ?? this.#passive.get(op[1]);
        if (r !== undefined) r.lastAccessAt = op[2];
        return;
      }
      case 'b': {
        const r = this.#active.get(op[1]) ?? this.#passive.get(op[1]);
        if (r !== undefined) r.version = op[2];
        return;
      }
      case 'r': {
        const r = this.#active.get(op[1]);
        if (r === undefined) return;
        this.#active.delete(op[1]);
        this.#active.set(op[2], { ...r, id: op[2] });
        return;
      }
      case 'd':
        this.#active.delete(op[1]);
        this.#passive.delete(op[1]);
        return;
      case 'p':
        this.#active.delete(op[1]);
        this.#passive.set(op[1], { app: op[2], version: op[3], createdAt: op[4], lastAccessAt: op[5] });
        return;
    }
  }

  /** Every session as snapshot records: full for active ones, stubs for passivated ones (their files stay). */
  *#liveOps(): Generator<JournalOp> {
    for (const r of this.#active.values()) yield ['c', r.id, r.app, r.version, r.createdAt, r.lastAccessAt, flattenData(r.data)];
    for (const [id, s] of this.#passive) yield ['p', id, s.app, s.version, s.createdAt, s.lastAccessAt];
  }

  *#entries(): Generator<[string, PassiveSession]> {
    yield* this.#active.entries();
    yield* this.#passive.entries();
  }
}
