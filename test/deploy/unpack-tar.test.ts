import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { defaultArchiveLimits } from '../../src/deploy/archive-entries.ts';
import type { ArchiveEntry } from '../../src/deploy/archive-entries.ts';
import { extractTar, listTar } from '../../src/deploy/unpack-tar.ts';
import { tarBytes, tgzBytes } from '../../scripts/archive-builders.ts';

// The second pass on its own: what happens when the archive no longer matches the checked listing.

async function archiveFile(t: TestContext, bytes: Buffer): Promise<{ file: string; out: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-tar-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bundle.tgz');
  await writeFile(file, bytes);
  const out = path.join(dir, 'out');
  await mkdir(out);
  return { file, out };
}

const file = (p: string, size: number): ArchiveEntry => ({ path: p, kind: 'file', typeName: 'File', linkTarget: undefined, size });

describe('extractTar', () => {
  it('writes the listed entries of an archive it listed itself', async (t) => {
    const { file: archive, out } = await archiveFile(t, tgzBytes([{ path: 'lib/', type: 'Directory' }, { path: 'lib/a.js', body: 'aa' }, { path: 'b', type: 'SymbolicLink', linkpath: 'lib/a.js' }]));
    const handle = await open(archive);
    t.after(() => handle.close());
    const listed = await listTar(handle, defaultArchiveLimits);
    await extractTar(handle, out, listed, false);
    assert.equal(await readFile(path.join(out, 'b'), 'utf8'), 'aa');
  });

  it('writes nothing of an entry that is not the one listed', async (t) => {
    const { file: archive, out } = await archiveFile(t, tgzBytes([{ path: 'evil.js', body: 'x' }]));
    const handle = await open(archive);
    t.after(() => handle.close());
    await assert.rejects(extractTar(handle, out, [file('index.js', 1)], false), /entry "evil\.js" differs from the checked listing/);
    assert.deepEqual(await readdir(out), []);
  });

  it('rejects an archive that ends before the listed entries', async (t) => {
    const { file: archive, out } = await archiveFile(t, tgzBytes([{ path: 'a.js', body: 'a' }]));
    const handle = await open(archive);
    t.after(() => handle.close());
    await assert.rejects(extractTar(handle, out, [file('a.js', 1), file('b.js', 1)], false), /ended after 1 of 2 checked entries/);
  });

  for (const [what, bytes] of [
    ['is truncated inside the gzip stream', gzipSync(tarBytes([{ path: 'a.js', body: 'a'.repeat(3000) }, { path: 'b.js', body: 'b'.repeat(3000) }])).subarray(0, 60)],
    ['is truncated inside an entry', gzipSync(tarBytes([{ path: 'a.js', body: 'a'.repeat(3000) }, { path: 'b.js', body: 'b'.repeat(3000) }]).subarray(0, 2000))],
    ['is random bytes', Buffer.alloc(3000, 7)],
  ] as const) {
    it(`settles with an error (and writes nothing more) when the archive ${what}`, async (t) => {
      const { file: archive, out } = await archiveFile(t, bytes);
      const handle = await open(archive);
      t.after(() => handle.close());
      await assert.rejects(extractTar(handle, out, [file('a.js', 3000), file('b.js', 3000)], false));
      // Settled means settled: nothing appears afterwards.
      const after = await readdir(out);
      assert.ok(after.every((name) => name === 'a.js'), JSON.stringify(after));
    });
  }
});
