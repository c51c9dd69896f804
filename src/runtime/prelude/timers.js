// setTimeout/setInterval/queueMicrotask. The host owns the clock: it arms a real timer and calls
// back into the isolate (with the CPU limit) when it fires. The isolate never awaits a host promise.
import { defineGlobal } from './define-global.js';

export function installTimers(g, host) {
  const pending = new Map(); // id -> { fn, args, interval }
  let lastId = 0;

  function schedule(fn, ms, args, interval) {
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be a function (string callbacks are not supported)');
    const delay = Math.max(0, Number(ms) || 0);
    const id = ++lastId;
    pending.set(id, { fn, args, interval: interval ? delay : -1 });
    host.setTimer(id, delay);
    return id;
  }

  function clear(id) {
    const key = Number(id);
    if (pending.delete(key)) host.clearTimer(key);
  }

  defineGlobal(g, 'setTimeout', (fn, ms, ...args) => schedule(fn, ms, args, false));
  defineGlobal(g, 'setInterval', (fn, ms, ...args) => schedule(fn, ms, args, true));
  defineGlobal(g, 'clearTimeout', clear);
  defineGlobal(g, 'clearInterval', clear);
  defineGlobal(g, 'queueMicrotask', (fn) => {
    if (typeof fn !== 'function') throw new TypeError('queueMicrotask expects a function');
    Promise.resolve().then(fn);
  });

  return {
    /** Called by the host when timer `id` is due. */
    fire(id) {
      const timer = pending.get(id);
      if (timer === undefined) return;
      if (timer.interval >= 0) host.setTimer(id, timer.interval);
      else pending.delete(id);
      timer.fn(...timer.args);
    },
  };
}
