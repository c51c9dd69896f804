// Which thread a version's calls run on. On the host's main thread a call costs ~7 µs but holds
// the event loop, and every other app and version waits for it. On isolated-vm's thread pool a call
// leaves the event loop free and can use another core, but each one costs ~100 µs of latency
// (a thread hop each way) and more for each callback to the host during it (measured in
// notes/isolated-vm.md and test/runtime/off-thread.test.ts).
//
// So a version starts on the main thread, moves to the pool as soon as one call holds the main
// thread longer than `slowCallMs`, and comes back once `calmMs` passed without such a call.
// One slow call is enough: waiting for a second one would hold every other app up again.
// The caller says how long a call took: on the main thread, the CPU time that thread spent (a call
// that was long because another process had the core would be as long on the pool); on the pool,
// the clock, callbacks to the host included (an app calling performance.now() in a loop waits on
// the host for each, and isolated-vm's own cpuTime leaves those waits out: measured flapping back
// to the main thread every 2 s with a 20 ms call each time).

export type Thread = 'main' | 'pool';

export interface ThreadChoiceOptions {
  /** A call longer than this moves the version to the pool; 0 = never move. */
  readonly slowCallMs: number;
  /** Back on the main thread after this long without a slow call. */
  readonly calmMs: number;
  /** Start on the pool, as if a slow call had ended at this time (a fresh isolate for a version that just ran away). */
  readonly poolSince?: number;
}

export class ThreadChoice {
  readonly #slowCallMs: number;
  readonly #calmMs: number;
  #thread: Thread = 'main';
  #lastSlowAt = 0;

  constructor(options: ThreadChoiceOptions) {
    this.#slowCallMs = options.slowCallMs;
    this.#calmMs = options.calmMs;
    if (options.poolSince !== undefined && options.slowCallMs > 0) {
      this.#thread = 'pool';
      this.#lastSlowAt = options.poolSince;
    }
  }

  /** Calls longer than this (ms) are slow; 0 = none is. */
  get slowCallMs(): number {
    return this.#slowCallMs === 0 ? Infinity : this.#slowCallMs;
  }

  get thread(): Thread {
    return this.#thread;
  }

  /** Reports how long one call took (ms, wall clock). True when this call moved the version to the pool. */
  record(ms: number, now: number): boolean {
    if (this.#slowCallMs === 0 || ms <= this.#slowCallMs) return false;
    this.#lastSlowAt = now;
    if (this.#thread === 'pool') return false;
    this.#thread = 'pool';
    return true;
  }

  /** Asked when no call is running or waiting. True when the version moved back to the main thread. */
  settle(now: number): boolean {
    if (this.#thread === 'main' || now - this.#lastSlowAt < this.#calmMs) return false;
    this.#thread = 'main';
    return true;
  }
}
