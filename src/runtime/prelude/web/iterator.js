// Iterators over [name, value] pairs, shaped like WebIDL pair iterators ("Headers Iterator", …).

const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));

/** Returns a function (pairs, kind) => iterator whose objects carry `tag` as their Symbol.toStringTag. */
export function pairIteratorFactory(tag) {
  class PairIterator {
    #pairs;
    #kind;
    #index = 0;

    constructor(pairs, kind) {
      this.#pairs = pairs;
      this.#kind = kind;
    }

    next() {
      const pairs = this.#pairs;
      if (this.#index >= pairs.length) return { value: undefined, done: true };
      const pair = pairs[this.#index++];
      const kind = this.#kind;
      const value = kind === 'key' ? pair[0] : kind === 'value' ? pair[1] : [pair[0], pair[1]];
      return { value, done: false };
    }
  }
  Object.setPrototypeOf(PairIterator.prototype, IteratorPrototype);
  Object.defineProperty(PairIterator.prototype, Symbol.toStringTag, { value: tag, configurable: true });
  return (pairs, kind) => new PairIterator(pairs, kind);
}
