// Sessions in Redis, shared by every tandem host that points at the same server: a session created
// through one host is served through another by the same version with the same data.
//
// Keys (prefix `tandem:`):
//   s:<id>                      hash: _app, _ver, _created, _seen, d:<key> → value JSON; TTL = app's idle timeout
//   m:<json [app, version]>     set of session ids bound to that version (stale members cleaned lazily)
//   v:<json app>                set of version keys that have a member set
//   apps                        set of app names that have sessions
// The multi-member operations (count, adopt, delete a version, sweep) are Lua scripts, so each is
// atomic; they touch keys they do not declare, which a single Redis allows (Redis Cluster does not).
//
// While Redis is unreachable every command fails at once (no offline queue, no retries, a command
// timeout for a server that stopped answering): the router and writer answer 503, and ioredis
// reconnects in the background.
import { Redis } from 'ioredis';
import { ErrorCode, TandemError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SessionChange, SessionRecord, SessionStore } from './store.ts';

export interface RedisStoreOptions {
  readonly url: string;
  readonly logger: Logger;
  /** A command without an answer after this long fails (a hung or paused server). */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly prefix?: string;
}

interface Scripts {
  tandemCount(set: string, versions: string, version: string, prefix: string): Promise<number>;
  tandemAdopt(from: string, to: string, versions: string, fromVersion: string, toVersion: string, prefix: string): Promise<number>;
  tandemDropVersion(set: string, versions: string, version: string, prefix: string): Promise<number>;
  tandemSweep(set: string, prefix: string, now: number, maxAgeMs: number): Promise<number>;
}

// KEYS[1] member set, KEYS[2] the app's version set; ARGV[1] version, ARGV[2] key prefix.
const countLua = `
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('HGET', ARGV[2] .. id, '_ver') == ARGV[1] then n = n + 1 else redis.call('SREM', KEYS[1], id) end
end
if n == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return n`;

// KEYS[1] from set, KEYS[2] to set, KEYS[3] version set; ARGV from version, to version, prefix.
const adoptLua = `
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[3] .. id
  if redis.call('HGET', key, '_ver') == ARGV[1] then
    redis.call('HSET', key, '_ver', ARGV[2])
    redis.call('SADD', KEYS[2], id)
    n = n + 1
  end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
if n > 0 then redis.call('SADD', KEYS[3], ARGV[2]) end
return n`;

// KEYS[1] member set, KEYS[2] version set; ARGV version, prefix.
const dropVersionLua = `
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. id
  if redis.call('HGET', key, '_ver') == ARGV[1] then redis.call('DEL', key); n = n + 1 end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return n`;

// KEYS[1] member set; ARGV prefix, now, max age (0 = none). Idle expiry is Redis's TTL; this
// removes members whose hash is gone and sessions past the absolute max age.
const sweepLua = `
local n = 0
local now, maxAge = tonumber(ARGV[2]), tonumber(ARGV[3])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  local created = redis.call('HGET', key, '_created')
  if not created then redis.call('SREM', KEYS[1], id)
  elseif maxAge > 0 and now - tonumber(created) > maxAge then redis.call('DEL', key); redis.call('SREM', KEYS[1], id); n = n + 1 end
end
return n`;

export class RedisSessionStore implements SessionStore {
  readonly #redis: Redis & Scripts;
  readonly #logger: Logger;
  readonly #prefix: string;
  readonly #where: string;
  #up = false;
  #downLogged = false;

