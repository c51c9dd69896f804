// AbortController and AbortSignal (DOM Standard), including AbortSignal.timeout() and AbortSignal.any().

import { DOMException } from './dom-exception.js';
import { Event, EventTarget, reportListenerError } from './events.js';

const kCreate = Symbol('create AbortSignal');
let signalAbort; // assigned once by AbortSignal's static block
let followSignals;

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  #onabort = null;
  #handlerInstalled = false;
  #composite = false;
  #sources = null; // Set<AbortSignal>: the simple signals a composite follows
  #dependents = null; // Set<AbortSignal>: composites following this one

  constructor(key = undefined) {
    if (key !== kCreate) throw new TypeError('Illegal constructor: use new AbortController().signal or AbortSignal.abort()');
    super();
  }

  get aborted() { return this.#aborted; }
  get reason() { return this.#reason; }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }

  get onabort() { return this.#onabort; }
  set onabort(handler) {
    this.#onabort = typeof handler === 'function' || (handler !== null && typeof handler === 'object') ? handler : null;
    if (this.#onabort !== null && !this.#handlerInstalled) {
      this.#handlerInstalled = true;
      this.addEventListener('abort', (event) => {
        const current = this.#onabort;
        if (typeof current === 'function') current.call(this, event);
      });
    }
  }

  static abort(reason = undefined) {
    const signal = new AbortSignal(kCreate);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    return signal;
  }

  static timeout(milliseconds) {
    const ms = Number(milliseconds);
    if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
      throw new TypeError(`AbortSignal.timeout: ${String(milliseconds)} is not a valid number of milliseconds`);
    }
    const setTimer = globalThis.setTimeout;
    if (typeof setTimer !== 'function') {
      throw new TypeError('AbortSignal.timeout needs setTimeout, which is not installed in this isolate');
    }
    const signal = new AbortSignal(kCreate);
    setTimer(() => signalAbort(signal, new DOMException('The operation timed out.', 'TimeoutError')), Math.trunc(ms));
    return signal;
  }

  static any(signals) {
    const list = [...signals];
    for (const s of list) {
      if (!(s instanceof AbortSignal)) throw new TypeError("AbortSignal.any: every member must be an AbortSignal");
    }
    return followSignals(list);
  }

  static {
    signalAbort = (signal, reason) => {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
      const dependents = [];
      if (signal.#dependents !== null) {
        for (const dep of signal.#dependents) {
          if (dep.#aborted) continue;
          dep.#aborted = true;
          dep.#reason = signal.#reason;
          dependents.push(dep);
        }
        signal.#dependents = null;
      }
      signal.#fireAbort();
      for (const dep of dependents) dep.#fireAbort();
    };

    followSignals = (list) => {
      const result = new AbortSignal(kCreate);
      for (const s of list) {
        if (s.#aborted) {
          result.#aborted = true;
          result.#reason = s.#reason;
          return result;
        }
      }
      result.#composite = true;
      result.#sources = new Set();
      for (const s of list) {
        const simple = s.#composite ? s.#sources : [s];
        for (const source of simple) {
          if (source.#aborted) continue;
          result.#sources.add(source);
          (source.#dependents ??= new Set()).add(result);
        }
      }
      return result;
    };
  }

  #fireAbort() {
    // A composite that has aborted no longer needs its sources to keep it alive.
    if (this.#sources !== null) {
      for (const source of this.#sources) source.#dependents?.delete(this);
      this.#sources = null;
    }
    try {
      this.dispatchEvent(new Event('abort'));
    } catch (err) {
      reportListenerError(err);
    }
  }
}

Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, { value: 'AbortSignal', configurable: true });

export class AbortController {
  #signal = new AbortSignal(kCreate);

  get signal() { return this.#signal; }

  abort(reason = undefined) {
    signalAbort(this.#signal, reason);
  }
}

Object.defineProperty(AbortController.prototype, Symbol.toStringTag, { value: 'AbortController', configurable: true });

/** A signal that aborts when `signal` does (for Request.signal, which must be its own object). */
export function followingSignal(signal) {
  return followSignals([signal]);
}
