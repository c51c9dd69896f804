// application/x-www-form-urlencoded parsing (URL Standard), without loading the URL implementation.

import { decodeUtf8, encodeUtf8 } from './text-codec.js';

function percentDecode(s) {
  const plain = s.replace(/\+/g, ' ');
  if (!plain.includes('%')) return plain;
  try {
    return decodeURIComponent(plain);
  } catch {
    // Invalid escapes or invalid UTF-8: decode byte by byte as the URL Standard does.
    const bytes = encodeUtf8(plain);
    const out = new Uint8Array(bytes.length);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
        out[n++] = parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16);
        i += 2;
      } else out[n++] = b;
    }
    return decodeUtf8(out.subarray(0, n));
  }
}

function isHex(b) {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

/** The name/value pairs of a urlencoded string, in order. */
export function parseUrlencoded(input) {
  const pairs = [];
  for (const sequence of input.split('&')) {
    if (sequence === '') continue;
    const eq = sequence.indexOf('=');
    const name = eq === -1 ? sequence : sequence.slice(0, eq);
    const value = eq === -1 ? '' : sequence.slice(eq + 1);
    pairs.push([percentDecode(name), percentDecode(value)]);
  }
  return pairs;
}
