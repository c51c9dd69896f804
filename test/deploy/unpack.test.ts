import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import * as tar from 'tar';
import { ErrorCode, TandemError } from '../../src/errors.ts';
import { unpackArchive } from '../../src/deploy/unpack.ts';
import type { ArchiveFormat } from '../../src/deploy/unpack.ts';
import { tarBytes, tgzBytes, zipBytes } from '../../scripts/archive-builders.ts';
import type { TarEntrySpec, ZipEntrySpec } from '../../scripts/archive-builders.ts';

// An unpack that rejected a promise nobody awaited would show up here, not as a crash.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
process.on('unhandledRejection', onUnhandled);
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

interface Scene {
  readonly root: string;
  /** A folder beside the work folder that hostile archives aim at; holds only "secret". */
  readonly outside: string;
  readonly workDir: string;
}

async function scene(t: TestContext): Promise<Scene> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tandem-unpack-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const outside = path.join(root, 'outside');
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret'), 'untouched');
  return { root, outside, workDir: path.join(root, 'work', 'app') };
}

async function writeArchive(s: Scene, name: string, bytes: Buffer): Promise<string> {
  const file = path.join(s.root, name);
  await writeFile(file, bytes);
  return file;
}

/** The whole tree below `dir` as sorted relative paths, symlinks shown with their target. */
async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full);
    out.push(entry.isSymbolicLink() ? `${relative} -> ${await readlink(full)}` : entry.isDirectory() ? `${relative}/` : relative);
  }
  return out.sort();
}

