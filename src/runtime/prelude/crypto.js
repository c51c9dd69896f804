// crypto.getRandomValues and crypto.randomUUID, fed by the host's CSPRNG. Random bytes are
// fetched in blocks so a UUID per request does not cost a boundary crossing each time.
import { defineGlobal } from './define-global.js';

const blockSize = 4096;
const maxRequest = 65536;

export function installCrypto(g, host) {
  let pool = new Uint8Array(0);
  let offset = 0;

  function take(n) {
    if (n > pool.length - offset) {
      pool = new Uint8Array(host.randomBytes(Math.max(blockSize, n)));
      offset = 0;
    }
    const bytes = pool.subarray(offset, offset + n);
    offset += n;
    return bytes;
  }

  const integerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];

  function getRandomValues(array) {
    if (!integerArrays.some((C) => array instanceof C)) {
      throw new g.DOMException('getRandomValues: argument must be an integer-typed array', 'TypeMismatchError');
    }
    if (array.byteLength > maxRequest) {
      throw new g.DOMException(`getRandomValues: ${array.byteLength} bytes requested, at most ${maxRequest} allowed`, 'QuotaExceededError');
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(take(array.byteLength));
    return array;
  }

  const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  function randomUUID() {
    const b = take(16);
    const v = (i) => hex[b[i]];
    const b6 = hex[(b[6] & 0x0f) | 0x40];
    const b8 = hex[(b[8] & 0x3f) | 0x80];
    return `${v(0)}${v(1)}${v(2)}${v(3)}-${v(4)}${v(5)}-${b6}${v(7)}-${b8}${v(9)}-${v(10)}${v(11)}${v(12)}${v(13)}${v(14)}${v(15)}`;
  }

  class Crypto {
    getRandomValues(array) { return getRandomValues(array); }
    randomUUID() { return randomUUID(); }
    get [Symbol.toStringTag]() { return 'Crypto'; }
  }
  defineGlobal(g, 'Crypto', Crypto);
  defineGlobal(g, 'crypto', new Crypto());
}
