// FormData (XHR Standard): an ordered list of name → string | File entries.

import { Blob, File, blobBytes, fileFromOwnedBytes } from './blob.js';
import { pairIteratorFactory } from './iterator.js';

const formDataIterator = pairIteratorFactory('FormData Iterator');

function entryValue(value, filename, argc) {
  if (!(value instanceof Blob)) {
    if (argc > 2) throw new TypeError("Failed to execute on 'FormData': parameter 2 is not of type 'Blob'.");
    return String(value);
  }
  const name = filename !== undefined ? String(filename) : value instanceof File ? value.name : 'blob';
  if (value instanceof File && filename === undefined) return value;
  const lastModified = value instanceof File ? value.lastModified : Date.now();
  return fileFromOwnedBytes(blobBytes(value), name, value.type, lastModified);
}

function requireArgs(count, needed, method) {
  if (count < needed) {
    throw new TypeError(`Failed to execute '${method}' on 'FormData': ${needed} arguments required, but only ${count} present.`);
  }
}

export class FormData {
  #entries = [];

  constructor(form = undefined) {
    if (form !== undefined) throw new TypeError("Failed to construct 'FormData': there are no HTML forms in this runtime.");
  }

  append(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, 'append');
    this.#entries.push([String(name), entryValue(value, filename, arguments.length)]);
  }

  delete(name) {
    requireArgs(arguments.length, 1, 'delete');
    const key = String(name);
    this.#entries = this.#entries.filter((e) => e[0] !== key);
  }

  get(name) {
    requireArgs(arguments.length, 1, 'get');
    const key = String(name);
    const entry = this.#entries.find((e) => e[0] === key);
    return entry === undefined ? null : entry[1];
  }

  getAll(name) {
    requireArgs(arguments.length, 1, 'getAll');
    const key = String(name);
    return this.#entries.filter((e) => e[0] === key).map((e) => e[1]);
  }

  has(name) {
    requireArgs(arguments.length, 1, 'has');
    const key = String(name);
    return this.#entries.some((e) => e[0] === key);
  }

  set(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, 'set');
    const key = String(name);
    const entry = [key, entryValue(value, filename, arguments.length)];
    const first = this.#entries.findIndex((e) => e[0] === key);
    if (first === -1) {
      this.#entries.push(entry);
      return;
    }
    this.#entries = this.#entries.filter((e, i) => i === first || e[0] !== key);
    this.#entries[first] = entry;
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== 'function') throw new TypeError("Failed to execute 'forEach' on 'FormData': parameter 1 is not a function.");
    for (const [name, value] of this.#entries.slice()) callback.call(thisArg, value, name, this);
  }

  entries() { return formDataIterator(this.#entries.slice(), 'key+value'); }
  keys() { return formDataIterator(this.#entries.slice(), 'key'); }
  values() { return formDataIterator(this.#entries.slice(), 'value'); }
}

FormData.prototype[Symbol.iterator] = FormData.prototype.entries;
Object.defineProperty(FormData.prototype, Symbol.iterator, { enumerable: false });
Object.defineProperty(FormData.prototype, Symbol.toStringTag, { value: 'FormData', configurable: true });
