// Event and EventTarget (DOM Standard), without trees: every dispatch is at the target.

import { DOMException } from './dom-exception.js';

const NONE = 0;
const AT_TARGET = 2;

/** Reports an exception thrown by a listener without interrupting dispatch (DOM "report an exception"). */
export function reportListenerError(err) {
  const report = globalThis.reportError;
  if (typeof report === 'function') report(err);
  else globalThis.console?.error?.(err);
}

let eventInternals; // assigned once by Event's static block: module-private access to Event's state

export class Event {
  #type;
  #bubbles;
  #cancelable;
  #composed;
  #timeStamp;
  #canceled = false;
  #stopPropagation = false;
  #stopImmediate = false;
  #inPassiveListener = false;
  #dispatching = false;
  #target = null;
  #currentTarget = null;
  #phase = NONE;

  constructor(type, eventInitDict = undefined) {
    if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
    this.#type = String(type);
    const init = eventInitDict ?? {};
    this.#bubbles = !!init.bubbles;
    this.#cancelable = !!init.cancelable;
    this.#composed = !!init.composed;
    this.#timeStamp = typeof globalThis.performance?.now === 'function' ? globalThis.performance.now() : 0;
    Object.defineProperty(this, 'isTrusted', { value: false, enumerable: true });
  }

  get type() { return this.#type; }
  get target() { return this.#target; }
  get srcElement() { return this.#target; }
  get currentTarget() { return this.#currentTarget; }
  get eventPhase() { return this.#phase; }
  get bubbles() { return this.#bubbles; }
  get cancelable() { return this.#cancelable; }
  get composed() { return this.#composed; }
  get defaultPrevented() { return this.#canceled; }
  get timeStamp() { return this.#timeStamp; }
  get returnValue() { return !this.#canceled; }
  set returnValue(value) { if (!value) this.preventDefault(); }
  get cancelBubble() { return this.#stopPropagation; }
  set cancelBubble(value) { if (value) this.#stopPropagation = true; }

  composedPath() {
    return this.#dispatching && this.#currentTarget !== null ? [this.#currentTarget] : [];
  }

  preventDefault() {
    if (this.#cancelable && !this.#inPassiveListener) this.#canceled = true;
  }

  stopPropagation() {
    this.#stopPropagation = true;
  }

  stopImmediatePropagation() {
    this.#stopPropagation = true;
    this.#stopImmediate = true;
  }

  initEvent(type, bubbles = false, cancelable = false) {
    if (this.#dispatching) return;
    this.#type = String(type);
    this.#bubbles = !!bubbles;
    this.#cancelable = !!cancelable;
    this.#canceled = this.#stopPropagation = this.#stopImmediate = false;
    this.#target = null;
  }

  static {
    eventInternals = {
      begin(event, target) {
        if (event.#dispatching) throw new DOMException('The event is already being dispatched.', 'InvalidStateError');
        event.#dispatching = true;
        event.#target = target;
        event.#currentTarget = target;
        event.#phase = AT_TARGET;
      },
      end(event) {
        event.#dispatching = false;
        event.#currentTarget = null;
        event.#phase = NONE;
        event.#stopPropagation = false;
        event.#stopImmediate = false;
      },
      stoppedImmediately: (event) => event.#stopImmediate,
      setPassive(event, passive) { event.#inPassiveListener = passive; },
    };
  }
}

const eventConstants = { NONE: 0, CAPTURING_PHASE: 1, AT_TARGET: 2, BUBBLING_PHASE: 3 };
for (const [name, value] of Object.entries(eventConstants)) {
  Object.defineProperty(Event, name, { value, enumerable: true });
  Object.defineProperty(Event.prototype, name, { value, enumerable: true });
}
Object.defineProperty(Event.prototype, Symbol.toStringTag, { value: 'Event', configurable: true });

function flattenOptions(options) {
  if (typeof options === 'boolean') return { capture: options, once: false, passive: false, signal: undefined };
  if (options === null || typeof options !== 'object') return { capture: false, once: false, passive: false, signal: undefined };
  return { capture: !!options.capture, once: !!options.once, passive: !!options.passive, signal: options.signal };
}

export class EventTarget {
  #listeners = null; // Map<type, Array<listener record>>

  addEventListener(type, callback, options = undefined) {
    if (arguments.length < 2) throw new TypeError("Failed to execute 'addEventListener': 2 arguments required.");
    if (callback === null || callback === undefined) return;
    if (typeof callback !== 'function' && typeof callback !== 'object') {
      throw new TypeError("Failed to execute 'addEventListener': the callback provided as parameter 2 is not an object.");
    }
    const { capture, once, passive, signal } = flattenOptions(options);
    if (signal !== undefined && signal.aborted) return;
    const key = String(type);
    this.#listeners ??= new Map();
    let list = this.#listeners.get(key);
    if (list === undefined) this.#listeners.set(key, (list = []));
    for (const l of list) if (l.callback === callback && l.capture === capture) return;
    const record = { callback, capture, once, passive, removed: false };
    list.push(record);
    if (signal !== undefined) {
      signal.addEventListener('abort', () => this.#remove(key, record));
    }
  }

  removeEventListener(type, callback, options = undefined) {
    const list = this.#listeners?.get(String(type));
    if (list === undefined) return;
    const capture = typeof options === 'boolean' ? options : !!options?.capture;
    for (const l of list) {
      if (l.callback === callback && l.capture === capture) return this.#remove(String(type), l);
    }
  }

  dispatchEvent(event) {
    if (!(event instanceof Event)) {
      throw new TypeError("Failed to execute 'dispatchEvent': parameter 1 is not of type 'Event'.");
    }
    eventInternals.begin(event, this);
    try {
      const list = this.#listeners?.get(event.type);
      if (list !== undefined) {
        for (const l of list.slice()) {
          if (l.removed) continue;
          if (eventInternals.stoppedImmediately(event)) break;
          if (l.once) this.#remove(event.type, l);
          if (l.passive) eventInternals.setPassive(event, true);
          try {
            if (typeof l.callback === 'function') l.callback.call(this, event);
            else l.callback.handleEvent(event);
          } catch (err) {
            reportListenerError(err);
          }
          eventInternals.setPassive(event, false);
        }
      }
    } finally {
      eventInternals.end(event);
    }
    return !event.defaultPrevented;
  }

  #remove(type, record) {
    record.removed = true;
    const list = this.#listeners?.get(type);
    if (list === undefined) return;
    const i = list.indexOf(record);
    if (i !== -1) list.splice(i, 1);
  }
}

Object.defineProperty(EventTarget.prototype, Symbol.toStringTag, { value: 'EventTarget', configurable: true });
