// Entry of the prelude bundle: evaluated once in every app isolate, before the app's module.
// The host puts its callbacks on `globalThis.__tandemHost`; this script takes them away from the
// global scope (the app must not reach them directly), installs the web platform, and leaves
// `globalThis.__tandem` (the dispatcher) for the host to pick up and delete.
import { installWebGlobals } from './web/index.js';
import { installConsole } from './console.js';
import { installTimers } from './timers.js';
import { installCrypto } from './crypto.js';
import { installOutboundFetch } from './outbound-fetch.js';
import { createDispatcher } from './dispatch.js';

const g = globalThis;
const host = g.__tandemHost;
delete g.__tandemHost;

installWebGlobals(g, { now: () => host.now() });
installConsole(g, host);
const timers = installTimers(g, host);
installCrypto(g, host);
const outbound = installOutboundFetch(g, host);

Object.defineProperty(g, '__tandem', {
  value: createDispatcher(host, timers, outbound),
  configurable: true,
  enumerable: false,
  writable: false,
});
