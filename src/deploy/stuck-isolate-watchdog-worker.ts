// The watchdog's own thread (see stuck-isolate-watchdog.ts). It runs while the main thread is stuck
// inside an isolate, so everything here is synchronous and self-contained: quarantine the bundle,
// write one fatal log line straight to stdout (pino's format), abort the process.
import { writeSync } from 'node:fs';
import { workerData, parentPort } from 'node:worker_threads';
import { addQuarantineEntrySync } from './quarantine.ts';
import type { WatchdogMessage, WatchedVersion } from './stuck-isolate-watchdog.ts';

interface WatchdogData {
  readonly cells: Int32Array;
  readonly quarantineFile: string;
  readonly graceMs: number;
  readonly sampleMs: number;
  readonly pid: number;
}

const data = workerData as WatchdogData;
const watched = new Map<number, WatchedVersion>();
let lastSequence = -1;
let callSeenAt = 0;

parentPort!.on('message', (message: WatchdogMessage) => {
  if (message.kind === 'watch') watched.set(message.slot, message.version);
  else watched.delete(message.slot);
});

setInterval(() => {
  const slot = Atomics.load(data.cells, 0);
  const sequence = Atomics.load(data.cells, 1);
  const now = performance.now(); // monotonic: a clock step (NTP, VM resume) must not look like a stuck call
  if (slot === 0 || sequence !== lastSequence) {
    lastSequence = sequence;
    callSeenAt = now;
    return;
  }
  const version = watched.get(slot);
  if (version === undefined) return;
  const stuckMs = now - callSeenAt;
  // callSeenAt is when this call was first sampled: up to sampleMs after it began.
  if (stuckMs + data.sampleMs <= version.timeoutMs + data.graceMs) return;
  giveUp(version, stuckMs);
}, data.sampleMs);

function giveUp(version: WatchedVersion, stuckMs: number): void {
  let quarantined = true;
  try {
    addQuarantineEntrySync(data.quarantineFile, version.source, version.fingerprint);
  } catch {
    quarantined = false;
  }
  const line = {
    level: 60,
    time: new Date().toISOString(),
    pid: data.pid,
    app: version.app,
    version: version.version,
    source: version.source,
    stuckMs,
    timeoutMs: version.timeoutMs,
    quarantined,
    quarantineFile: data.quarantineFile,
    err: 'an isolate call ran past its timeout and V8 could not stop it',
    msg: 'isolate lost control, host restarting',
  };
  try {
    writeSync(1, `${JSON.stringify(line)}\n`);
  } finally {
    // process.abort() inside a worker does not end the process; the signal does.
    process.kill(data.pid, 'SIGABRT');
  }
}
