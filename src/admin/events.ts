// GET /api/events: Server-Sent Events for the page. On connect and every `intervalMs` a `snapshot`
// event (the whole AdminSnapshot, so counters refresh); an `activity` event whenever the activity
// log records something; a `state` event when a version changes state (followed shortly by a
// snapshot, so the page shows the change at once). One timer serves all clients, and only while
// there are clients. A stream ends when the login that opened it ends (logout, expiry), and a
// client that stops reading is cut off before its backlog grows past maxBacklogBytes.
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { takeSnapshot, type SnapshotSources } from './snapshot.ts';

export interface AdminEventStreamOptions extends SnapshotSources {
  readonly logger: Logger;
  readonly intervalMs: number;
}

/** A change is pushed as a snapshot this soon after it (changes in a burst share one). */
const settleMs = 50;
/** Unsent bytes a client may fall behind by (a laptop asleep with the page open) before it is cut off. */
const maxBacklogBytes = 1 << 20;

export class AdminEventStream {
  readonly #o: AdminEventStreamOptions;
  /** Each client with the check that its login still holds. */
  readonly #clients = new Map<ServerResponse, () => boolean>();
  readonly #unsubscribe: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: AdminEventStreamOptions) {
    this.#o = options;
    this.#unsubscribe.push(
      options.activity.subscribe((activity) => {
        this.#send('activity', JSON.stringify(activity));
        this.#snapshotSoon();
      }),
      options.registry.onChange((event) => {
        const v = event.version;
        this.#send('state', JSON.stringify(event.kind === 'state' ? { app: v.app.name, version: v.version, from: event.from, to: event.to } : { app: v.app.name, version: v.version, from: v.state, to: 'removed' }));
        this.#snapshotSoon();
      }),
    );
  }

  /**
   * Takes over the response as an event stream until the client goes away, `allowed()` turns false
   * (checked before every write), or the stream closes.
   */
  add(res: ServerResponse, allowed: () => boolean): void {
    if (this.#closed) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    this.#clients.set(res, allowed);
    res.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stopTimer();
    });
    void this.#snapshotTo([res]);
    this.#timer ??= setInterval(() => void this.#snapshotTo([...this.#clients.keys()]), this.#o.intervalMs);
  }

  close(): void {
    this.#closed = true;
    for (const off of this.#unsubscribe) off();
    this.#stopTimer();
    for (const res of this.#clients.keys()) res.end();
    this.#clients.clear();
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    this.#timer = undefined;
    this.#soon = undefined;
  }

  #snapshotSoon(): void {
    if (this.#clients.size === 0 || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.#snapshotTo([...this.#clients.keys()]);
    }, settleMs);
  }

  async #snapshotTo(clients: readonly ServerResponse[]): Promise<void> {
    if (clients.length === 0) return;
    try {
      const data = JSON.stringify(await takeSnapshot(this.#o));
      for (const res of clients) this.#write(res, `event: snapshot\ndata: ${data}\n\n`);
    } catch (err) {
      this.#o.logger.error({ err }, 'admin snapshot failed');
    }
  }

  #send(event: string, data: string): void {
    for (const res of this.#clients.keys()) this.#write(res, `event: ${event}\ndata: ${data}\n\n`);
  }

  #write(res: ServerResponse, text: string): void {
    const allowed = this.#clients.get(res);
    if (allowed === undefined) return;
    if (!allowed()) {
      this.#clients.delete(res);
      res.end();
    } else if (res.writableLength > maxBacklogBytes) {
      this.#clients.delete(res);
      res.destroy();
    } else {
      res.write(text);
    }
  }
}
