// One isolated-vm isolate per deployed version: load the app's module, answer calls, enforce the
// CPU and memory limits, dispose. Calls run on the host's main thread (applySync), measured ~8x
// cheaper per request than isolated-vm's thread pool (see notes/isolated-vm.md), until one holds
// the main thread too long: then the version's calls go to the pool, one at a time, so a slow app
// no longer stalls the others (thread-choice.ts). Every entry carries the CPU limit as its timeout.
import { getRandomValues } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import ivm from 'isolated-vm';
import { ErrorCode, TandemError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { collectIsolateHandlesAtExit } from './exit-collect.ts';
import { linkModuleGraph } from './module-loader.ts';
import type { PreludeScript } from './prelude-script.ts';
import { canPack, packRequest, unpackResponses, type FailureKind, type ResponseSink, type WireRequest } from './wire.ts';
import type { OutboundFetcher } from './outbound-fetcher.ts';
import { RequestTable } from './request-table.ts';
import { ThreadChoice, type Thread } from './thread-choice.ts';

export type BrokenReason = 'cpu-limit' | 'memory-limit';

/**
 * Marks every call into the isolate in shared memory ([0] = slot while inside, [1] = call sequence)
 * so a watchdog on another thread sees a call V8 could not stop (deploy/stuck-isolate-watchdog.ts).
 */
export interface EntryMark {
  readonly cells: Int32Array;
  readonly slot: number;
}

export interface AppIsolateOptions {
  readonly app: string;
  readonly version: string;
  /** The entry module (absolute path). */
  readonly entryFile: string;
  /** Imports may not leave this folder (for a single-file bundle: the file itself). */
  readonly rootDir: string;
  /** What the app gets as `env` (JSON-serialisable). */
  readonly env: Readonly<Record<string, unknown>>;
  readonly memoryLimitMb: number;
  readonly cpuLimitMs: number;
  /** Module load + ready() must finish within this. */
  readonly loadTimeoutMs: number;
  readonly prelude: PreludeScript;
  /** Already tagged with app and version. */
  readonly logger: Logger;
  /** Performs the app's outbound fetch(); null when outbound fetch is off. */
  readonly outbound: OutboundFetcher | null;
  readonly newSessionId: () => string;
  /**
   * The isolate became unusable (CPU or memory limit); it is already disposed when this is called.
   * `unsent` are the requests that never reached the app (after the runaway in its batch, or
   * waiting for the pool): whoever makes a fresh isolate hands them to it, or fails them.
   */
  readonly onBroken: (reason: BrokenReason, message: string, unsent: readonly UnsentRequest[]) => void;
  /** V8 lost control of the isolate: the process cannot continue safely (see notes/isolated-vm.md). */
  readonly onCatastrophic: (message: string) => void;
  /** Set when a watchdog watches this version's calls. */
  readonly entryMark?: EntryMark;
  /** A call holding the main thread longer than this moves the version's calls to the thread pool; 0 = never. */
  readonly offThreadAfterMs?: number;
  /**
   * Serve from the pool from the start (until calm): the fresh isolate of a version whose last one
   * ran past the CPU limit. Requests handed over from the broken one may run away too, one after
   * the other, and each would hold the main thread up to the limit.
   */
  readonly startOffThread?: boolean;
}

/** The host side of a streamed request body. */
export interface BodySource {
  /** The app wants more: resume reading from the client. */
  pull(): void;
  /** The app will read no more. */
  cancel(): void;
}

/** A request that was still waiting to enter an isolate when it broke. */
export interface UnsentRequest {
  readonly request: WireRequest;
  readonly sink: ResponseSink;
}

interface PendingRequest {
  readonly request: WireRequest;
  readonly sink: ResponseSink;
  headSent: boolean;
  /** Where to ask for more of a streamed request body. */
  bodySource: BodySource | undefined;
}

/** A call waiting for the pool (the version runs off the main thread, one call at a time). */
interface QueuedCall {
  readonly fn: ivm.Reference<Function>;
  readonly args: unknown[];
  readonly onResult: ((result: unknown) => void) | undefined;
  /** For a batch of requests: their ids (they have not reached the app while the call waits). */
  readonly ids: readonly number[] | null;
}

interface FinishedResponse {
  readonly sink: ResponseSink;
  readonly status: number;
  readonly statusText: string;
  readonly headers: string;
  readonly body: string | Uint8Array | null;
  readonly delta: string | undefined;
}

const timedOut = 'Script execution timed out.';
const maxBatch = 64;
/** A version off the main thread comes back after this long without a slow call. */
const offThreadCalmMs = 2000;

export class AppIsolate {
  readonly app: string;
  readonly version: string;
  readonly memoryLimitMb: number;
  readonly #options: AppIsolateOptions;
  readonly #isolate: ivm.Isolate;
  readonly #context: ivm.Context;
  readonly #pending = new RequestTable<PendingRequest>();
  readonly #timers = new Map<number, NodeJS.Timeout>();
  readonly #idleWaiters = new Set<() => void>();
  /** Requests waiting for the next isolate call, packed into one string (see handle()). */
  #batch = '';
  #batchSize = 0;
  #batchIds: number[] = [];
  /** The whole request bodies of the batch, referred to by index from #batch. */
  #batchBodies: unknown[] = [];
  #batchScheduled = false;
  /** Complete responses produced during the current isolate call, written when it returns. */
  readonly #outbox: FinishedResponse[] = [];
  readonly #runOptions: { timeout: number };
  /** Main thread until load is done; then by how long calls take. */
  #threads = new ThreadChoice({ slowCallMs: 0, calmMs: 0 });
  /** Calls waiting for the pool, in order; #poolCall is true while one runs there. */
  readonly #queue: QueuedCall[] = [];
  #poolCall = false;
  /** The last heap figures: reading them needs the isolate, which a pool call holds. */
  #lastHeap: { readonly usedBytes: number; readonly limitBytes: number } | null = null;
  /** The prelude's entry points (see prelude/dispatch.js). */
  #calls!: {
    dispatch: ivm.Reference<Function>;
    fireTimer: ivm.Reference<Function>;
    resume: ivm.Reference<Function>;
    cancel: ivm.Reference<Function>;
    settleFetch: ivm.Reference<Function>;
    pushBody: ivm.Reference<Function>;
    endBody: ivm.Reference<Function>;
    install: ivm.Reference<Function>;
    ready: ivm.Reference<Function>;
    rescue: ivm.Reference<Function>;
  };
  #disposed = false;
  #readyResult: ((error: string) => void) | null = null;

  /** Creates the isolate, loads the app and waits for its ready(). Throws TandemError on failure. */
  static async load(options: AppIsolateOptions): Promise<AppIsolate> {
    collectIsolateHandlesAtExit();
    const runtime = new AppIsolate(options);
    try {
      await runtime.#load();
      return runtime;
    } catch (err) {
      runtime.dispose();
      throw err;
    }
  }

  private constructor(options: AppIsolateOptions) {
    this.app = options.app;
    this.version = options.version;
    this.memoryLimitMb = options.memoryLimitMb;
    this.#options = options;
    this.#runOptions = { timeout: Math.max(1, Math.round(options.cpuLimitMs)) };
    this.#isolate = new ivm.Isolate({
      memoryLimit: options.memoryLimitMb,
      onCatastrophicError: (message) => options.onCatastrophic(message),
    });
    this.#context = this.#isolate.createContextSync();
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Where this copy marks its calls for the stuck-isolate watchdog, when one watches it. */
  get entryMark(): EntryMark | undefined {
    return this.#options.entryMark;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Where this version's calls run now. */
  get thread(): Thread {
    return this.#threads.thread;
  }

  /** Sends one request into the isolate. The outcome reaches `sink`. Returns an id for resume()/cancel(). */
  handle(request: WireRequest, sink: ResponseSink, bodySource?: BodySource): number {
    if (this.#disposed) {
      sink.fail('isolate-gone', 'the version was unloaded');
      return 0;
    }
    if (!canPack(request)) {
      sink.fail('bad-request', 'the request holds a NUL character');
      return 0;
    }
    const id = this.#pending.add({ request, sink, headSent: false, bodySource });
    // Bytes cross as an ExternalCopy (copied into the isolate), as an extra argument of the call;
    // the record names it by index. 's' announces a streamed body: its chunks follow through
    // pushBody()/endBody().
    let body = '';
    if (request.body === 'stream') body = 's';
    else if (request.body !== null) body = String(this.#batchBodies.push(new ivm.ExternalCopy(request.body).copyInto({ release: true })) - 1);
    this.#batch += packRequest(id, request, body);
    this.#batchIds.push(id);
    if (++this.#batchSize >= maxBatch) this.#flushBatch();
    else if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      setImmediate(this.#flushBatchAtTurnEnd);
    }
    return id;
  }

  readonly #flushBatchAtTurnEnd = (): void => {
    this.#batchScheduled = false;
    // Off the main thread, requests wait in the batch while a call runs: the next call takes them all.
    if (!this.#poolCall) this.#flushBatch();
  };

  /**
   * Requests that arrived in the same turn of the event loop enter the isolate together, in one
   * call: the per-call cost of entering an isolate (1.3-3.3 µs measured, the timeout's timer under
   * 1 µs of it with isolated-vm 7) is paid once per batch. The CPU limit bounds the whole batch; a
   * runaway request breaks the isolate, failing the requests the app had started and not answered
   * (the ones after it in the batch go to a fresh isolate: #rescue).
   */
  #flushBatch(): void {
    const call = this.#takeBatch();
    if (call !== null) this.#enter(call.fn, call.args, undefined, call.ids);
  }

  #takeBatch(): QueuedCall | null {
    if (this.#batchSize === 0) return null;
    const call = { fn: this.#calls.dispatch, args: [this.#batch, ...this.#batchBodies], onResult: undefined, ids: this.#batchIds };
    this.#batch = '';
    this.#batchSize = 0;
    this.#batchBodies = [];
    this.#batchIds = [];
    return call;
  }

  /** A call about one request: the request must be inside the isolate before anything about it. */
  #enterFor(fn: ivm.Reference<Function>, args: unknown[], onResult?: (result: unknown) => void): unknown {
    if (this.#batchSize > 0) this.#flushBatch();
    return this.#enter(fn, args, onResult);
  }

  /**
   * One chunk of a streamed request body (the request was handled with body 'stream').
   * Returns false when the app's stream is full: pause the source until BodySource.pull().
   * Once nobody reads the body any more (the app answered, cancelled it, or is gone), chunks are
   * dropped here and the answer is true: the client's remaining bytes drain, and its connection
   * stays usable for the next request.
   */
  pushBody(id: number, chunk: Uint8Array): boolean {
    if (this.#pending.get(id)?.bodySource === undefined) return true;
    // Off the main thread the answer comes later: the source pauses, and resumes when the app took the chunk.
    const accepted = this.#enterFor(this.#calls.pushBody, [id, new ivm.ExternalCopy(chunk).copyInto({ release: true })], (result) => {
      if (result === true) this.#pending.get(id)?.bodySource?.pull();
    });
    return accepted === true;
  }

  /** The streamed request body ended; `error` is '' when it ended well. */
  endBody(id: number, error: string): void {
    const request = this.#pending.get(id);
    if (request?.bodySource === undefined) return;
    request.bodySource = undefined;
    this.#enterFor(this.#calls.endBody, [id, error]);
  }

  /** The client is ready for more of a streamed body. */
  resume(id: number): void {
    if (this.#pending.has(id)) this.#enterFor(this.#calls.resume, [id]);
  }

  /** The client went away: stop producing the body and forget the request. */
  cancel(id: number): void {
    if (!this.#pending.has(id)) return;
    this.#finish(id);
    this.#enterFor(this.#calls.cancel, [id]);
  }

  /** Resolves true once no request is in flight, or false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#pending.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#idleWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.#idleWaiters.add(done);
    });
  }

  heap(): { readonly usedBytes: number; readonly limitBytes: number } | null {
    if (this.#disposed) return null;
    // Reading the heap waits for the isolate: while a pool call runs, that would hold the main thread.
    if (!this.#poolCall) this.#readHeap();
    return this.#lastHeap;
  }

  #readHeap(): void {
    try {
      const stats = this.#isolate.getHeapStatisticsSync();
      this.#lastHeap = { usedBytes: stats.used_heap_size + stats.externally_allocated_size, limitBytes: this.memoryLimitMb * 1024 * 1024 };
    } catch {
      this.#lastHeap = null;
    }
  }

  /** Disposes the isolate. Requests still in flight fail with 'isolate-gone'. Safe to call twice. */
  dispose(kind: FailureKind = 'isolate-gone', message = 'the version was unloaded'): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#queue.length = 0;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#options.outbound?.abortAll(this);
    // Release every host handle before the isolate goes (isolated-vm #510, #281): a handle left to
    // the garbage collector can outlive isolated-vm's per-thread state at process exit.
    // The context's `global` is a Reference of its own, not released with the context.
    for (const handle of [...Object.values(this.#calls ?? {}), this.#context.global, this.#context]) {
      try {
        handle?.release();
      } catch {
        // Already invalid: the isolate was disposed by its memory limit.
      }
    }
    if (!this.#isolate.isDisposed) this.#isolate.dispose();
    const pending = this.#pending.drain();
    for (const request of pending) stopReading(request);
    for (const request of pending) {
      if (request.headSent) request.sink.end(message);
      else request.sink.fail(kind, message);
    }
    for (const waiter of [...this.#idleWaiters]) waiter();
  }

  async #load(): Promise<void> {
    const { options } = { options: this.#options };
    const started = performance.now();
    const remaining = (): number => Math.max(1, Math.round(options.loadTimeoutMs - (performance.now() - started)));
    this.#installHost();
    const prelude = options.prelude.compile(this.#isolate);
    prelude.runSync(this.#context, { timeout: remaining(), release: true });
    const api: ivm.Reference = this.#context.global.getSync('__tandem', { reference: true });
    this.#context.global.deleteSync('__tandem');
    const ref = (name: string): ivm.Reference<Function> => api.getSync(name, { reference: true });
    this.#calls = {
      dispatch: ref('dispatch'),
      fireTimer: ref('fireTimer'),
      resume: ref('resume'),
      cancel: ref('cancel'),
      settleFetch: ref('settleFetch'),
      pushBody: ref('pushBody'),
      endBody: ref('endBody'),
      // Used once, at load; kept with the others so dispose() releases them on every failure path.
      install: ref('install'),
      ready: ref('ready'),
      rescue: ref('rescue'),
    };
    api.release();

    const entry = await this.#withTimeout(
      linkModuleGraph(this.#isolate, this.#context, options.entryFile, options.rootDir).catch((err: unknown) => {
        throw new TandemError(ErrorCode.appLoad, `could not load the app's module: ${describeError(err)}`, { app: this.app, version: this.version, cause: err });
      }),
      remaining(),
      'loading the module',
    );
    try {
      await entry.evaluate({ timeout: remaining() });
    } catch (err) {
      throw this.#loadError('the module threw while it was evaluated', err);
    }
    const namespace = entry.namespace;
    let problem: string;
    try {
      problem = this.#calls.install.applySync(undefined, [namespace.derefInto(), JSON.stringify(options.env)], { timeout: remaining() }) as string;
    } finally {
      namespace.release();
    }
    if (problem !== '') throw new TandemError(ErrorCode.appLoad, `not an app: ${problem}`, { app: this.app, version: this.version });

    const readyResult = new Promise<string>((resolve) => {
      this.#readyResult = resolve;
    });
    this.#enter(this.#calls.ready, []);
    if (this.#disposed) throw new TandemError(ErrorCode.appLoad, 'ready() exceeded a limit', { app: this.app, version: this.version });
    const error = await this.#withTimeout(readyResult, remaining(), 'waiting for ready()');
    this.#readyResult = null;
    if (error !== '') throw new TandemError(ErrorCode.appLoad, `ready() failed: ${error}`, { app: this.app, version: this.version });
    // Loading may take long on the main thread (the load timeout bounds it); serving is measured.
    this.#threads = new ThreadChoice({ slowCallMs: options.offThreadAfterMs ?? 0, calmMs: offThreadCalmMs, ...(options.startOffThread === true ? { poolSince: performance.now() } : {}) });
    if (this.#threads.thread === 'pool') this.#readHeap();
  }

  #loadError(what: string, err: unknown): TandemError {
    const message = describeError(err);
    if (message === timedOut) {
      return new TandemError(ErrorCode.appTimeout, `${what}: it ran longer than the load timeout (${this.#options.loadTimeoutMs} ms)`, { app: this.app, version: this.version });
    }
    if (this.#isolate.isDisposed) {
      return new TandemError(ErrorCode.appMemoryLimit, `${what}: it ran out of memory (limit ${this.memoryLimitMb} MB)`, { app: this.app, version: this.version });
    }
    return new TandemError(ErrorCode.appLoad, `${what}: ${message}`, { app: this.app, version: this.version, cause: err });
  }

  async #withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new TandemError(ErrorCode.appTimeout, `${what} took longer than the ${this.#options.loadTimeoutMs} ms load timeout`, { app: this.app, version: this.version }));
      }, ms);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Puts the host's callbacks where the prelude picks them up (it deletes them from the global). */
  #installHost(): void {
    const log = this.#options.logger;
    const callbacks: Record<string, (...args: never[]) => unknown> = {
      log: (level: string, text: string) => {
        const method = level === 'error' || level === 'warn' || level === 'debug' || level === 'trace' ? level : 'info';
        log[method]({ source: 'console' }, text.length > 16_384 ? `${text.slice(0, 16_384)}…` : text);
      },
      now: () => performance.now(),
      randomBytes: (n: number) => getRandomValues(new Uint8Array(Math.min(Math.max(0, n | 0), 65_536))),
      setTimer: (id: number, ms: number) => this.#setTimer(id, ms),
      clearTimer: (id: number) => {
        clearTimeout(this.#timers.get(id));
        this.#timers.delete(id);
      },
      newSessionId: () => this.#options.newSessionId(),
      respond: (id: number, status: number, statusText: string, headers: string, body: string | Uint8Array | null, delta: string | undefined, streaming: boolean) =>
        this.#respond(id, status, statusText, headers, body, delta, streaming),
      respondMany: (packed: string) => unpackResponses(packed, this.#respondText),
      chunk: (id: number, data: Uint8Array | string) => this.#pending.get(id)?.sink.chunk(data) ?? true,
      end: (id: number, error: string) => {
        const request = this.#finish(id);
        request?.sink.end(error);
      },
      fail: (id: number, kind: FailureKind, message: string) => {
        const request = this.#finish(id);
        if (request === undefined) return;
        if (request.headSent) request.sink.end(message);
        else request.sink.fail(kind, message);
      },
      readyResult: (error: string) => this.#readyResult?.(error),
      bodyPull: (id: number) => {
        this.#pending.get(id)?.bodySource?.pull();
      },
      bodyCancel: (id: number) => {
        const request = this.#pending.get(id);
        if (request !== undefined) stopReading(request);
      },
      fetchStart: (id: number, method: string, url: string, headers: string, body: Uint8Array | null, redirect: string) =>
        this.#options.outbound?.start(this, { id, method, url, headers, body, redirect }, (result) => {
          if (this.#disposed) return;
          const body = result.body === null ? null : new ivm.ExternalCopy(result.body).copyInto({ release: true });
          this.#enter(this.#calls.settleFetch, [id, result.error, result.status, result.statusText, result.headers, body, result.url]);
        }),
      fetchAbort: (id: number) => this.#options.outbound?.abort(this, id),
    };
    const names = Object.keys(callbacks);
    const source = `globalThis.__tandemHost = { ${names.map((n, i) => `${n}: $${i}`).join(', ')}, outboundFetch: ${this.#options.outbound !== null} };`;
    this.#context.evalClosureSync(source, names.map((n) => new ivm.Callback(callbacks[n]!)));
  }

  #setTimer(id: number, ms: number): void {
    clearTimeout(this.#timers.get(id));
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      this.#enter(this.#calls.fireTimer, [id]);
    }, ms);
    this.#timers.set(id, timer);
  }

  #respond(id: number, status: number, statusText: string, headers: string, body: string | Uint8Array | null, delta: string | undefined, streaming: boolean): void {
    const request = this.#pending.get(id);
    if (request === undefined) return;
    request.headSent = true;
    if (streaming) {
      request.sink.head(status, statusText, headers, body, delta, true);
      return;
    }
    this.#finish(id);
    // Written once the isolate call returns: doing socket writes from inside an isolate callback
    // measured ~3x slower per write than doing them from plain host code.
    this.#outbox.push({ sink: request.sink, status, statusText, headers, body, delta });
  }

  readonly #respondText = (id: number, status: number, statusText: string, headers: string, body: string | null, delta: string | undefined): void =>
    this.#respond(id, status, statusText, headers, body, delta, false);

  #flushOutbox(): void {
    const outbox = this.#outbox;
    for (let i = 0; i < outbox.length; i++) {
      const r = outbox[i]!;
      r.sink.head(r.status, r.statusText, r.headers, r.body, r.delta, false);
    }
    outbox.length = 0;
  }

  #finish(id: number): PendingRequest | undefined {
    const request = this.#pending.delete(id);
    if (request === undefined) return undefined;
    stopReading(request);
    if (this.#pending.size === 0 && this.#idleWaiters.size > 0) for (const waiter of [...this.#idleWaiters]) waiter();
    return request;
  }

  /**
   * Every entry into the isolate goes through here, with the CPU limit as its timeout. On the main
   * thread it returns the call's result. Off it, the call waits its turn, the result goes to
   * `onResult`, and undefined is returned.
   */
  #enter(fn: ivm.Reference<Function>, args: unknown[], onResult?: (result: unknown) => void, ids: readonly number[] | null = null): unknown {
    if (this.#disposed) return undefined;
    if (this.#threads.thread === 'pool' && !this.#poolCall && this.#queue.length === 0 && this.#threads.settle(performance.now())) {
      this.#options.logger.info({ calmMs: offThreadCalmMs }, 'version back on the main thread');
    }
    if (this.#threads.thread === 'pool' || this.#poolCall) {
      this.#queue.push({ fn, args, onResult, ids });
      if (!this.#poolCall) this.#runQueued();
      return undefined;
    }
    let result: unknown;
    const mark = this.#options.entryMark;
    let outer = 0;
    if (mark !== undefined) {
      outer = mark.cells[0]!;
      mark.cells[0] = mark.slot;
      mark.cells[1]!++;
    }
    const started = performance.now();
    const cpuStarted = process.threadCpuUsage();
    try {
      result = fn.applySync(undefined, args, this.#runOptions);
    } catch (err) {
      this.#afterThrow(err, ids);
    }
    const ended = performance.now();
    if (mark !== undefined) mark.cells[0] = outer;
    if (this.#outbox.length > 0) this.#flushOutbox();
    if (ended - started > this.#threads.slowCallMs) this.#slowOnMain(cpuStarted, ended);
    return result;
  }

  /**
   * A call took long by the clock. It moves the version only if the main thread spent that long
   * computing: a call that was long because another process had the core would be as long on the pool.
   */
  #slowOnMain(cpuStarted: NodeJS.CpuUsage, now: number): void {
    const cpu = process.threadCpuUsage(cpuStarted);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (this.#threads.record(cpuMs, now) && !this.#disposed) {
      this.#readHeap();
      this.#options.logger.info({ cpuMs: Math.round(cpuMs), limitMs: this.#threads.slowCallMs }, 'version moved off the main thread: a call held it too long');
    }
  }

  /** Starts the next call on the pool; requests that arrived meanwhile go in one batch. */
  #runQueued(): void {
    if (this.#queue.length === 0) {
      const batch = this.#takeBatch();
      if (batch !== null) this.#queue.push(batch);
    }
    const call = this.#queue.shift();
    if (call === undefined || this.#disposed) return;
    this.#poolCall = true;
    // The clock, hops and callbacks to the host included: a call that waits on the host (each
    // performance.now() is one) is slow too. isolated-vm's cpuTime leaves those waits out.
    const started = performance.now();
    call.fn.apply(undefined, call.args, this.#runOptions).then(
      (result: unknown) => this.#afterPoolCall(call, started, result, null),
      (err: unknown) => this.#afterPoolCall(call, started, undefined, { err }),
    );
  }

  #afterPoolCall(call: QueuedCall, started: number, result: unknown, failure: { err: unknown } | null): void {
    this.#poolCall = false;
    if (this.#disposed) return; // dispose() already failed what was in flight
    const ended = performance.now();
    this.#threads.record(ended - started, ended);
    if (failure !== null) this.#afterThrow(failure.err, call.ids);
    else if (this.#queue.length === 0) this.#readHeap(); // for heap() while the next call runs
    if (this.#outbox.length > 0) this.#flushOutbox();
    if (failure === null) call.onResult?.(result);
    if (!this.#disposed) this.#runQueued();
  }

  /**
   * A call ran past the CPU limit; the isolate survives a timeout, so one short call asks it what
   * it still holds. Requests of the batch that finished before the runaway have their responses in
   * the outbox, not yet handed over: they are written like any others. Requests of the batch that
   * come after the runaway never reached the app: their ids are returned, for a fresh isolate.
   */
  #rescue(ids: readonly number[] | null): readonly number[] {
    try {
      const answer: unknown = this.#calls.rescue.applySync(undefined, [], { timeout: 50 });
      if (typeof answer !== 'string') return [];
      const cut = answer.indexOf('\0');
      const reached = Number(answer.slice(0, cut));
      if (cut + 1 < answer.length) unpackResponses(answer.slice(cut + 1), this.#respondText);
      return ids === null || !(reached >= 0) ? [] : ids.slice(reached);
    } catch (err) {
      this.#options.logger.warn({ err: describeError(err) }, 'could not take the finished responses out of an isolate past its CPU limit');
      return [];
    }
  }

  /**
   * A limit breaks the isolate: dispose() fails what is in flight, the running request with it.
   * `ids` are the requests of the call that was running, when it was a batch.
   */
  #afterThrow(err: unknown, ids: readonly number[] | null): void {
    const message = describeError(err);
    let reason: BrokenReason;
    if (this.#isolate.isDisposed) reason = 'memory-limit';
    else if (message === timedOut) reason = 'cpu-limit';
    else {
      // Not a limit: an app's stray unhandled rejection surfaces as the error of whatever call was
      // running (isolated-vm #273). The request it interrupted, if any, continues on its own.
      this.#options.logger.error({ err: message }, 'unhandled error in app');
      return;
    }
    const detail = reason === 'cpu-limit'
      ? `a request ran past the ${this.#options.cpuLimitMs} ms CPU limit`
      : `the isolate ran past its ${this.memoryLimitMb} MB memory limit`;
    const unstarted = reason === 'cpu-limit' ? this.#rescue(ids) : [];
    const unsent = this.#takeUnsent(unstarted);
    this.dispose(reason, detail);
    this.#options.onBroken(reason, detail, unsent);
  }

  /**
   * The requests that never reached the app when the isolate broke (`unstarted` of the batch that
   * ran away, those still waiting for the pool) are taken out of this isolate, not failed with it,
   * for a fresh one. A streamed body is not among them: its bytes were read from the client and
   * cannot be read again.
   */
  #takeUnsent(unstarted: readonly number[]): UnsentRequest[] {
    const unsent: UnsentRequest[] = [];
    const take = (ids: readonly number[] | null): void => {
      for (const id of ids ?? []) {
        const pending = this.#pending.get(id);
        if (pending === undefined || pending.request.body === 'stream') continue;
        this.#pending.delete(id);
        unsent.push({ request: pending.request, sink: pending.sink });
      }
    };
    take(unstarted);
    for (const call of this.#queue) take(call.ids);
    take(this.#batchIds);
    this.#batchIds = [];
    return unsent;
  }
}

/** The request ended before its body did: let the rest of the body drain, nobody will read it. */
function stopReading(request: PendingRequest): void {
  const source = request.bodySource;
  request.bodySource = undefined;
  source?.cancel();
}
