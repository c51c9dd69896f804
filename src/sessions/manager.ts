// Sessions, owned by the host: find, create, save a request's changes key by key, adopt, expire.
// Routing decides which version serves; this module keeps the records and their cookie.
import type { ActivityLog } from '../apps/activity.ts';
import { sessionTag, type Logger } from '../log.ts';
import type { SessionDelta } from '../runtime/wire.ts';
import { newSessionId } from './session-id.ts';
import { clearedSessionCookie, sessionCookie, type CookieScope } from './session-cookie.ts';
import { setPairs, type MaybePromise, type SessionRecord, type SessionStore } from './store.ts';

/** Issued session ids kept for claiming; far more than can be in flight at once. */
const maxUnclaimedIds = 50_000;

export interface SessionManagerOptions {
  readonly store: SessionStore;
  readonly logger: Logger;
  readonly activity: ActivityLog;
  /** Idle timeout of an app's sessions, ms (an app's tandem.json may override the host default). */
  readonly idleMsFor: (app: string) => number;
  /** Absolute lifetime, ms; 0 = none. */
  readonly maxAgeMs: number;
  /** How often expired sessions are swept, ms. */
  readonly sweepEveryMs: number;
}

export class SessionManager {
  readonly store: SessionStore;
  readonly #options: SessionManagerOptions;
  readonly #logger: Logger;
  /** Issued session ids not claimed yet → the app they were issued to (see issueId()). */
  readonly #issued = new Map<string, string>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: SessionManagerOptions) {
    this.store = options.store;
    this.#options = options;
    this.#logger = options.logger;
  }

  start(): void {
    this.#sweeper = setInterval(() => void this.sweep(), this.#options.sweepEveryMs);
    this.#sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.store.close();
  }

  /**
   * A fresh id `app` may create a session under or rotate one to (ctx.createSession(),
   * session.rotate()). apply() accepts such a change only with an id issued here to that app:
   * an app that broke into its isolate's dispatcher cannot take over another session's id.
   */
  issueId(app: string): string {
    const id = newSessionId();
    // Ids are claimed in the response of the request that asked for them; one whose request failed
    // is never claimed. The oldest go first past the cap, long after their requests ended.
    if (this.#issued.size >= maxUnclaimedIds) this.#issued.delete(this.#issued.keys().next().value as string);
    this.#issued.set(id, app);
    return id;
  }

  /** Whether `id` was issued to `app` and not claimed yet; claims it. */
  #claim(app: string, version: string, id: string, what: string): boolean {
    if (this.#issued.get(id) === app) {
      this.#issued.delete(id);
      return true;
    }
    this.#logger.error({ app, version, session: sessionTag(id) }, `the app claimed to ${what} an id tandem did not issue to it; ignored`);
    return false;
  }

  /** The first live session of `app` among `ids`, touched; undefined when none. */
  find(app: string, ids: readonly string[], now: number): MaybePromise<SessionRecord | undefined> {
    if (ids.length === 0) return undefined;
    if (ids.length === 1) {
      const found = this.store.get(ids[0]!);
      return found instanceof Promise ? found.then((r) => this.#accept(app, r, now)) : this.#accept(app, found, now);
    }
    return this.#findAmong(app, ids, now);
  }

  async #findAmong(app: string, ids: readonly string[], now: number): Promise<SessionRecord | undefined> {
    for (const id of ids) {
      const record = await this.#accept(app, await this.store.get(id), now);
      if (record !== undefined) return record;
    }
    return undefined;
  }

  #accept(app: string, record: SessionRecord | undefined, now: number): MaybePromise<SessionRecord | undefined> {
    if (record === undefined || record.app !== app) return undefined;
    if (this.#expired(record, now)) {
      const deleted = this.store.delete(record.id);
      return deleted instanceof Promise ? deleted.then(() => undefined) : undefined;
    }
    record.lastAccessAt = now;
    const touched = this.store.touch(record, this.#options.idleMsFor(app));
    // Not awaited: routing needs the record, not the new expiry. A network store would otherwise
    // put a second round trip before every request; a touch that fails only shortens the session's
    // life to its previous expiry, and is logged.
    if (touched instanceof Promise) touched.catch((err: unknown) => this.#logger.warn({ app, session: sessionTag(record.id), err }, 'session touch failed'));
    return record;
  }

  #expired(record: SessionRecord, now: number): boolean {
    const maxAge = this.#options.maxAgeMs;
    return now - record.lastAccessAt > this.#options.idleMsFor(record.app) || (maxAge > 0 && now - record.createdAt > maxAge);
  }

  /** Binds a session whose version is gone to `toVersion`, data intact. */
  adopt(record: SessionRecord, toVersion: string): MaybePromise<void> {
    const from = record.version;
    const done = this.store.rebind(record, toVersion);
    this.#logger.info({ app: record.app, version: toVersion || '(unversioned)', from: from || '(unversioned)', session: sessionTag(record.id) }, 'session adopted');
    this.#options.activity.record('adopted', record.app, toVersion || '(unversioned)', `session ${sessionTag(record.id)} adopted from ${from || '(unversioned)'}`);
    return done;
  }

  /**
   * Saves what a request changed (the dispatcher's decoded delta) and returns the Set-Cookie values
   * the response must carry. `current` is the session the request came with, if any.
   */
  apply(app: string, version: string, current: SessionRecord | undefined, deltas: readonly SessionDelta[], scope: CookieScope, now: number): MaybePromise<string[]> {
    // A session created in the same request as the old one was invalidated: its cookie must come
    // after the clearing one, so the browser ends up holding the new id.
    const cleared: string[] = [];
    const cookies: string[] = [];
    const writes: Promise<unknown>[] = [];
    const ttlMs = this.#options.idleMsFor(app);
    const wait = (r: MaybePromise<unknown>): void => {
      if (r instanceof Promise) writes.push(r);
    };
    for (const delta of deltas) {
      if (delta.created) {
        if (!this.#claim(app, version, delta.id, 'create a session under') || delta.inv) continue;
        const record: SessionRecord = { id: delta.id, app, version, createdAt: now, lastAccessAt: now, data: setPairs(new Map(), delta.set) };
        wait(this.store.create(record, ttlMs));
        cookies.push(sessionCookie(delta.id, scope));
        this.#logger.debug({ app, version, session: sessionTag(delta.id) }, 'session created');
        continue;
      }
      if (current === undefined || current.id !== delta.id) continue; // not this request's session
      if (delta.inv) {
        wait(this.store.delete(current.id));
        cleared.push(clearedSessionCookie(scope));
        this.#logger.debug({ app, version, session: sessionTag(current.id) }, 'session invalidated');
        continue;
      }
      const updated = this.store.update(current, delta, ttlMs);
      if (delta.rot !== null && this.#claim(app, version, delta.rot, 'rotate its session to')) {
        // The rename must follow the update (a network store runs them in order on one connection).
        const rot = delta.rot;
        wait(updated instanceof Promise ? updated.then(() => this.store.rename(current, rot)) : this.store.rename(current, rot));
        cookies.push(sessionCookie(delta.rot, scope));
        this.#logger.info({ app, version, session: sessionTag(delta.rot), from: sessionTag(current.id) }, 'session rotated');
      } else {
        wait(updated);
      }
    }
    const all = cleared.length === 0 ? cookies : [...cleared, ...cookies];
    return writes.length === 0 ? all : Promise.all(writes).then(() => all);
  }

  countByVersion(app: string): MaybePromise<Map<string, number>> {
    return this.store.countByVersion(app);
  }

  async adoptAll(app: string, fromVersion: string, toVersion: string): Promise<number> {
    const n = await this.store.adoptAll(app, fromVersion, toVersion);
    if (n > 0) {
      this.#logger.info({ app, version: toVersion || '(unversioned)', from: fromVersion || '(unversioned)', sessions: n }, 'sessions adopted');
      this.#options.activity.record('adopted', app, toVersion || '(unversioned)', `${n} sessions adopted from ${fromVersion || '(unversioned)'}`);
    }
    return n;
  }

  async expireVersion(app: string, version: string): Promise<number> {
    const n = await this.store.deleteVersion(app, version);
    this.#logger.info({ app, version: version || '(unversioned)', sessions: n }, 'sessions expired');
    this.#options.activity.record('expired', app, version || '(unversioned)', `${n} sessions expired by the operator`);
    return n;
  }

  async sweep(now = Date.now()): Promise<number> {
    try {
      const n = await this.store.sweep(now, this.#options.idleMsFor, this.#options.maxAgeMs);
      if (n > 0) this.#logger.debug({ sessions: n }, 'expired sessions swept');
      return n;
    } catch (err) {
      this.#logger.error({ err }, 'session sweep failed');
      return 0;
    }
  }
}
