// The in-flight request table: ids find their request until it ends, a stale id never finds the
// request that reused its slot, and slots are reused instead of growing with every request.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RequestTable } from '../../src/runtime/request-table.ts';

describe('RequestTable', () => {
  it('finds a request by its id until it is deleted', () => {
    const table = new RequestTable<string>();
    const a = table.add('a');
    const b = table.add('b');
    assert.notEqual(a, 0);
    assert.notEqual(a, b);
    assert.equal(table.size, 2);
    assert.equal(table.get(a), 'a');
    assert.equal(table.get(b), 'b');
    assert.equal(table.delete(a), 'a');
    assert.equal(table.get(a), undefined);
    assert.equal(table.has(a), false);
    assert.equal(table.delete(a), undefined, 'a second delete finds nothing');
    assert.equal(table.size, 1);
  });

  it('never lets a stale id reach the request that reused its slot', () => {
    const table = new RequestTable<string>();
    const old = table.add('old');
    table.delete(old);
    const reused = table.add('new');
    assert.notEqual(reused, old);
    assert.equal(table.get(old), undefined);
    assert.equal(table.delete(old), undefined);
    assert.equal(table.get(reused), 'new');
  });

  it('reuses slots: ids stay unique over many requests while the table stays small', () => {
    const table = new RequestTable<number>();
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const ids = [table.add(i), table.add(i + 1), table.add(i + 2)];
      for (const id of ids) {
        assert.ok(!seen.has(id), `id ${id} handed out twice`);
        seen.add(id);
        assert.ok(Number.isSafeInteger(id));
      }
      for (const id of ids) table.delete(id);
    }
    assert.equal(table.size, 0);
    // Three slots served all 30,000 requests: every id's low bits name one of them.
    assert.deepEqual(new Set([...seen].map((id) => id % 2 ** 20)), new Set([0, 1, 2]));
  });

  it('drains every request in flight and is empty afterwards', () => {
    const table = new RequestTable<string>();
    const ids = ['a', 'b', 'c'].map((v) => table.add(v));
    table.delete(ids[1]!);
    assert.deepEqual(table.drain().sort(), ['a', 'c']);
    assert.equal(table.size, 0);
    for (const id of ids) assert.equal(table.get(id), undefined);
    const again = table.add('d');
    assert.equal(table.get(again), 'd');
  });
});
