// The session journal's writer thread (see journal-writer.ts). It runs on its own, whatever the
// main thread does: every few milliseconds (or when woken) it takes what the ring holds, handles
// each complete line in order (a record: checksum and write; a command: sync, compaction's files,
// close), then publishes how far it got. Everything here is synchronous and self-contained.
import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { lineChecksum } from './journal-codec.ts';
import { checksumBytes, command, consumedCell, damageCell, doneCell, producedCell, wakeCell, type WriterData, type WriterReport } from './journal-writer.ts';

const data = workerData as WriterData;
const ring = Buffer.from(data.ring);
const ringBytes = ring.length;
/** Looks at the ring this often while records come in, and up to idlePollMs apart when none do. */
const busyPollMs = 5;
const idlePollMs = 50;

let gen = data.gen;
let fd = -1;
let unsynced = false;
let closed = false;
/** An open snapshot-<gen>.tmp while a compaction streams in; records go there until its end. */
let snapshot: { fd: number; gen: number; failed: boolean } | null = null;
/** The start of a line whose end is not in the ring yet. */
let carry: Buffer = Buffer.alloc(0);
let consumed = Number(Atomics.load(data.positions, consumedCell));

function report(what: string, err: unknown): void {
  const message: WriterReport = { kind: 'failed', what, err: (err as Error).message };
  parentPort!.postMessage(message);
}

/** Takes what the ring holds; returns the bytes taken. */
function take(): Buffer | null {
  const produced = Number(Atomics.load(data.positions, producedCell));
  if (produced === consumed) return null;
  const at = consumed % ringBytes;
  const n = produced - consumed;
  const first = Math.min(n, ringBytes - at);
  // Copied out, so the space is free again at once.
  const out = Buffer.allocUnsafe(carry.length + n);
  carry.copy(out, 0);
  ring.copy(out, carry.length, at, at + first);
  if (first < n) ring.copy(out, carry.length + first, 0, n - first);
  consumed = produced;
  Atomics.store(data.positions, consumedCell, BigInt(consumed));
  return out;
}

/** Handles every complete line of `bytes`; keeps the incomplete rest for the next look. */
function handle(bytes: Buffer): void {
  // Records go out as `<checksum> <json>\n`, many to a write(), built in one buffer (room for
  // the checksums of records of 36 bytes and more; a write makes room when shorter ones fill it).
  let out = Buffer.allocUnsafe(bytes.length + (bytes.length >>> 2) + 64);
  let used = 0;
  let recordTarget = -1;
  const writeRecords = (): void => {
    syncPassiveFiles();
    if (used === 0) return;
    const n = used;
    used = 0;
    if (snapshot !== null && snapshot.failed) return;
    try {
      writeAll(recordTarget, out.subarray(0, n));
      if (recordTarget === fd) unsynced = true;
    } catch (err) {
      if (snapshot !== null && recordTarget === snapshot.fd) failSnapshot();
      Atomics.add(data.flags, damageCell, 1);
      report(snapshot !== null ? 'snapshot' : 'append', err);
    }
  };
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(10, start);
    if (end === -1) break;
    const line = bytes.subarray(start, end);
    start = end + 1;
    if (line[0] === 1) {
      const text = line.toString('utf8');
      // Passive files pile up for one sync; every other command comes after everything before it.
      if (!text.startsWith(command.passive)) writeRecords();
      runCommand(text);
      continue;
    }
    const target = snapshot !== null ? snapshot.fd : fd;
    if (target !== recordTarget) {
      writeRecords();
      recordTarget = target;
    }
    syncPassiveFiles(); // a record may name the files before it: they are on disk first
    const record = unpassivedFailed.size > 0 ? keptActive(line) : line;
    const need = checksumBytes + record.length + 1;
    if (used + need > out.length) {
      writeRecords();
      if (need > out.length) out = Buffer.allocUnsafe(need);
    }
    out.write(lineChecksum(record), used, 'latin1');
    out[used + checksumBytes - 1] = 32; // space
    record.copy(out, used + checksumBytes);
    out[used + need - 1] = 10; // newline
    used += need;
  }
  writeRecords();
  carry = Buffer.from(bytes.subarray(start));
}

function runCommand(line: string): void {
  try {
    if (line === command.sync) {
      if (unsynced && fd !== -1) {
        unsynced = false;
        fdatasyncSync(fd);
      }
    } else if (line.startsWith(command.passive)) {
      writePassiveFile(line.slice(command.passive.length));
    } else if (line.startsWith(command.snapshotBegin)) {
      const g = Number(line.slice(command.snapshotBegin.length));
      snapshot = { fd: -1, gen: g, failed: false };
      snapshot.fd = openSync(tmpFile(g), 'w');
    } else if (line === command.snapshotEnd) {
      const s = snapshot;
      snapshot = null;
      if (s !== null && !s.failed) finishSnapshot(s);
    } else if (line === command.close) {
      if (fd !== -1) {
        if (unsynced) fsyncSync(fd);
        closeSync(fd);
      }
      fd = -1;
      closed = true;
    }
  } catch (err) {
    const what = line.slice(1).split(' ')[0]!;
    if (what.startsWith('snapshot')) {
      if (snapshot !== null) failSnapshot();
      else removeFile(tmpFile(gen + 1));
    }
    // A sync failure loses nothing yet; a lost file or snapshot does, until memory puts it back.
    if (what !== 'sync') Atomics.add(data.flags, damageCell, 1);
    report(what, err);
  }
}