async function assertRefused(s: Scene, archive: string, format: ArchiveFormat, code: ErrorCode, message: RegExp, stage: 'checked' | 'extracting' = 'checked'): Promise<void> {
  await assert.rejects(unpackArchive(archive, format, s.workDir), (err: unknown) => {
    assert.ok(err instanceof TandemError, `expected a TandemError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
  // Nothing written anywhere: no work folder, no staging folder, no file beside the archive,
  // and the folder the archive aimed at is as it was. An archive that failed while extracting
  // has had the work folder's parent created, but left nothing in it.
  if (stage === 'checked') {
    assert.deepEqual((await readdir(s.root)).sort(), [path.basename(archive), 'outside'].sort());
  } else {
    assert.deepEqual((await readdir(s.root)).sort(), [path.basename(archive), 'outside', 'work'].sort());
    assert.deepEqual(await readdir(path.dirname(s.workDir)), []);
  }
  assert.deepEqual(await treeOf(s.outside), ['secret']);
  assert.equal(await readFile(path.join(s.outside, 'secret'), 'utf8'), 'untouched');
}

async function tgzOf(s: Scene, entries: readonly TarEntrySpec[]): Promise<string> {
  return writeArchive(s, 'bundle.tgz', tgzBytes(entries));
}

async function zipOf(s: Scene, entries: readonly ZipEntrySpec[]): Promise<string> {
  return writeArchive(s, 'bundle.zip', zipBytes(entries));
}

describe('unpackArchive: tgz', () => {
  it('unpacks an npm pack tarball without its package/ folder, links included', async (t) => {
    const s = await scene(t);
    const source = path.join(s.root, 'src');
    await mkdir(path.join(source, 'package', 'lib'), { recursive: true });
    await writeFile(path.join(source, 'package', 'package.json'), '{"main":"index.js"}');
    await writeFile(path.join(source, 'package', 'index.js'), 'export default {}');
    await writeFile(path.join(source, 'package', 'lib', 'a.js'), 'a');
    await symlink('a.js', path.join(source, 'package', 'lib', 'alias.js'));
    const archive = path.join(s.root, 'shop##1.0.0.tgz');
    await tar.c({ gzip: true, cwd: source, portable: true, file: archive }, ['package']);

    await unpackArchive(archive, 'tgz', s.workDir);

    assert.deepEqual(await treeOf(s.workDir), ['index.js', 'lib/', 'lib/a.js', 'lib/alias.js -> a.js', 'package.json']);
    assert.equal(await readFile(path.join(s.workDir, 'lib', 'alias.js'), 'utf8'), 'a');
    assert.deepEqual((await readdir(path.dirname(s.workDir))).sort(), ['app'], 'no staging folder left');
  });

  it('keeps the top folder when not every entry is under package/', async (t) => {
    const s = await scene(t);
    const archive = await tgzOf(s, [
      { path: 'package/index.js', body: 'x' },
      { path: 'README.md', body: 'y' },
    ]);
    await unpackArchive(archive, 'tgz', s.workDir);
    assert.deepEqual(await treeOf(s.workDir), ['README.md', 'package/', 'package/index.js']);
  });

  it('keeps a top folder with another name', async (t) => {
    const s = await scene(t);
    const archive = await tgzOf(s, [{ path: 'app/', type: 'Directory' }, { path: 'app/index.js', body: 'x' }]);
    await unpackArchive(archive, 'tgz', s.workDir);
    assert.deepEqual(await treeOf(s.workDir), ['app/', 'app/index.js']);
  });

  it('replaces what was in the work folder', async (t) => {
    const s = await scene(t);
    await mkdir(s.workDir, { recursive: true });
    await writeFile(path.join(s.workDir, 'stale.js'), 'old');
    const archive = await tgzOf(s, [{ path: 'index.js', body: 'new' }, { path: './lib/./b.js', body: 'b' }]);
    await unpackArchive(archive, 'tgz', s.workDir);
    assert.deepEqual(await treeOf(s.workDir), ['index.js', 'lib/', 'lib/b.js']);
  });

  it('accepts links that stay inside, hard links included', async (t) => {
    const s = await scene(t);
    const archive = await tgzOf(s, [
      { path: 'package/lib/', type: 'Directory' },
      { path: 'package/lib/real.js', body: 'real' },
      { path: 'package/up.js', type: 'SymbolicLink', linkpath: 'lib/../lib/real.js' },
      { path: 'package/lib/self', type: 'SymbolicLink', linkpath: '..' },
      { path: 'package/hard.js', type: 'Link', linkpath: 'package/lib/real.js' },
    ]);
    await unpackArchive(archive, 'tgz', s.workDir);
    assert.deepEqual(await treeOf(s.workDir), ['hard.js', 'lib/', 'lib/real.js', 'lib/self -> ..', 'up.js -> lib/../lib/real.js']);
    assert.equal(await readFile(path.join(s.workDir, 'hard.js'), 'utf8'), 'real');
    assert.ok((await lstat(path.join(s.workDir, 'hard.js'))).isFile());
  });

  const hostile: readonly (readonly [what: string, entries: (s: Scene) => TarEntrySpec[], message: RegExp])[] = [
    ['a ../ path', () => [{ path: 'index.js', body: 'ok' }, { path: '../evil', body: 'x' }], /entry "\.\.\/evil" has a "\.\." segment in its path/],
    ['a ../ path inside package/', () => [{ path: 'package/../../outside/secret', body: 'x' }], /has a "\.\." segment/],
    ['an absolute path', (s) => [{ path: path.join(s.root, 'abs-evil'), body: 'x' }], /has an absolute path as its path/],
    ['a backslash path', () => [{ path: '..\\evil', body: 'x' }], /has a backslash in its path/],
    ['a drive letter', () => [{ path: 'C:/evil', body: 'x' }], /has a Windows drive letter/],
    ['a symlink to /etc and a write through it', () => [
      { path: 'etc', type: 'SymbolicLink', linkpath: '/etc' },
      { path: 'etc/tandem-pwned', body: 'x' },
    ], /entry "etc" has an absolute path as its link target/],
    ['a relative symlink out of the folder and a write through it', () => [
      { path: 'out', type: 'SymbolicLink', linkpath: '../../outside' },
      { path: 'out/secret', body: 'overwritten' },
    ], /entry "out" links to "\.\.\/\.\.\/outside", outside the extraction folder/],
    ['a write through an inside symlink', () => [
      { path: 'lib/', type: 'Directory' },
      { path: 'alias', type: 'SymbolicLink', linkpath: 'lib' },
      { path: 'alias/x.js', body: 'x' },
    ], /entry "alias\/x\.js" would be written through the symbolic link "alias"/],
    ['a symlink escaping through another symlink', () => [
      { path: 's', type: 'SymbolicLink', linkpath: '.' },
      { path: 't', type: 'SymbolicLink', linkpath: 's/../outside' },
    ], /entry "t" links to "s\/\.\.\/outside", outside the extraction folder/],
    ['a hard link out of the folder', () => [{ path: 'h', type: 'Link', linkpath: '../outside/secret' }], /entry "h" has a "\.\." segment in its hard link target/],
    ['a hard link to an absolute path', (s) => [{ path: 'h', type: 'Link', linkpath: path.join(s.outside, 'secret') }], /has an absolute path as its hard link target/],
    ['a hard link to a symlink', () => [
      { path: 'a/b/', type: 'Directory' },
      { path: 'a/b/s', type: 'SymbolicLink', linkpath: '../../x' },
      { path: 'h', type: 'Link', linkpath: 'a/b/s' },
    ], /entry "h" is a hard link through or to the symbolic link "a\/b\/s"/],
    ['a character device', () => [{ path: 'null', type: 'CharacterDevice' }], /entry "null" is a CharacterDevice entry; only files, folders and links can be unpacked/],
    ['a block device', () => [{ path: 'sda', type: 'BlockDevice' }], /is a BlockDevice entry/],
    ['a FIFO', () => [{ path: 'pipe', type: 'FIFO' }], /is a FIFO entry/],
    ['a file replacing the folder itself', () => [{ path: '.', type: 'File', body: 'x' }], /would replace the extraction folder itself/],
  ];
  for (const [what, entries, message] of hostile) {
    it(`refuses an archive with ${what} and writes nothing`, async (t) => {
      const s = await scene(t);
      const archive = await tgzOf(s, [{ path: 'index.js', body: 'fine' }, ...entries(s)]);
      await assertRefused(s, archive, 'tgz', ErrorCode.archiveUnsafe, new RegExp(`^archive .*bundle\\.tgz refused: .*${message.source}`));
    });
  }

  it('never creates anything under /etc', async (t) => {
    const s = await scene(t);
    const archive = await tgzOf(s, [{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }, { path: 'etc/tandem-pwned', body: 'x' }]);
    await assertRefused(s, archive, 'tgz', ErrorCode.archiveUnsafe, /refused/);
    await assert.rejects(lstat('/etc/tandem-pwned'), { code: 'ENOENT' });
  });

  it('refuses more entries than the limit', async (t) => {
    const s = await scene(t);
    const archive = await tgzOf(s, Array.from({ length: 6 }, (_, i) => ({ path: `f${i}.js`, body: 'x' })));
    await assert.rejects(unpackArchive(archive, 'tgz', s.workDir, { maxEntries: 5, maxTotalBytes: 1e6 }), {
      code: ErrorCode.archiveUnsafe,
      message: /refused: it has more than 5 entries$/,
    });
    await unpackArchive(archive, 'tgz', s.workDir, { maxEntries: 6, maxTotalBytes: 1e6 });
    assert.equal((await readdir(s.workDir)).length, 6);
  });

  it('refuses more bytes than the limit, counting every entry', async (t) => {
    const s = await scene(t);
    const archive = await tgzOf(s, [{ path: 'a.js', body: 'x'.repeat(600) }, { path: 'b.js', body: 'x'.repeat(500) }]);
    await assert.rejects(unpackArchive(archive, 'tgz', s.workDir, { maxEntries: 10, maxTotalBytes: 1000 }), {
      code: ErrorCode.archiveUnsafe,
      message: /refused: it unpacks to more than 1000 bytes$/,
    });
    assert.deepEqual((await readdir(s.root)).sort(), ['bundle.tgz', 'outside']);
  });

  it('refuses a header claiming more than 512 MB before reading the body', async (t) => {
    const s = await scene(t);
    const archive = await tgzOf(s, [{ path: 'bomb.bin', body: 'tiny', declaredSize: 600 * 1024 * 1024 }]);
    await assertRefused(s, archive, 'tgz', ErrorCode.archiveUnsafe, /refused: it unpacks to more than 536870912 bytes/);
  });

  const corrupt: readonly (readonly [what: string, bytes: () => Buffer])[] = [
    ['a truncated gzip', () => { const b = tgzBytes([{ path: 'index.js', body: 'x'.repeat(5000) }]); return b.subarray(0, b.length - 30); }],
    ['a truncated tar body', () => gzipSync(tarBytes([{ path: 'index.js', body: 'x'.repeat(5000) }]).subarray(0, 1536))],
    ['random bytes', () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251))],
    ['an empty file', () => Buffer.alloc(0)],
    ['a zip named .tgz', () => zipBytes([{ name: 'index.js', body: 'x' }])],
  ];
  for (const [what, bytes] of corrupt) {
    it(`reports ${what} as corrupt and writes nothing`, async (t) => {
      const s = await scene(t);
      const archive = await writeArchive(s, 'bundle.tgz', bytes());
      await assertRefused(s, archive, 'tgz', ErrorCode.archiveCorrupt, /^archive .*bundle\.tgz cannot be read: /);
    });
  }

  it('reports an archive that does not exist as unreadable', async (t) => {
    const s = await scene(t);
    await assert.rejects(unpackArchive(path.join(s.root, 'missing.tgz'), 'tgz', s.workDir), {
      code: ErrorCode.archiveCorrupt,
      message: /missing\.tgz cannot be read: .*ENOENT/,
    });
  });
});

describe('unpackArchive: zip', () => {
  it('unpacks stored and deflated files, folders and inside links', async (t) => {
    const s = await scene(t);
    const archive = await zipOf(s, [
      { name: 'index.js', body: 'export default {}' },
      { name: 'lib/', mode: 0o040755 },
      { name: 'lib/big.js', body: 'y'.repeat(100_000), deflate: true },
      { name: 'deep/er/x.json', body: '{}', deflate: true },
      { name: 'lib/alias.js', body: 'big.js', mode: 0o120777 },
    ]);
    await unpackArchive(archive, 'zip', s.workDir);
    assert.deepEqual(await treeOf(s.workDir), ['deep/', 'deep/er/', 'deep/er/x.json', 'index.js', 'lib/', 'lib/alias.js -> big.js', 'lib/big.js']);
    assert.equal(await readFile(path.join(s.workDir, 'lib', 'alias.js'), 'utf8'), 'y'.repeat(100_000));
    assert.deepEqual((await readdir(path.dirname(s.workDir))).sort(), ['app']);
  });

  it('strips a package/ folder holding everything', async (t) => {
    const s = await scene(t);
    const archive = await zipOf(s, [{ name: 'package/', mode: 0o040755 }, { name: 'package/index.js', body: 'x', deflate: true }]);
    await unpackArchive(archive, 'zip', s.workDir);
    assert.deepEqual(await treeOf(s.workDir), ['index.js']);
  });

  const hostile: readonly (readonly [what: string, entries: (s: Scene) => ZipEntrySpec[], message: RegExp])[] = [
    ['a ../ path', () => [{ name: '../evil', body: 'x' }], /entry "\.\.\/evil" has a "\.\." segment in its path/],
    ['an absolute path', (s) => [{ name: path.join(s.root, 'abs-evil'), body: 'x' }], /has an absolute path as its path/],
    ['a backslash path', () => [{ name: '..\\evil.js', body: 'x' }], /has a backslash in its path/],
    ['a drive letter', () => [{ name: 'C:\\evil.js', body: 'x' }], /has a backslash|has a Windows drive letter/],
    ['a symlink out of the folder and a write through it', () => [
      { name: 'out', body: '../../outside', mode: 0o120777 },
      { name: 'out/secret', body: 'overwritten' },
    ], /entry "out" links to "\.\.\/\.\.\/outside", outside the extraction folder/],
    ['a symlink to /etc', () => [{ name: 'etc', body: '/etc', mode: 0o120777 }, { name: 'etc/tandem-pwned', body: 'x' }], /entry "etc" has an absolute path as its link target/],
    ['a FIFO', () => [{ name: 'pipe', mode: 0o010644 }], /entry "pipe" is a FIFO entry/],
    ['a character device', () => [{ name: 'null', mode: 0o020666 }], /entry "null" is a character device entry/],
  ];
  for (const [what, entries, message] of hostile) {
    it(`refuses a zip with ${what} and writes nothing`, async (t) => {
      const s = await scene(t);
      const archive = await zipOf(s, [{ name: 'index.js', body: 'fine' }, ...entries(s)]);
      await assertRefused(s, archive, 'zip', ErrorCode.archiveUnsafe, new RegExp(`^archive .*bundle\\.zip refused: .*${message.source}`));
    });
  }

  it('refuses a central directory claiming more than 20000 entries before reading any', async (t) => {
    const s = await scene(t);
    const archive = await writeArchive(s, 'bundle.zip', zipBytes([{ name: 'index.js', body: 'x' }], { declaredEntryCount: 20_001 }));
    await assertRefused(s, archive, 'zip', ErrorCode.archiveUnsafe, /refused: it has more than 20000 entries$/);
  });

  it('refuses entries claiming more than 512 MB in total', async (t) => {
    const s = await scene(t);
    const archive = await zipOf(s, [
      { name: 'a.bin', body: 'a', deflate: true, declaredSize: 300 * 1024 * 1024 },
      { name: 'b.bin', body: 'b', deflate: true, declaredSize: 300 * 1024 * 1024 },
    ]);
    await assertRefused(s, archive, 'zip', ErrorCode.archiveUnsafe, /refused: it unpacks to more than 536870912 bytes$/);
  });

  it('reports an entry whose data does not match its declared size as corrupt, leaving nothing', async (t) => {
    const s = await scene(t);
    const archive = await zipOf(s, [{ name: 'index.js', body: 'x'.repeat(100), deflate: true, declaredSize: 50 }]);
    await assertRefused(s, archive, 'zip', ErrorCode.archiveCorrupt, /^archive .*bundle\.zip could not be unpacked: /, 'extracting');
  });

  it('reports a duplicate file name as an error, leaving nothing', async (t) => {
    const s = await scene(t);
    const archive = await zipOf(s, [{ name: 'index.js', body: 'a' }, { name: 'index.js', body: 'b' }]);
    await assertRefused(s, archive, 'zip', ErrorCode.archiveCorrupt, /could not be unpacked: .*EEXIST/, 'extracting');
  });

  const corrupt: readonly (readonly [what: string, bytes: () => Buffer])[] = [
    ['random bytes', () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251))],
    ['a truncated zip', () => { const b = zipBytes([{ name: 'index.js', body: 'x'.repeat(5000), deflate: true }]); return b.subarray(0, b.length - 40); }],
    ['a tgz named .zip', () => tgzBytes([{ path: 'index.js', body: 'x' }])],
    ['an empty file', () => Buffer.alloc(0)],
  ];
  for (const [what, bytes] of corrupt) {
    it(`reports ${what} as corrupt and writes nothing`, async (t) => {
      const s = await scene(t);
      const archive = await writeArchive(s, 'bundle.zip', bytes());
      await assertRefused(s, archive, 'zip', ErrorCode.archiveCorrupt, /^archive .*bundle\.zip cannot be read: /);
    });
  }
});
