import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contextPathOf, parseBundleName } from '../../src/deploy/bundle-name.ts';
import type { BundleFormat } from '../../src/deploy/bundle-name.ts';

type Expected = [name: string, contextPath: string, version: string | null, format: BundleFormat];

const bundles: readonly (readonly [fileName: string, isDirectory: boolean, expected: Expected])[] = [
  ['shop', true, ['shop', '/shop', null, 'folder']],
  ['shop##1.2.0', true, ['shop', '/shop', '1.2.0', 'folder']],
  ['shop.js', true, ['shop.js', '/shop.js', null, 'folder']],
  ['shop##1.0.0.tgz', true, ['shop', '/shop', '1.0.0.tgz', 'folder']],
  ['ROOT', true, ['ROOT', '/', null, 'folder']],
  ['ROOT##2.0.0', true, ['ROOT', '/', '2.0.0', 'folder']],
  ['ROOT##2.0.0.tgz', false, ['ROOT', '/', '2.0.0', 'tgz']],
  ['root.zip', false, ['root', '/root', null, 'zip']],
  ['ROOT#docs.zip', false, ['ROOT#docs', '/ROOT/docs', null, 'zip']],
  ['shop#api', true, ['shop#api', '/shop/api', null, 'folder']],
  ['shop#api##2.tgz', false, ['shop#api', '/shop/api', '2', 'tgz']],
  ['shop#api#v2##2026.11.23.zip', false, ['shop#api#v2', '/shop/api/v2', '2026.11.23', 'zip']],
  ['shop.js', false, ['shop', '/shop', null, 'js']],
  ['shop##3.mjs', false, ['shop', '/shop', '3', 'mjs']],
  ['shop##1.0.0-rc.1+build.5.ts', false, ['shop', '/shop', '1.0.0-rc.1+build.5', 'ts']],
  ['shop##1.0.0.tar.gz', false, ['shop', '/shop', '1.0.0', 'tgz']],
  ['shop.TGZ', false, ['shop', '/shop', null, 'tgz']],
  ['my.app##1_0.js', false, ['my.app', '/my.app', '1_0', 'js']],
  ["a~!$&'()*+,;=:@%-b.js", false, ["a~!$&'()*+,;=:@%-b", "/a~!$&'()*+,;=:@%-b", null, 'js']],
  ['x'.repeat(197) + '.js', false, ['x'.repeat(197), '/' + 'x'.repeat(197), null, 'js']],
];

const ignored: readonly (readonly [fileName: string, isDirectory: boolean])[] = [
  ['.tandem', true],
  ['.DS_Store', false],
  ['.shop.tgz', false],
  ['shop.tgz~', false],
  ['.shop.js.swp', false],
  ['shop.js.swx', false],
  ['shop.tgz.tmp', false],
  ['shop.zip.part', false],
  ['shop.zip.crdownload', false],
  ['#shop.js#', false],
  ['4913', false],
  ['shop~', true],
];

const invalid: readonly (readonly [fileName: string, isDirectory: boolean, reasonPattern: RegExp])[] = [
  ['notes.txt', false, /^unsupported file type \.txt; a bundle is a folder, \.js\/\.mjs\/\.ts, \.tgz\/\.tar\.gz or \.zip$/],
  ['shop.war', false, /unsupported file type \.war/],
  ['shop.gz', false, /unsupported file type \.gz/],
  ['shop##1.0.0', false, /unsupported file type \(none\)/],
  ['Makefile', false, /unsupported file type \(none\)/],
  ['##1.0.tgz', false, /app name before "##" is empty/],
  ['shop##', true, /version after "##" is empty/],
  ['shop##.zip', false, /version after "##" is empty/],
  ['shop##1.0##2', true, /"##" appears more than once/],
  ['#shop', true, /empty segment/],
  ['shop#', true, /empty segment/],
  ['a##b#c', true, /version "b#c" has a character outside/],
  ['shop###1', true, /version "#1" has a character outside/],
  ['a##b#c.js', false, /version "b#c"/],
  ['shop##1.0/x', true, /version "1.0\/x"/],
  ['sh op.js', false, /app name "sh op" has a character outside/],
  ['shop?.js', false, /character outside/],
  ['café.js', false, /character outside/],
  ['shop#..#x', true, /has a "\.\." segment/],
  ['shop#.', true, /has a "\." segment/],
  ['shop##1.0~rc', true, /version "1.0~rc" has a character outside/],
  ['x'.repeat(198) + '.js', false, /201 characters long, more than 200/],
];

describe('parseBundleName', () => {
  for (const [fileName, isDirectory, [name, contextPath, version, format]] of bundles) {
    it(`reads ${isDirectory ? 'folder' : 'file'} ${JSON.stringify(fileName.slice(0, 40))} as ${name} ${version ?? '(no version)'}`, () => {
      assert.deepEqual(parseBundleName(fileName, isDirectory), {
        kind: 'bundle',
        bundle: { fileName, name, contextPath, version, format },
      });
    });
  }

  for (const [fileName, isDirectory] of ignored) {
    it(`ignores ${JSON.stringify(fileName)}`, () => {
      assert.deepEqual(parseBundleName(fileName, isDirectory), { kind: 'ignored' });
    });
  }

  for (const [fileName, isDirectory, reasonPattern] of invalid) {
    it(`refuses ${JSON.stringify(fileName.slice(0, 40))} with a reason matching ${reasonPattern.source.slice(0, 50)}`, () => {
      const result = parseBundleName(fileName, isDirectory);
      assert.equal(result.kind, 'invalid', JSON.stringify(result));
      if (result.kind !== 'invalid') return;
      assert.match(result.reason, reasonPattern);
      // One sentence saying what is wrong and what a valid name looks like.
      assert.doesNotMatch(result.reason, /\n/);
      if (!/unsupported file type/.test(result.reason)) assert.match(result.reason, /name a bundle like shop/);
    });
  }

  it('ignores hidden entries even when they would otherwise be invalid', () => {
    assert.deepEqual(parseBundleName('.js', true), { kind: 'ignored' });
    assert.deepEqual(parseBundleName('.tgz', false), { kind: 'ignored' });
  });

  it('reads "shop##api" as app shop at version api', () => {
    const result = parseBundleName('shop##api', true);
    assert.equal(result.kind, 'bundle');
    if (result.kind === 'bundle') assert.deepEqual([result.bundle.name, result.bundle.version], ['shop', 'api']);
  });
});

describe('contextPathOf', () => {
  it('maps Tomcat base names to context paths', () => {
    assert.equal(contextPathOf('ROOT'), '/');
    assert.equal(contextPathOf('shop'), '/shop');
    assert.equal(contextPathOf('shop#api'), '/shop/api');
    assert.equal(contextPathOf('ROOT#x'), '/ROOT/x');
  });
});
