// console.* inside an isolate lands in the host's pino log, tagged with app and version.
import { defineGlobal } from './define-global.js';

const levels = { log: 'info', info: 'info', debug: 'debug', trace: 'trace', warn: 'warn', error: 'error', dir: 'info' };

export function installConsole(g, host) {
  const counts = new Map();
  const timers = new Map();
  const out = (level, args) => host.log(level, args.map((a) => (typeof a === 'string' ? a : inspect(a, 0, new Set()))).join(' '));
  const console = {};
  for (const [method, level] of Object.entries(levels)) console[method] = (...args) => out(level, args);
  console.assert = (cond, ...args) => { if (!cond) out('error', ['Assertion failed:', ...args]); };
  console.count = (label = 'default') => { const n = (counts.get(label) ?? 0) + 1; counts.set(label, n); out('info', [`${label}: ${n}`]); };
  console.countReset = (label = 'default') => { counts.delete(label); };
  console.time = (label = 'default') => { timers.set(label, g.performance.now()); };
  console.timeEnd = (label = 'default') => {
    const start = timers.get(label);
    timers.delete(label);
    if (start !== undefined) out('info', [`${label}: ${(g.performance.now() - start).toFixed(3)}ms`]);
  };
  console.table = (data) => out('info', [data]);
  console.group = console.groupCollapsed = (...args) => { if (args.length) out('info', args); };
  console.groupEnd = () => {};
  defineGlobal(g, 'console', console);
}

function inspect(value, depth, seen) {
  if (value === null || value === undefined) return String(value);
  switch (typeof value) {
    case 'string': return depth === 0 ? value : JSON.stringify(value);
    case 'number': case 'boolean': case 'symbol': return String(value);
    case 'bigint': return `${value}n`;
    case 'function': return `[Function ${value.name || '(anonymous)'}]`;
  }
  if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`;
  if (seen.has(value)) return '[Circular]';
  if (depth > 3) return Array.isArray(value) ? '[Array]' : '[Object]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[ ${value.map((v) => inspect(v, depth + 1, seen)).join(', ')} ]`;
    if (value instanceof Map) return `Map(${value.size}) { ${[...value].map(([k, v]) => `${inspect(k, depth + 1, seen)} => ${inspect(v, depth + 1, seen)}`).join(', ')} }`;
    if (value instanceof Set) return `Set(${value.size}) { ${[...value].map((v) => inspect(v, depth + 1, seen)).join(', ')} }`;
    if (value instanceof Date) return value.toISOString();
    if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.length ?? value.byteLength})`;
    const entries = Object.entries(value).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${inspect(v, depth + 1, seen)}`);
    const name = value.constructor && value.constructor !== Object ? `${value.constructor.name} ` : '';
    return `${name}{ ${entries.join(', ')} }`;
  } finally {
    seen.delete(value);
  }
}
