import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ThreadChoice } from '../../src/runtime/thread-choice.ts';

describe('ThreadChoice', () => {
  it('moves to the pool on the first call longer than the limit, and back only after a calm spell', () => {
    const choice = new ThreadChoice({ slowCallMs: 5, calmMs: 2000 });
    assert.equal(choice.record(5, 1000), false, 'at the limit is not over it');
    assert.equal(choice.thread, 'main');
    assert.equal(choice.record(5.1, 1100), true);
    assert.equal(choice.thread, 'pool');
    assert.equal(choice.record(40, 2000), false, 'already there');
    assert.equal(choice.settle(3999), false, 'the slow call at 2000 is not 2000 ms old');
    assert.equal(choice.record(1, 3000), false);
    assert.equal(choice.settle(4000), true);
    assert.equal(choice.thread, 'main');
    assert.equal(choice.settle(9000), false, 'already back');
  });

  it('can start on the pool, and leaves it after a calm spell from then', () => {
    const choice = new ThreadChoice({ slowCallMs: 5, calmMs: 2000, poolSince: 1000 });
    assert.equal(choice.thread, 'pool');
    assert.equal(choice.settle(2999), false);
    assert.equal(choice.settle(3000), true);
    assert.equal(new ThreadChoice({ slowCallMs: 0, calmMs: 2000, poolSince: 1000 }).thread, 'main', 'not with moving off');
  });

  it('never moves with a limit of 0', () => {
    const choice = new ThreadChoice({ slowCallMs: 0, calmMs: 2000 });
    assert.equal(choice.record(10_000, 1), false);
    assert.equal(choice.thread, 'main');
  });
});
