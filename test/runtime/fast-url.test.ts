// The URL fast path must be indistinguishable from core-js's WHATWG parser: every getter, for every
// URL of a corpus built to hit the edges (case, IPv4 forms, IDN, ports, dot segments, characters
// WHATWG percent-encodes, empty query and fragment), and it must take the fast path where it should.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ivm from 'isolated-vm';
import { collectIsolateHandlesAtExit } from '../../src/runtime/exit-collect.ts';
import { bundlePrelude } from '../../src/runtime/prelude-source.ts';

const entry = fileURLToPath(new URL('../fixtures/prelude/fast-url-entry.js', import.meta.url));

function corpus(): string[] {
  const schemes = ['http', 'https', 'HTTP', 'ftp', 'ws'];
  const hosts = ['example.com', 'EXAMPLE.com', 'a-b.c', '127.0.0.1', '127.1', '0x7f.0.0.1', '256.1.1.1', '1.2.3.04', '01.2.3.4', 'xn--nxasmq6b.com', 'a.xn--nxasmq6b', '-a.com', 'a-.com', 'a_b.com', 'localhost', '[::1]', '1.2.3.4.5', 'foo.123', '99', 'foo.0x1', 'user@host.com', 'a..b', 'ü.com'];
  const ports = ['', ':80', ':443', ':8080', ':0', ':65535', ':65536', ':08080', ':'];
  const paths = ['', '/', '/a/b', '/a/./b', '/a/../b', '/%2e/', '/%2E%2E/x', '/..', '/.', '/a.b/c..d', '/a%20b', '/a b', '/ü', "/a'b", '/a"b', '/a<b', '/{x}', '/a|b', '/a^b', '/a`b', '/a\\b', '/a;b=c', '/@x', '/~user', '/%zz', '/a%2Fb', '//double'];
  const queries = ['', '?', '?a=1', '?a=1&b=2', "?a'b", '?a b', '?q=%20', '?x=ü', '?a/b?c', '?a=1;b', '?<x>'];
  const fragments = ['', '#', '#x', '#a b'];
  const out = new Set<string>();
  const base = { s: 'http', h: 'example.com', p: '', path: '/a', q: '', f: '' };
  const make = (o: typeof base): string => `${o.s}://${o.h}${o.p}${o.path}${o.q}${o.f}`;
  for (const s of schemes) for (const h of hosts) for (const p of ports) out.add(make({ ...base, s, h, p }));
  for (const path of paths) for (const q of queries) for (const f of fragments) out.add(make({ ...base, path, q, f }));
  for (const h of hosts) for (const path of paths) out.add(make({ ...base, h, path, s: 'https' }));
  for (const extra of [' http://example.com/', 'http://example.com/\t', 'http:/example.com/', 'http:example.com', 'HTTP://Example.COM:80/A?B#C', 'http://127.0.0.1:8080/hello', 'http://localhost:3000/api/users/42?include=posts&limit=10']) out.add(extra);
  return [...out];
}

describe('URL fast path', () => {
  it('matches core-js on every getter for a corpus of edge cases, and takes the fast path for plain request URLs', async () => {
    collectIsolateHandlesAtExit(); // as AppIsolate does: this file makes isolates of its own
    const isolate = new ivm.Isolate({ memoryLimit: 128 });
    try {
      const context = isolate.createContextSync();
      isolate.compileScriptSync(bundlePrelude(entry)).runSync(context);
      const urls = corpus();
      const result = JSON.parse(context.evalClosureSync(`
        const urls = JSON.parse($0);
        const getters = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
        const describe = (C, u) => { try { const x = new C(u); return getters.map((g) => x[g]).concat(String(x), JSON.stringify(x)); } catch (e) { return ['throws ' + e.constructor.name]; } };
        const mismatches = [];
        let fast = 0;
        for (const u of urls) {
          if (__parseSimple(u) !== null) fast++;
          const a = JSON.stringify(describe(__FastURL, u));
          const b = JSON.stringify(describe(__CoreURL, u));
          if (a !== b) mismatches.push({ u, fast: a, core: b });
        }
        const plain = ['http://127.0.0.1:8080/hello', 'https://example.com/a/b?x=1&y=2', 'http://localhost:3000/'].every((u) => __parseSimple(u) !== null);
        const viaSetter = new __FastURL('http://example.com/a?x=1');
        viaSetter.searchParams.set('y', '2');
        viaSetter.pathname = '/b c';
        return JSON.stringify({ mismatches, fast, total: urls.length, plain, afterSetters: viaSetter.href });
      `, [JSON.stringify(urls)]) as string);
      assert.deepEqual(result.mismatches, [], JSON.stringify(result.mismatches.slice(0, 5), null, 1));
      assert.ok(result.plain, 'plain request URLs take the fast path');
      assert.ok(result.fast > 50 && result.fast < result.total, `fast path taken for ${result.fast} of ${result.total}`);
      assert.equal(result.afterSetters, 'http://example.com/b%20c?x=1&y=2');
    } finally {
      isolate.dispose();
    }
  });
});
