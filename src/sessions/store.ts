// The SessionStore interface. The host owns sessions; stores only keep them.
// Methods may answer synchronously (the embedded store, on the hot path) or with a promise
// (a network store such as Redis); callers handle both without awaiting what is already there.

export type MaybePromise<T> = T | Promise<T>;

export interface SessionRecord {
  readonly id: string;
  readonly app: string;
  /** The version key it is bound to ('' = the version-less deployment). */
  version: string;
  readonly createdAt: number;
  lastAccessAt: number;
  /** key → JSON text of the value. */
  readonly data: Map<string, string>;
}

export interface SessionChange {
  /** Flat [key, jsonText, key, jsonText, …]. */
  readonly set: readonly string[];
  readonly del: readonly string[];
}

export interface SessionStore {
  /** The record, or undefined when there is none (expiry is the manager's business). */
  get(id: string): MaybePromise<SessionRecord | undefined>;
  /** `ttlMs` is the app's idle timeout: a network store lets the record expire after it (the manager checks expiry too). */
  create(record: SessionRecord, ttlMs: number): MaybePromise<void>;
  /** Applies changed keys only, and the access time. */
  update(record: SessionRecord, change: SessionChange, ttlMs: number): MaybePromise<void>;
  /** Records the access time without other changes. */
  touch(record: SessionRecord, ttlMs: number): MaybePromise<void>;
  /** Binds the session to another version (adoption). */
  rebind(record: SessionRecord, version: string): MaybePromise<void>;
  /** Moves a record to a new id (session fixation defence), data and version kept. */
  rename(record: SessionRecord, newId: string): MaybePromise<SessionRecord>;
  delete(id: string): MaybePromise<void>;
  /** Live sessions of an app by version key. */
  countByVersion(app: string): MaybePromise<Map<string, number>>;
  /** Rebinds every session of app/fromVersion to toVersion; returns how many. */
  adoptAll(app: string, fromVersion: string, toVersion: string): MaybePromise<number>;
  /** Deletes every session of app/version; returns how many. */
  deleteVersion(app: string, version: string): MaybePromise<number>;
  /** Deletes sessions idle longer than their app's idle timeout or older than maxAgeMs (0 = no max age); returns how many. */
  sweep(now: number, idleMsFor: (app: string) => number, maxAgeMs: number): MaybePromise<number>;
  /** Writes what must survive a restart, releases files and connections. */
  close(): MaybePromise<void>;
}

/** Session data as the flat [key, json, key, json, …] list that deltas, journal and files carry. */
export function flattenData(data: ReadonlyMap<string, string>): string[] {
  const flat: string[] = [];
  for (const [key, json] of data) flat.push(key, json);
  return flat;
}

/** Sets every [key, json] pair of a flat list on `data`; returns `data`. */
export function setPairs(data: Map<string, string>, flat: readonly string[]): Map<string, string> {
  for (let i = 0; i + 1 < flat.length; i += 2) data.set(flat[i]!, flat[i + 1]!);
  return data;
}