const passiveDir = path.join(data.dir, 'passive');
/** Session ids are base64url; anything else would be a path. */
const sessionIdShape = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Sessions whose passive file could not be written, with their data: the 'p' records that follow
 * (the journal's, a snapshot's) are written as 'c' records holding the data instead, so the files
 * never name a passivated session whose data is nowhere. The main thread, told by the damage
 * count, makes them active again in memory too.
 */
const unpassivedFailed = new Map<string, string>();

/** `<id> <json>`: passive/<id> as one journal-codec line, on disk before anything after it. */
function writePassiveFile(payload: string): void {
  const space = payload.indexOf(' ');
  const id = payload.slice(0, space);
  if (space === -1 || !sessionIdShape.test(id)) throw new Error(`not a passive file command: ${JSON.stringify(payload.slice(0, 80))}`);
  const json = payload.slice(space + 1);
  let file = -1;
  try {
    file = openSync(path.join(passiveDir, id), 'w');
    writeAll(file, Buffer.from(`${lineChecksum(json)} ${json}\n`));
  } catch (err) {
    if (file !== -1) closeSync(file);
    unpassivedFailed.set(id, json);
    throw err;
  }
  unsyncedPassive.push({ id, json, fd: file });
}

/** Passive files written and not synced yet: synced together (syncPassiveFiles) before the next record or command. */
let unsyncedPassive: { readonly id: string; readonly json: string; readonly fd: number }[] = [];

/** A 'p' record of a session whose passive file failed, as the 'c' record that keeps its data; any other line as it is. */
function keptActive(line: Buffer): Buffer {
  if (line[2] !== 112 /* p */ || line[1] !== 34 /* " */) return line;
  const op = JSON.parse(line.toString('utf8')) as unknown[];
  const json = unpassivedFailed.get(String(op[1]));
  if (op[0] !== 'p' || json === undefined) return line;
  return Buffer.from(JSON.stringify(['c', op[1], op[2], op[3], op[4], op[5], JSON.parse(json)]));
}

/** The passive files written since the last call, and their names, are on disk before a record that relies on them. */
function syncPassiveFiles(): void {
  if (unsyncedPassive.length === 0) return;
  const files = unsyncedPassive;
  unsyncedPassive = [];
  let failed: unknown = null;
  for (const { id, json, fd: file } of files) {
    try {
      fdatasyncSync(file);
      unpassivedFailed.delete(id);
    } catch (err) {
      unpassivedFailed.set(id, json);
      failed = err;
    } finally {
      closeSync(file);
    }
  }
  try {
    syncDir(passiveDir);
  } catch (err) {
    for (const { id, json } of files) unpassivedFailed.set(id, json);
    failed = err;
  }
  if (failed !== null) {
    Atomics.add(data.flags, damageCell, 1);
    report('passive', failed);
  }
}

function failSnapshot(): void {
  const s = snapshot!;
  s.failed = true;
  if (s.fd !== -1) {
    try {
      closeSync(s.fd);
    } catch {
      // already closed
    }
    s.fd = -1;
  }
  removeFile(tmpFile(s.gen));
}

/** snapshot-(G+1).tmp is complete: fsync, rename into place, start journal-(G+1), drop generation G. */
function finishSnapshot(s: { fd: number; gen: number }): void {
  try {
    fsyncSync(s.fd);
  } finally {
    closeSync(s.fd);
  }
  renameSync(tmpFile(s.gen), path.join(data.dir, `snapshot-${s.gen}.jnl`));
  const newFd = openSync(journalFile(s.gen), 'a');
  syncDir(data.dir);
  if (fd !== -1) closeSync(fd);
  fd = newFd;
  unsynced = false;
  for (const old of [`snapshot-${gen}.jnl`, `journal-${gen}.jnl`]) removeFile(path.join(data.dir, old));
  gen = s.gen;
}

const tmpFile = (g: number): string => path.join(data.dir, `snapshot-${g}.tmp`);
const journalFile = (g: number): string => path.join(data.dir, `journal-${g}.jnl`);

function writeAll(target: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(target, buf, off, buf.length - off);
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') report('remove', err);
  }
}

function syncDir(dir: string): void {
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

try {
  fd = openSync(journalFile(gen), 'a');
} catch (err) {
  Atomics.add(data.flags, damageCell, 1);
  report('open', err);
}

let pollMs = busyPollMs;
while (!closed) {
  const seen = Atomics.load(data.flags, wakeCell);
  const bytes = take();
  if (bytes !== null) {
    handle(bytes);
    Atomics.store(data.positions, doneCell, BigInt(consumed - carry.length));
    Atomics.notify(data.positions, doneCell);
    pollMs = busyPollMs;
    continue; // more may have come meanwhile
  }
  Atomics.wait(data.flags, wakeCell, seen, pollMs);
  pollMs = Math.min(idlePollMs, pollMs * 2);
}
parentPort!.close();
