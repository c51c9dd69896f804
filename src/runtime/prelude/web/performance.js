// performance.now() and performance.timeOrigin from the host's high-resolution clock.

export function createPerformance(host) {
  if (typeof host?.now !== 'function') throw new TypeError('installWebGlobals: host.now() is required for performance.now()');
  const start = host.now();
  const timeOrigin = Date.now();
  const performance = {
    now: () => host.now() - start,
    timeOrigin,
    toJSON: () => ({ timeOrigin }),
  };
  Object.defineProperty(performance, Symbol.toStringTag, { value: 'Performance', configurable: true });
  return performance;
}
