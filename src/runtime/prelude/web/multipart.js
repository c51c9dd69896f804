// multipart/form-data (RFC 7578, HTML's encoding algorithm): FormData → bytes and bytes → FormData.

import { File, blobBytes, concat, fileFromOwnedBytes } from './blob.js';
import { FormData } from './form-data.js';
import { decodeUtf8, encodeUtf8 } from './text-codec.js';

const boundaryAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function newBoundary() {
  // The boundary only has to be absent from the payload, not secret: Math.random is enough.
  let b = '----TandemFormBoundary';
  for (let i = 0; i < 24; i++) b += boundaryAlphabet[Math.floor(Math.random() * boundaryAlphabet.length)];
  return b;
}

function escapeName(name) {
  return name.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

function normalizeNewlines(s) {
  return s.replace(/\r\n|\r|\n/g, '\r\n');
}

/** Serialises a FormData; returns the body bytes and the Content-Type that names their boundary. */
export function encodeMultipart(formData) {
  const boundary = newBoundary();
  const chunks = [];
  let total = 0;
  const push = (bytes) => {
    chunks.push(bytes);
    total += bytes.length;
  };
  let head = '';
  for (const [name, value] of FormData.prototype.entries.call(formData)) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(normalizeNewlines(name))}"`;
    if (value instanceof File) {
      head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`;
      push(encodeUtf8(head));
      push(blobBytes(value));
      head = '\r\n';
    } else {
      head += `\r\n\r\n${normalizeNewlines(value)}\r\n`;
    }
  }
  push(encodeUtf8(`${head}--${boundary}--\r\n`));
  return { body: concat(chunks, total), contentType: `multipart/form-data; boundary=${boundary}` };
}

function indexOf(haystack, needle, from) {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function malformed(what) {
  return new TypeError(`Failed to parse body as FormData: ${what}`);
}

/** The parameter `name` of a header value like `form-data; name="a"; filename="b.txt"`, or null. */
function headerParameter(value, name) {
  const re = new RegExp(`;\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i');
  const m = re.exec(value);
  if (m === null) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/** The boundary named by a multipart Content-Type, or null. */
export function multipartBoundary(contentType) {
  return headerParameter(contentType, 'boundary');
}

/** Parses a multipart/form-data body; file parts become File entries. Throws TypeError when malformed. */
export function parseMultipart(bytes, boundary) {
  const delimiter = encodeUtf8(`--${boundary}`);
  const form = new FormData();
  let pos = indexOf(bytes, delimiter, 0);
  if (pos === -1) throw malformed('the boundary does not occur in the body');
  for (;;) {
    pos += delimiter.length;
    if (bytes[pos] === 0x2d && bytes[pos + 1] === 0x2d) return form; // "--": the closing delimiter
    if (bytes[pos] !== 0x0d || bytes[pos + 1] !== 0x0a) throw malformed('expected CRLF after a boundary');
    pos += 2;
    const headerEnd = indexOf(bytes, crlfcrlf, pos);
    if (headerEnd === -1) throw malformed('a part has no end of headers');
    const headers = decodeUtf8(bytes.subarray(pos, headerEnd)).split('\r\n');
    const bodyStart = headerEnd + 4;
    const next = indexOf(bytes, concatDelimiter(delimiter), bodyStart - 2);
    if (next === -1) throw malformed('a part is not closed by a boundary');
    const body = bytes.subarray(bodyStart, Math.max(bodyStart, next));
    addPart(form, headers, body);
    pos = next + 2;
  }
}

const crlfcrlf = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a]);

function concatDelimiter(delimiter) {
  const d = new Uint8Array(delimiter.length + 2);
  d[0] = 0x0d;
  d[1] = 0x0a;
  d.set(delimiter, 2);
  return d;
}

function addPart(form, headerLines, body) {
  let disposition = null;
  let type = null;
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') type = value;
  }
  if (disposition === null || !/^form-data\s*(;|$)/i.test(disposition)) {
    throw malformed('a part has no Content-Disposition: form-data header');
  }
  const name = headerParameter(disposition, 'name');
  if (name === null) throw malformed('a part has no name');
  const filename = headerParameter(disposition, 'filename');
  if (filename === null) {
    form.append(name, decodeUtf8(body));
  } else {
    form.append(name, fileFromOwnedBytes(body.slice(), filename, type ?? 'text/plain'));
  }
}
