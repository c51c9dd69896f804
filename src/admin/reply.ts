// Small response writers shared by the admin routes. Every admin response is private and uncached.
import type { ServerResponse } from 'node:http';

const commonHeaders = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
} as const;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...commonHeaders, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A JSON error body: `{ "error": message }`. */
export function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...commonHeaders, 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