  constructor(options: RedisStoreOptions) {
    this.#logger = options.logger;
    this.#prefix = options.prefix ?? 'tandem:';
    const url = new URL(options.url);
    this.#where = `${url.hostname}:${url.port || 6379}${url.pathname.length > 1 ? url.pathname : ''}`;
    const redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      commandTimeout: options.commandTimeoutMs ?? 1_000,
      retryStrategy: (times) => Math.min(times * 100, 1_000),
    });
    redis.defineCommand('tandemCount', { numberOfKeys: 2, lua: countLua });
    redis.defineCommand('tandemAdopt', { numberOfKeys: 3, lua: adoptLua });
    redis.defineCommand('tandemDropVersion', { numberOfKeys: 2, lua: dropVersionLua });
    redis.defineCommand('tandemSweep', { numberOfKeys: 1, lua: sweepLua });
    redis.on('ready', () => {
      this.#up = true;
      this.#downLogged = false;
      this.#logger.info({ redis: this.#where }, 'session store connected');
    });
    redis.on('close', () => this.#down('connection closed'));
    redis.on('error', (err: Error) => this.#down(err.message));
    this.#redis = redis as Redis & Scripts;
  }

  /** Resolves when connected, or after `ms` (Redis down at start: the host starts anyway). */
  waitReady(ms: number): Promise<boolean> {
    if (this.#redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), ms);
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.#redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      this.#redis.on('ready', onReady);
    });
  }

  #down(reason: string): void {
    if (this.#downLogged) return;
    this.#up = false;
    this.#downLogged = true;
    this.#logger.error({ redis: this.#where, err: reason }, 'session store unreachable, requests that need a session get 503 until it is back');
  }

  #key(id: string): string {
    return this.#prefix + 's:' + id;
  }

  #members(app: string, version: string): string {
    return this.#prefix + 'm:' + JSON.stringify([app, version]);
  }

  #versions(app: string): string {
    return this.#prefix + 'v:' + JSON.stringify(app);
  }

  #failed = (err: unknown): never => {
    throw new TandemError(ErrorCode.sessionStore, `session store Redis at ${this.#where} ${this.#up ? 'failed' : 'is unreachable'}: ${describeError(err)}`, { cause: err });
  };

  async get(id: string): Promise<SessionRecord | undefined> {
    const h = await this.#redis.hgetall(this.#key(id)).catch(this.#failed);
    const app = h['_app'];
    if (app === undefined) return undefined;
    const data = new Map<string, string>();
    for (const field in h) if (field.startsWith('d:')) data.set(field.slice(2), h[field]!);
    return { id, app, version: h['_ver'] ?? '', createdAt: Number(h['_created']), lastAccessAt: Number(h['_seen']), data };
  }

  async create(record: SessionRecord, ttlMs: number): Promise<void> {
    const key = this.#key(record.id);
    const fields: string[] = ['_app', record.app, '_ver', record.version, '_created', String(record.createdAt), '_seen', String(record.lastAccessAt)];
    for (const [k, v] of record.data) fields.push('d:' + k, v);
    await this.#exec(
      this.#redis
        .multi()
        .del(key)
        .hset(key, ...fields)
        .pexpire(key, Math.ceil(ttlMs))
        .sadd(this.#members(record.app, record.version), record.id)
        .sadd(this.#versions(record.app), record.version)
        .sadd(this.#prefix + 'apps', record.app),
    );
  }

  async update(record: SessionRecord, change: SessionChange, ttlMs: number): Promise<void> {
    const key = this.#key(record.id);
    const fields: string[] = ['_seen', String(record.lastAccessAt)];
    for (let i = 0; i + 1 < change.set.length; i += 2) fields.push('d:' + change.set[i]!, change.set[i + 1]!);
    const m = this.#redis.multi().hset(key, ...fields);
    if (change.del.length > 0) m.hdel(key, ...change.del.map((k) => 'd:' + k));
    await this.#exec(m.pexpire(key, Math.ceil(ttlMs)));
  }

  async touch(record: SessionRecord, ttlMs: number): Promise<void> {
    const key = this.#key(record.id);
    await this.#exec(this.#redis.multi().hset(key, '_seen', String(record.lastAccessAt)).pexpire(key, Math.ceil(ttlMs)));
  }

  async rebind(record: SessionRecord, version: string): Promise<void> {
    const from = record.version;
    record.version = version;
    await this.#exec(
      this.#redis
        .multi()
        .hset(this.#key(record.id), '_ver', version)
        .srem(this.#members(record.app, from), record.id)
        .sadd(this.#members(record.app, version), record.id)
        .sadd(this.#versions(record.app), version),
    );
  }

  async rename(record: SessionRecord, newId: string): Promise<SessionRecord> {
    const members = this.#members(record.app, record.version);
    await this.#exec(this.#redis.multi().rename(this.#key(record.id), this.#key(newId)).srem(members, record.id).sadd(members, newId));
    return { ...record, id: newId };
  }

  async delete(id: string): Promise<void> {
    // Its member-set entry is cleaned lazily (count, adopt, sweep check the hash).
    await this.#redis.del(this.#key(id)).catch(this.#failed);
  }

  async countByVersion(app: string): Promise<Map<string, number>> {
    const versionsKey = this.#versions(app);
    const versions = await this.#redis.smembers(versionsKey).catch(this.#failed);
    const counts = new Map<string, number>();
    for (const version of versions) {
      const n = await this.#redis.tandemCount(this.#members(app, version), versionsKey, version, this.#prefix + 's:').catch(this.#failed);
      if (n > 0) counts.set(version, n);
    }
    return counts;
  }

  async adoptAll(app: string, fromVersion: string, toVersion: string): Promise<number> {
    if (fromVersion === toVersion) return 0;
    return this.#redis
      .tandemAdopt(this.#members(app, fromVersion), this.#members(app, toVersion), this.#versions(app), fromVersion, toVersion, this.#prefix + 's:')
      .catch(this.#failed);
  }

  async deleteVersion(app: string, version: string): Promise<number> {
    return this.#redis.tandemDropVersion(this.#members(app, version), this.#versions(app), version, this.#prefix + 's:').catch(this.#failed);
  }

  async sweep(now: number, _idleMsFor: (app: string) => number, maxAgeMs: number): Promise<number> {
    let n = 0;
    for (const app of await this.#redis.smembers(this.#prefix + 'apps').catch(this.#failed)) {
      for (const version of await this.#redis.smembers(this.#versions(app)).catch(this.#failed)) {
        n += await this.#redis.tandemSweep(this.#members(app, version), this.#prefix + 's:', now, maxAgeMs).catch(this.#failed);
      }
    }
    return n;
  }

  async close(): Promise<void> {
    this.#redis.removeAllListeners('close');
    this.#redis.removeAllListeners('error');
    this.#redis.on('error', () => {});
    if (this.#redis.status === 'ready') await this.#redis.quit().catch(() => this.#redis.disconnect());
    else this.#redis.disconnect();
  }

  async #exec(multi: ReturnType<Redis['multi']>): Promise<void> {
    const results = await multi.exec().catch(this.#failed);
    if (results === null) this.#failed(new Error('transaction aborted'));
  }
}
