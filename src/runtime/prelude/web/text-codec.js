// UTF-8 encoding and decoding (WHATWG Encoding), pure JavaScript; TextDecoder also reads windows-1252.

const REPLACEMENT = 0xfffd;

/** UTF-8 bytes of a string; lone surrogates become U+FFFD. */
export function encodeUtf8(str) {
  const length = str.length;
  const ascii = new Uint8Array(length);
  let i = 0;
  for (; i < length; i++) {
    const c = str.charCodeAt(i);
    if (c > 0x7f) break;
    ascii[i] = c;
  }
  if (i === length) return ascii;

  let size = i;
  for (let j = i; j < length; j++) {
    const c = str.charCodeAt(j);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (c >= 0xd800 && c <= 0xdbff && j + 1 < length && (str.charCodeAt(j + 1) & 0xfc00) === 0xdc00) {
      size += 4;
      j++;
    } else size += 3;
  }
  const out = new Uint8Array(size);
  out.set(ascii.subarray(0, i));
  writeUtf8(str, i, out, i, size);
  return out;
}

/** Writes UTF-8 of str[from…] into out[at…] while it fits; returns { read, written } in UTF-16 units / bytes. */
function writeUtf8(str, from, out, at, limit) {
  const length = str.length;
  let i = from;
  let o = at;
  while (i < length) {
    let c = str.charCodeAt(i);
    let units = 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < length ? str.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && (next & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else c = REPLACEMENT;
    }
    if (c < 0x80) {
      if (o + 1 > limit) break;
      out[o++] = c;
    } else if (c < 0x800) {
      if (o + 2 > limit) break;
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      if (o + 3 > limit) break;
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      if (o + 4 > limit) break;
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
    i += units;
  }
  return { read: i - from, written: o - at };
}

const CHUNK = 0x2000;

function unitsToString(units, length) {
  if (length <= CHUNK) return String.fromCharCode.apply(null, units.subarray(0, length));
  let out = '';
  for (let i = 0; i < length; i += CHUNK) {
    out += String.fromCharCode.apply(null, units.subarray(i, Math.min(i + CHUNK, length)));
  }
  return out;
}

/**
 * The Encoding Standard's UTF-8 decoder as a resumable state machine: bytes of a sequence split across
 * stream chunks wait in the state; errors become U+FFFD (maximal subparts) or, when fatal, a TypeError.
 */
export class Utf8DecoderState {
  needed = 0;
  seen = 0;
  codePoint = 0;
  lower = 0x80;
  upper = 0xbf;

  decode(bytes, flush, fatal) {
    const length = bytes.length;
    // Every byte yields at most one UTF-16 unit, except that a 4-byte sequence yields 2 (and the end may add 1).
    const units = new Uint16Array(length + 2);
    let n = 0;
    let { needed, seen, codePoint, lower, upper } = this;
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      if (needed === 0) {
        if (b <= 0x7f) units[n++] = b;
        else if (b >= 0xc2 && b <= 0xdf) { needed = 1; codePoint = b & 0x1f; }
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) lower = 0xa0;
          else if (b === 0xed) upper = 0x9f;
          needed = 2;
          codePoint = b & 0xf;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) lower = 0x90;
          else if (b === 0xf4) upper = 0x8f;
          needed = 3;
          codePoint = b & 0x7;
        } else {
          if (fatal) throw invalid();
          units[n++] = REPLACEMENT;
        }
        continue;
      }
      if (b < lower || b > upper) {
        needed = seen = codePoint = 0;
        lower = 0x80;
        upper = 0xbf;
        if (fatal) throw invalid();
        units[n++] = REPLACEMENT;
        i--; // the byte starts over as the first of a new sequence
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      codePoint = (codePoint << 6) | (b & 0x3f);
      if (++seen !== needed) continue;
      if (codePoint > 0xffff) {
        const cp = codePoint - 0x10000;
        units[n++] = 0xd800 + (cp >> 10);
        units[n++] = 0xdc00 + (cp & 0x3ff);
      } else units[n++] = codePoint;
      needed = seen = codePoint = 0;
    }
    if (flush && needed !== 0) {
      needed = seen = codePoint = 0;
      lower = 0x80;
      upper = 0xbf;
      if (fatal) throw invalid();
      units[n++] = REPLACEMENT;
    }
    this.needed = needed;
    this.seen = seen;
    this.codePoint = codePoint;
    this.lower = lower;
    this.upper = upper;
    return unitsToString(units, n);
  }
}

