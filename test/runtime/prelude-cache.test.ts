import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cachedPrelude } from '../../src/runtime/prelude-cache.ts';

describe('prelude cache', () => {
  it('bundles once, answers from disk while the sources are unchanged, and rebundles when one changes', (t) => {
    // Inside the repo's node_modules/.cache so the copied prelude still resolves its npm imports.
    const cacheRoot = path.join(import.meta.dirname, '..', '..', 'node_modules', '.cache');
    mkdirSync(cacheRoot, { recursive: true });
    const dir = mkdtempSync(path.join(cacheRoot, 'tandem-prelude-cache-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const prelude = path.join(dir, 'prelude');
    cpSync(path.join(import.meta.dirname, '..', '..', 'src', 'runtime', 'prelude'), prelude, { recursive: true });
    const cache = path.join(dir, 'cache');
    const entry = path.join(prelude, 'index.js');
    const first = cachedPrelude(entry, cache);
    const [cached] = readdirSync(cache);
    assert.match(cached!, /^prelude-[0-9a-f]{16}\.js$/);
    writeFileSync(path.join(cache, cached!), '/* from the cache */');
    assert.equal(cachedPrelude(entry, cache), '/* from the cache */', 'unchanged sources are read from disk');
    writeFileSync(path.join(prelude, 'define-global.js'), `${'// changed\n'}export function defineGlobal(g, name, value) { Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false }); }\n`);
    const rebuilt = cachedPrelude(entry, cache);
    assert.notEqual(rebuilt, '/* from the cache */', 'a changed source is bundled again');
    assert.equal(rebuilt.length > 10_000, true);
    assert.equal(first.length > 10_000, true);
    assert.deepEqual(readdirSync(cache).length, 1, 'the old entry is removed');
  });
});
