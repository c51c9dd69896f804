// The exit collection borrows V8's gc() without --expose-gc; apps must not get it too.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import ivm from 'isolated-vm';
import { collectIsolateHandlesAtExit } from '../../src/runtime/exit-collect.ts';

it('installs the exit collection without giving gc() to app isolates, the host or later contexts', (t) => {
  const exitListeners = process.listenerCount('exit');
  collectIsolateHandlesAtExit();
  collectIsolateHandlesAtExit();
  assert.equal(process.listenerCount('exit'), exitListeners + 1, 'installed once, however often it is asked');
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  t.after(() => isolate.dispose());
  const context = isolate.createContextSync();
  assert.equal(context.evalSync('typeof gc'), 'undefined');
  context.release();
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  assert.equal(vm.runInNewContext('typeof gc'), 'undefined');
});
