// The embedded store's journal, compaction, damage handling and passivation, on real files.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.ts';
import { MemorySessionStore, type PersistenceOptions } from '../../src/sessions/memory-store.ts';
import { newSessionId } from '../../src/sessions/session-id.ts';
import type { SessionRecord } from '../../src/sessions/store.ts';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function setup(t: { after(fn: () => void): void }): { dir: string; logs: LogLine[]; open(extra?: Partial<PersistenceOptions>): MemorySessionStore } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-sessions-'));
  const logs: LogLine[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const open: MemorySessionStore[] = [];
  t.after(() => {
    for (const s of open) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    logs,
    open: (extra = {}) => {
      const s = new MemorySessionStore({ dir, logger, flushEveryMs: 60_000, ...extra });
      open.push(s);
      return s;
    },
  };
}

function record(app: string, version: string, data: Record<string, unknown> = {}, at = Date.now()): SessionRecord {
  return { id: newSessionId(), app, version, createdAt: at, lastAccessAt: at, data: new Map(Object.entries(data).map(([k, v]) => [k, JSON.stringify(v)])) };
}

function plain(r: SessionRecord | undefined): unknown {
  return r === undefined ? undefined : { app: r.app, version: r.version, createdAt: r.createdAt, lastAccessAt: r.lastAccessAt, data: Object.fromEntries(r.data) };
}

const journalFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.jnl')).sort();

describe('embedded session store', () => {
  it('replays creates, key changes, touches, rebinds, renames and deletes after a close and reopen', (t) => {
    const { open } = setup(t);
    const a = open();
    const kept = record('shop', '1.0', { user: 'ann', cart: [1, 2] });
    const renamed = record('shop', '1.0', { n: 1 });
    const deleted = record('blog', '', { x: true });
    for (const r of [kept, renamed, deleted]) a.create(r, 60_000);
    a.update(kept, { set: ['cart', '[1,2,3]', 'total', '9.5'], del: ['user'] }, 60_000);
    kept.lastAccessAt += 500;
    a.touch(kept, 60_000);
    a.rebind(kept, '2.0');
    const newId = newSessionId();
    const moved = a.rename(renamed, newId);
    a.delete(deleted.id);
    a.close();

    const b = open();
    assert.equal(b.size, 2);
    assert.deepEqual(plain(b.get(kept.id)), plain(kept));
    assert.equal(b.get(renamed.id), undefined, 'the old id of a renamed session is gone');
    assert.deepEqual(plain(b.get(newId)), plain(moved));
    assert.equal(b.get(deleted.id), undefined);
    assert.deepEqual(Object.fromEntries(b.countByVersion('shop')), { '2.0': 1, '1.0': 1 });
  });

  it('hands a batch to the writer thread in one go, written with a checksum per record, readable before close', (t) => {
    const { dir, open } = setup(t);
    const a = open();
    const r = record('shop', '1', { n: 1 });
    a.create(r, 60_000);
    assert.deepEqual(journalFiles(dir), ['journal-0.jnl']);
    assert.equal(statSync(path.join(dir, 'journal-0.jnl')).size, 0, 'nothing is written per call');
    const stats = a.flush();
    assert.ok(stats.bytes > 0);
    a.drain();
    const line = readFileSync(path.join(dir, 'journal-0.jnl'), 'utf8');
    assert.match(line, /^[0-9a-f]{8} \["c",/);
    // A second store opened on the files (as after kill -9: no close) sees the flushed record.
    const b = open();
    assert.deepEqual(plain(b.get(r.id)), plain(r));
  });

  it('compacts into a snapshot and a fresh journal when the journal outgrows the live data', (t) => {
    const { dir, open } = setup(t);
    const a = open({ compactMinBytes: 10_000, compactFactor: 2 });
    const r = record('shop', '1', { n: 0 });
    a.create(r, 60_000);
    for (let i = 1; i <= 400; i++) {
      a.update(r, { set: ['n', String(i)], del: [] }, 60_000);
      if (i % 50 === 0) a.flush();
    }
    a.flush();
    a.drain();
    const files = journalFiles(dir);
    assert.ok(files.some((f) => /^snapshot-[1-9]\d*\.jnl$/.test(f)), `a snapshot was written (${files.join(', ')})`);
    assert.equal(files.length, 2, 'the old generation is removed');
    assert.ok(statSync(path.join(dir, files.find((f) => f.startsWith('journal'))!)).size < 10_000);
    a.close();
    assert.equal(open().get(r.id)?.data.get('n'), '400');
  });

  it('gets the records of a turn written while the main thread is stuck, without a flush', async (t) => {
    const { dir, open } = setup(t);
    const a = open();
    const r = record('shop', '1', { n: 1 });
    a.create(r, 60_000);
    await new Promise((resolve) => setImmediate(resolve)); // the end of the turn hands the record over
    // Hold the main thread, as a call stuck in an isolate does: only the writer thread can write now.
    const file = path.join(dir, 'journal-0.jnl');
    const deadline = Date.now() + 5_000;
    while (statSync(file).size === 0 && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    assert.match(readFileSync(file, 'utf8'), new RegExp(`^[0-9a-f]{8} \\["c","${r.id}"`));
  });

  it('writes records larger than the ring of the writer, and the ones after them, in order', (t) => {
    const { open } = setup(t);
    const a = open();
    const big = record('shop', '1', { blob: 'é'.repeat(6 << 20) }); // 12 MiB of UTF-8, over the 2 MiB ring
    const after = record('shop', '1', { n: 2 });
    a.create(big, 60_000);
    a.create(after, 60_000);
    a.flush();
    a.update(after, { set: ['n', '3'], del: [] }, 60_000);
    a.close();
    const b = open();
    assert.equal(b.get(big.id)?.data.get('blob'), big.data.get('blob'));
    assert.equal(b.get(after.id)?.data.get('n'), '3');
  });

  it('compacts from memory when the writer thread fails to write, and loses nothing', async (t) => {
    const { dir, logs, open } = setup(t);
    const a = open();
    const first = record('shop', '1', { n: 1 });
    a.create(first, 60_000);
    a.flush();
    a.drain();
    // Pull the journal's file descriptor from under the writer: its next write fails (EBADF).
    const fdDir = '/proc/self/fd';
    const fd = readdirSync(fdDir).map(Number).find((n) => {
      try {
        return readlinkSync(path.join(fdDir, String(n))) === path.join(dir, 'journal-0.jnl');
      } catch {
        return false;
      }
    });
    assert.ok(fd !== undefined, 'the journal is open');
    closeSync(fd);
    const second = record('shop', '1', { n: 2 });
    a.create(second, 60_000);
    a.flush();
    a.drain();
    a.flush(); // sees the damage, compacts from memory into a new generation
    for (let i = 0; i < 100 && !logs.some((l) => l.msg === 'session journal write failed'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(logs.some((l) => l.msg === 'session journal write failed' && String(l['err']).includes('EBADF')), 'the failure is logged');
    a.close();
    assert.ok(journalFiles(dir).some((f) => f.startsWith('snapshot-')), `compacted (${journalFiles(dir).join(', ')})`);
    const b = open();
    assert.deepEqual(plain(b.get(first.id)), plain(first));
    assert.deepEqual(plain(b.get(second.id)), plain(second), 'the record whose write failed is back, from memory');
  });

  it('reads a truncated or corrupted journal up to the damage, warns once per file, and starts', (t) => {
    const { dir, logs, open } = setup(t);
    const a = open();
    const early = [record('shop', '1', { n: 1 }), record('shop', '1', { n: 2 })];
    for (const r of early) a.create(r, 60_000);
    a.flush();
    const late = record('shop', '1', { n: 3 });
    a.create(late, 60_000);
    a.close();
    const file = path.join(dir, 'journal-0.jnl');
    const size = statSync(file).size;
    truncateSync(file, size - 7); // the last record is torn

    const b = open();
    assert.deepEqual(plain(b.get(early[0]!.id)), plain(early[0]));
    assert.deepEqual(plain(b.get(early[1]!.id)), plain(early[1]));
    assert.equal(b.get(late.id), undefined);
    const warn = logs.filter((l) => l.msg === 'session journal damaged, skipped unreadable records');
    assert.equal(warn.length, 1);
    assert.equal(warn[0]!.level, 40);
    assert.equal(warn[0]!.file, file);
    assert.equal(warn[0]!.skipped, 1);
    assert.ok((warn[0]!.offset as number) > 0 && (warn[0]!.offset as number) < size);
    // The damaged file was compacted away at once: later records never follow the torn line.
    const after = record('shop', '1', { n: 4 });
    b.create(after, 60_000);
    b.close();

    // A flipped byte in the middle and garbage at the end: the good records on either side survive.
    const jfile = path.join(dir, journalFiles(dir).find((f) => f.startsWith('snapshot'))!);
    const bytes = readFileSync(jfile);
    const firstNewline = bytes.indexOf(10);
    bytes[firstNewline - 3] = bytes[firstNewline - 3] === 0x31 ? 0x32 : 0x31;
    writeFileSync(jfile, bytes);
    appendFileSync(jfile, 'not a record\n\u0000\u0000');
    const c = open();
    const survivors = [early[0]!, early[1]!].filter((r) => c.get(r.id) !== undefined);
    assert.equal(survivors.length, 1, 'only the record with the flipped byte is lost');
    assert.deepEqual(plain(c.get(after.id)), plain(after));
    const warn2 = logs.filter((l) => l.msg === 'session journal damaged, skipped unreadable records' && l.file === jfile);
    assert.equal(warn2.length, 1);
    assert.equal(warn2[0]!.skipped, 3);
  });

  it('passivates the least recently used past maxActive and brings every one back with its data', (t) => {
    const { dir, open } = setup(t);
    const a = open({ maxActive: 100 });
    const all: SessionRecord[] = [];
    for (let i = 0; i < 1000; i++) {
      const r = record('shop', i % 2 === 0 ? '1' : '2', { i, name: `user-${i}` });
      a.create(r, 60_000);
      all.push(r);
    }
    const hot = all[3]!;
    hot.lastAccessAt = Date.now();
    a.touch(hot, 60_000); // recently used: stays in memory
    let flushes = 0;
    // Each flush passivates what its time budget allows, once the writer has synced the batch before (the timer's 200 ms would give it time).
    while (a.activeCount > 100 && flushes++ < 100) {
      a.flush();
      a.drain();
    }
    assert.equal(a.activeCount, 100);
    assert.equal(a.passiveCount, 900);
    a.drain(); // the writer thread writes the files
    assert.equal(readdirSync(path.join(dir, 'passive')).length, 900);
    assert.ok(a.get(hot.id) === hot, 'a recently used session was not passivated');
    assert.deepEqual(Object.fromEntries(a.countByVersion('shop')), { '1': 500, '2': 500 }, 'passivated sessions are counted');
    assert.equal(a.adoptAll('shop', '2', '3'), 500, 'passivated sessions are adopted too');

    a.close();
    const b = open({ maxActive: 100 });
    assert.equal(b.size, 1000);
    for (const r of all) {
      const got = b.get(r.id);
      assert.ok(got !== undefined, `session ${all.indexOf(r)} is there`);
      assert.deepEqual(Object.fromEntries(got.data), Object.fromEntries(r.data));
      assert.equal(got.version, all.indexOf(r) % 2 === 0 ? '1' : '3');
    }
    flushes = 0;
    while (b.activeCount > 100 && flushes++ < 100) {
      b.flush();
      b.drain();
    }
    assert.equal(b.activeCount, 100);
    b.drain();
    assert.equal(readdirSync(path.join(dir, 'passive')).length, 900, 'reloaded sessions lose their file once the journal has them, passivated ones get one');
  });

  it('serves a session passivated moments ago, before the writer has written its file', (t) => {
    const { open } = setup(t);
    const a = open({ maxActive: 1 });
    const first = record('shop', '1', { n: 1 });
    a.create(first, 60_000);
    a.create(record('shop', '1', { n: 2 }), 60_000);
    a.flush(); // passivates `first`; its file is the writer's to write
    assert.equal(a.passiveCount, 1);
    assert.equal(a.get(first.id)?.data.get('n'), '1');
  });

  it('keeps sessions whose passive files cannot be written, in memory and on disk', async (t) => {
    const { dir, logs, open } = setup(t);
    const a = open({ maxActive: 10 });
    const all = Array.from({ length: 20 }, (_, i) => record('shop', '1', { i }));
    for (const r of all) a.create(r, 60_000);
    rmSync(path.join(dir, 'passive'), { recursive: true }); // every passive file write now fails
    a.flush();
    a.drain();
    const logged = (): boolean => logs.some((l) => l.msg === 'session journal write failed' && l['step'] === 'passive');
    for (let i = 0; i < 100 && !logged(); i++) await new Promise((resolve) => setTimeout(resolve, 10)); // the writer's report crosses as a message
    assert.ok(logged(), 'the failure is logged');
    for (const r of all) assert.equal(a.get(r.id)?.data.get('i'), r.data.get('i'), 'served from memory');
    a.close(); // its last flush passivates again, and fails again
    const b = open({ maxActive: 10 });
    assert.equal(b.size, 20);
    for (const r of all) assert.equal(b.get(r.id)?.data.get('i'), r.data.get('i'), 'and found after a restart');
  });

  it('expires passivated sessions by idle time and max age', (t) => {
    const { open } = setup(t);
    const a = open({ maxActive: 1 });
    const now = Date.now();
    const idle = record('shop', '1', {}, now - 10_000);
    const old = { ...record('shop', '1', {}, now), createdAt: now - 100_000 };
    const fresh = record('shop', '1', {}, now);
    for (const r of [idle, old, fresh]) a.create(r, 60_000);
    a.flush();
    assert.equal(a.passiveCount, 2);
    assert.equal(a.sweep(now, () => 5_000, 50_000), 2);
    assert.equal(a.size, 1);
    assert.ok(a.get(fresh.id) !== undefined);
  });

  it('applies a change to a session passivated while its request ran', (t) => {
    const { open } = setup(t);
    const a = open({ maxActive: 1 });
    const r = record('shop', '1', { n: 1 });
    a.create(r, 60_000);
    a.create(record('shop', '1'), 60_000);
    a.flush();
    assert.equal(a.passiveCount, 1);
    a.update(r, { set: ['n', '2'], del: [] }, 60_000);
    a.close();
    assert.equal(open().get(r.id)?.data.get('n'), '2');
  });
});
