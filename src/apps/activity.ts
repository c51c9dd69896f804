// Recent events an operator cares about (deploys, failures, adoptions, limit hits), kept in a ring
// buffer for the admin page and pushed live to its subscribers. Logs stay the full record.
import { EventEmitter } from 'node:events';

export type ActivityKind =
  | 'deployed'
  | 'redeployed'
  | 'failed'
  | 'undeployed'
  | 'adopted'
  | 'limit'
  | 'state'
  | 'disabled'
  | 'enabled'
  | 'retired'
  | 'restored'
  | 'expired'
  | 'quarantined';

export interface Activity {
  readonly seq: number;
  readonly at: number;
  readonly kind: ActivityKind;
  readonly app: string;
  readonly version: string;
  readonly message: string;
}

export class ActivityLog {
  readonly #capacity: number;
  readonly #items: Activity[] = [];
  readonly #events = new EventEmitter<{ activity: [Activity] }>();
  #seq = 0;

  constructor(capacity = 200) {
    this.#capacity = capacity;
  }

  record(kind: ActivityKind, app: string, version: string, message: string): Activity {
    const activity: Activity = { seq: ++this.#seq, at: Date.now(), kind, app, version, message };
    this.#items.push(activity);
    if (this.#items.length > this.#capacity) this.#items.shift();
    this.#events.emit('activity', activity);
    return activity;
  }

  /** Most recent last. */
  recent(): readonly Activity[] {
    return [...this.#items];
  }

  subscribe(listener: (activity: Activity) => void): () => void {
    this.#events.on('activity', listener);
    return () => this.#events.off('activity', listener);
  }
}
