import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkArchiveEntries, placedSegments } from '../../src/deploy/archive-entries.ts';
import type { ArchiveEntry } from '../../src/deploy/archive-entries.ts';

const file = (p: string): ArchiveEntry => ({ path: p, kind: 'file', typeName: 'File', linkTarget: undefined, size: 1 });
const dir = (p: string): ArchiveEntry => ({ path: p, kind: 'directory', typeName: 'Directory', linkTarget: undefined, size: 0 });
const sym = (p: string, target: string): ArchiveEntry => ({ path: p, kind: 'symlink', typeName: 'SymbolicLink', linkTarget: target, size: 0 });
const hard = (p: string, target: string): ArchiveEntry => ({ path: p, kind: 'hardlink', typeName: 'Link', linkTarget: target, size: 0 });

describe('checkArchiveEntries', () => {
  it('accepts an empty archive without stripping', () => {
    assert.deepEqual(checkArchiveEntries([]), { ok: true, stripPackage: false });
  });

  it('strips package/ only when every entry and hard link target is under it', () => {
    assert.deepEqual(checkArchiveEntries([dir('package/'), file('package/a.js')]), { ok: true, stripPackage: true });
    assert.deepEqual(checkArchiveEntries([file('package/a.js'), hard('package/b.js', 'package/a.js')]), { ok: true, stripPackage: true });
    assert.deepEqual(checkArchiveEntries([file('package/a.js'), file('other.js')]), { ok: true, stripPackage: false });
    assert.deepEqual(checkArchiveEntries([file('package')]), { ok: true, stripPackage: false });
    assert.deepEqual(checkArchiveEntries([file('./package/a.js')]), { ok: true, stripPackage: false });
    assert.deepEqual(checkArchiveEntries([file('packages/a.js')]), { ok: true, stripPackage: false });
  });

  it('checks links against the folder that remains after stripping package/', () => {
    // Inside the archive "package/x -> .." is package/'s parent, the archive root; once package/
    // is stripped that is outside the extraction folder.
    const result = checkArchiveEntries([file('package/a.js'), sym('package/x', '..')]);
    assert.deepEqual(result, { ok: false, entry: 'package/x', problem: 'links to "..", outside the extraction folder' });
    assert.equal(checkArchiveEntries([file('a/b.js'), sym('a/x', '..')]).ok, true);
  });

  it('follows links through other links of the archive', () => {
    assert.equal(checkArchiveEntries([sym('s', '.'), sym('t', 's/..')]).ok, false);
    assert.equal(checkArchiveEntries([dir('a/b/'), sym('a/b/up', '..'), sym('t', 'a/b/up/..')]).ok, true);
    assert.equal(checkArchiveEntries([dir('a/b/'), sym('a/b/up', '..'), sym('t', 'a/b/up/../..')]).ok, false);
    assert.equal(checkArchiveEntries([dir('d/'), sym('d/abs', '/tmp'), sym('t', 'd/abs')]).ok, false);
  });

  it('refuses a loop of links instead of recursing forever', () => {
    const result = checkArchiveEntries([sym('a', 'b'), sym('b', 'a')]);
    assert.deepEqual(result, { ok: false, entry: 'a', problem: 'links to "b", a loop of symbolic links' });
  });

  it('refuses an empty link target and a NUL in a name', () => {
    assert.deepEqual(checkArchiveEntries([sym('a', '')]), { ok: false, entry: 'a', problem: 'has an empty link target' });
    assert.equal(checkArchiveEntries([file('a\0b')]).ok, false);
  });

  it('refuses a hard link to the extraction folder itself', () => {
    assert.deepEqual(checkArchiveEntries([hard('h', '.')]), { ok: false, entry: 'h', problem: 'is a hard link to the extraction folder itself' });
  });

  it('accepts a root "./" folder entry', () => {
    assert.deepEqual(checkArchiveEntries([dir('./'), file('./a.js')]), { ok: true, stripPackage: false });
  });
});

describe('placedSegments', () => {
  it('drops empty and "." segments, and package/ when stripping', () => {
    assert.deepEqual(placedSegments('./a//b/./c.js', false), ['a', 'b', 'c.js']);
    assert.deepEqual(placedSegments('package/lib/', true), ['lib']);
    assert.deepEqual(placedSegments('package/', true), []);
  });
});
