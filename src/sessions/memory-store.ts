// The embedded session store: a Map, synchronous on the hot path.
import type { SessionChange, SessionRecord, SessionStore } from './store.ts';

export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): SessionRecord | undefined {
    return this.#sessions.get(id);
  }

  create(record: SessionRecord): void {
    this.#sessions.set(record.id, record);
  }

  update(record: SessionRecord, change: SessionChange): void {
    const data = record.data;
    for (let i = 0; i + 1 < change.set.length; i += 2) data.set(change.set[i]!, change.set[i + 1]!);
    for (const key of change.del) data.delete(key);
  }

  touch(_record: SessionRecord): void {
    // The record is the live object: lastAccessAt is already set.
  }

  rebind(record: SessionRecord, version: string): void {
    record.version = version;
  }

  rename(record: SessionRecord, newId: string): SessionRecord {
    const moved: SessionRecord = { ...record, id: newId, data: record.data };
    this.#sessions.delete(record.id);
    this.#sessions.set(newId, moved);
    return moved;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  countByVersion(app: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const s of this.#sessions.values()) if (s.app === app) counts.set(s.version, (counts.get(s.version) ?? 0) + 1);
    return counts;
  }

  adoptAll(app: string, fromVersion: string, toVersion: string): number {
    let n = 0;
    for (const s of this.#sessions.values()) {
      if (s.app === app && s.version === fromVersion) {
        s.version = toVersion;
        n++;
      }
    }
    return n;
  }

  deleteVersion(app: string, version: string): number {
    let n = 0;
    for (const [id, s] of this.#sessions) {
      if (s.app === app && s.version === version) {
        this.#sessions.delete(id);
        n++;
      }
    }
    return n;
  }

  sweep(now: number, idleMsFor: (app: string) => number, maxAgeMs: number): number {
    let n = 0;
    for (const [id, s] of this.#sessions) {
      if (now - s.lastAccessAt > idleMsFor(s.app) || (maxAgeMs > 0 && now - s.createdAt > maxAgeMs)) {
        this.#sessions.delete(id);
        n++;
      }
    }
    return n;
  }

  close(): void {}
}
