// The host's own error answers: short plain text, no detail an attacker could use.
import type { ServerResponse } from 'node:http';

export function sendError(res: ServerResponse, status: number, message: string, retry = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (retry) headers['retry-after'] = 1;
  if (status === 413 || status === 431) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
