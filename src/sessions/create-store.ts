// Chooses the session store from --session-store: the embedded store (persisted under
// <stateDir>/sessions, passivating past --max-active-sessions) or Redis, shared by many hosts.
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { MemorySessionStore } from './memory-store.ts';
import { RedisSessionStore } from './redis-store.ts';
import type { SessionStore } from './store.ts';

/** How long startup waits for Redis before going on without it (requests needing a session get 503 meanwhile). */
const redisStartWaitMs = 2_000;

export async function createSessionStore(config: Config, logger: Logger): Promise<SessionStore> {
  if (config.sessionStore === 'memory') {
    const dir = path.join(config.stateDir, 'sessions');
    const store = new MemorySessionStore({ dir, logger, maxActive: config.maxActiveSessions });
    logger.info({ dir, sessions: store.size, passivated: store.passiveCount }, 'session store opened');
    return store;
  }
  const store = new RedisSessionStore({ url: config.sessionStore, logger });
  await store.waitReady(redisStartWaitMs);
  return store;
}
