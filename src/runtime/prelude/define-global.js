// Web globals are non-enumerable, writable and configurable, as in browsers and workerd.
export function defineGlobal(g, name, value) {
  Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
}