function invalid() {
  return new TypeError('The encoded data was not valid UTF-8');
}

/** UTF-8 decode of a complete byte sequence, BOM stripped, errors replaced (the Fetch body "UTF-8 decode"). */
export function decodeUtf8(bytes) {
  const text = new Utf8DecoderState().decode(bytes, true, false);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

// windows-1252 bytes 0x80–0x9F; every other byte maps to the code point of the same value.
const windows1252High = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

function decodeWindows1252(bytes) {
  const units = new Uint16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    units[i] = b >= 0x80 && b <= 0x9f ? windows1252High[b - 0x80] : b;
  }
  return unitsToString(units, units.length);
}

const utf8Labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'];
const windows1252Labels = [
  'ansi_x3.4-1968', 'ascii', 'cp1252', 'cp819', 'csisolatin1', 'ibm819', 'iso-8859-1', 'iso-ir-100', 'iso8859-1',
  'iso88591', 'iso_8859-1', 'iso_8859-1:1987', 'l1', 'latin1', 'us-ascii', 'windows-1252', 'x-cp1252',
];

function encodingForLabel(label) {
  const key = String(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '').toLowerCase();
  if (utf8Labels.includes(key)) return 'utf-8';
  if (windows1252Labels.includes(key)) return 'windows-1252';
  throw new RangeError(`The encoding label provided ('${String(label)}') is not supported: use 'utf-8' or 'windows-1252'`);
}

/** A Uint8Array view of a BufferSource, without copying. */
export function bufferSourceBytes(input, what) {
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && input instanceof SharedArrayBuffer)) {
    return new Uint8Array(input);
  }
  throw new TypeError(`${what}: the provided value is not an ArrayBuffer or ArrayBufferView`);
}

export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input = '') {
    return encodeUtf8(String(input));
  }

  encodeInto(source, destination) {
    if (!(destination instanceof Uint8Array)) {
      throw new TypeError("Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'.");
    }
    return writeUtf8(String(source), 0, destination, 0, destination.length);
  }
}

Object.defineProperty(TextEncoder.prototype, Symbol.toStringTag, { value: 'TextEncoder', configurable: true });

export class TextDecoder {
  #encoding;
  #fatal;
  #ignoreBOM;
  #state = null;
  #bomChecked = false;

  constructor(label = 'utf-8', options = undefined) {
    this.#encoding = encodingForLabel(label);
    this.#fatal = !!options?.fatal;
    this.#ignoreBOM = !!options?.ignoreBOM;
  }

  get encoding() { return this.#encoding; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }

  decode(input = undefined, options = undefined) {
    const bytes = input === undefined || input === null ? new Uint8Array(0) : bufferSourceBytes(input, "Failed to execute 'decode' on 'TextDecoder'");
    const stream = !!options?.stream;
    if (this.#encoding === 'windows-1252') return decodeWindows1252(bytes);

    const state = (this.#state ??= new Utf8DecoderState());
    let text;
    try {
      text = state.decode(bytes, !stream, this.#fatal);
    } catch (err) {
      this.#state = null;
      this.#bomChecked = false;
      throw err;
    }
    if (!this.#bomChecked && text.length > 0) {
      this.#bomChecked = true;
      if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (!stream) {
      this.#state = null;
      this.#bomChecked = false;
    }
    return text;
  }
}

Object.defineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: 'TextDecoder', configurable: true });
