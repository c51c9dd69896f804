// AbortController and AbortSignal (DOM Standard), including AbortSignal.timeout() and AbortSignal.any().

import { DOMException } from './dom-exception.js';
import { Event, EventTarget, reportListenerError } from './events.js';

const kCreate = Symbol('create AbortSignal');
// Captured now: an app that replaces WeakRef must not change what a signal keeps.
const WeakRefClass = WeakRef;
/** A signal's dependents are first looked over for collected ones at this many. */
const minPrune = 64;
let signalAbort; // assigned once by AbortSignal's static block
let followSignals;

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  #onabort = null;
  #handlerInstalled = false;
  #composite = false;
  #sources = null; // Set<AbortSignal>: the simple signals a composite follows
  // The composites following this one: each as a WeakRef (the DOM Standard lets a composite nobody
  // can observe be collected: otherwise every AbortSignal.any() of a long-lived signal, and every
  // Request made with it, stayed in memory until it aborted), or the composite itself once it has
  // an abort listener. Emptied WeakRefs are dropped when the set has doubled since the last look.
  #dependents = null;
  #pruneAt = minPrune;
  #ref = null; // this composite's WeakRef in its sources' #dependents

  constructor(key = undefined) {
    if (key !== kCreate) throw new TypeError('Illegal constructor: use new AbortController().signal or AbortSignal.abort()');
    super();
  }

  get aborted() { return this.#aborted; }
  get reason() { return this.#reason; }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }

  addEventListener(type, listener, options = undefined) {
    super.addEventListener(type, listener, options);
    // A composite with an abort listener must outlive its last reference: its sources keep it.
    if (this.#ref !== null && String(type) === 'abort' && listener !== null && listener !== undefined) {
      for (const source of this.#sources) {
        source.#dependents?.delete(this.#ref);
        source.#dependents?.add(this);
      }
      this.#ref = null;
    }
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
        for (const entry of signal.#dependents) {
          const dep = entry instanceof AbortSignal ? entry : entry.deref();
          if (dep === undefined || dep.#aborted) continue;
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
      result.#ref = new WeakRefClass(result);
      for (const s of list) {
        const simple = s.#composite ? s.#sources : [s];
        for (const source of simple) {
          if (source.#aborted) continue;
          result.#sources.add(source);
          source.#addDependent(result.#ref);
        }
      }
      return result;
    };
  }

  #addDependent(ref) {
    const dependents = (this.#dependents ??= new Set());
    dependents.add(ref);
    if (dependents.size < this.#pruneAt) return;
    for (const entry of dependents) if (!(entry instanceof AbortSignal) && entry.deref() === undefined) dependents.delete(entry);
    this.#pruneAt = Math.max(minPrune, 2 * dependents.size);
  }

  #fireAbort() {
    // A composite that has aborted no longer needs its sources to keep it alive.
    if (this.#sources !== null) {
      for (const source of this.#sources) {
        source.#dependents?.delete(this);
        if (this.#ref !== null) source.#dependents?.delete(this.#ref);
      }
      this.#sources = null;
      this.#ref = null;
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
