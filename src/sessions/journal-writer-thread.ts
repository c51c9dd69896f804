// The session journal's writer thread (see journal-writer.ts). Everything here runs off the main
// thread and is synchronous: messages arrive in order, each is done before the next, so records,
// syncs and compactions reach the disk in the order the main thread sent them. After each message
// its sequence number is published in shared memory, which is what drain() and close() wait for.
import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { encodeLine } from './journal-codec.ts';
import { damageCell, doneCell, type WriterData, type WriterMessage, type WriterReport } from './journal-writer.ts';

const data = workerData as WriterData;
let fd = data.fd;
let gen = data.gen;
let unsynced = false;
/** An open snapshot-<gen>.tmp while a compaction streams in. */
let snapshot: { fd: number; gen: number; failed: boolean } | null = null;

function report(message: WriterReport): void {
  parentPort!.postMessage(message);
}

function handle(message: WriterMessage): void {
  switch (message.kind) {
    case 'append': {
      let text = '';
      for (const json of message.lines) text += encodeLine(json);
      writeAll(fd, text);
      unsynced = true;
      return;
    }
    case 'sync':
      if (unsynced) {
        unsynced = false;
        fdatasyncSync(fd);
      }
      return;
    case 'snapshot-begin':
      snapshot = { fd: openSync(tmpFile(message.gen), 'w'), gen: message.gen, failed: false };
      return;
    case 'snapshot-lines': {
      if (snapshot === null || snapshot.failed) return;
      let text = '';
      for (const json of message.lines) text += encodeLine(json);
      writeAll(snapshot.fd, text);
      return;
    }
    case 'snapshot-end':
      if (snapshot !== null && !snapshot.failed) finishSnapshot(snapshot);
      snapshot = null;
      return;
    case 'drain':
      return;
    case 'close':
      if (unsynced) fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      return;
  }
}

/** snapshot-(G+1).tmp is complete: fsync, rename into place, start journal-(G+1), drop generation G. */
function finishSnapshot(s: { fd: number; gen: number }): void {
  try {
    fsyncSync(s.fd);
  } finally {
    closeSync(s.fd);
  }
  renameSync(tmpFile(s.gen), path.join(data.dir, `snapshot-${s.gen}.jnl`));
  const newFd = openSync(path.join(data.dir, `journal-${s.gen}.jnl`), 'a');
  syncDir(data.dir);
  closeSync(fd);
  fd = newFd;
  unsynced = false;
  for (const old of [`snapshot-${gen}.jnl`, `journal-${gen}.jnl`]) removeFile(path.join(data.dir, old));
  gen = s.gen;
}

const tmpFile = (g: number): string => path.join(data.dir, `snapshot-${g}.tmp`);

parentPort!.on('message', (message: WriterMessage) => {
  try {
    if (fd !== -1 || message.kind === 'drain') handle(message);
  } catch (err) {
    if (snapshot !== null && message.kind.startsWith('snapshot')) {
      snapshot.failed = true;
      try {
        closeSync(snapshot.fd);
      } catch {
        // already closed by finishSnapshot's finally
      }
      removeFile(tmpFile(snapshot.gen));
      if (message.kind === 'snapshot-end') snapshot = null;
    }
    if (message.kind === 'append' || message.kind.startsWith('snapshot')) Atomics.add(data.cells, damageCell, 1);
    report({ kind: 'failed', what: message.kind, err: (err as Error).message });
  }
  Atomics.store(data.cells, doneCell, message.seq);
  Atomics.notify(data.cells, doneCell);
  if (message.kind === 'close') parentPort!.close();
});

function writeAll(target: number, text: string): void {
  if (text === '') return;
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(target, buf, off, buf.length - off);
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
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
