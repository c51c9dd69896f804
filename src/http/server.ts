// The node:http listener for apps: limits, malformed-request answers, graceful close.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log.ts';
import type { Router } from './router.ts';

export interface AppServerOptions {
  readonly host: string;
  readonly port: number;
  readonly router: Router;
  readonly logger: Logger;
}

export class AppServer {
  readonly #server: http.Server;
  readonly #o: AppServerOptions;
  #inFlight = 0;
  #idle: (() => void) | null = null;

  constructor(options: AppServerOptions) {
    this.#o = options;
    this.#server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 5_000 }, (req, res) => {
      this.#inFlight++;
      // `on`, not `once`: a response closes once, and once() costs a wrapper per request.
      res.on('close', this.#onClose);
      try {
        options.router.handle(req, res);
      } catch (err) {
        options.logger.error({ err, url: req.url }, 'request handling failed');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('Internal Server Error\n');
        } else {
          res.destroy();
        }
      }
    });
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#clientError(err, socket));
  }

  readonly #onClose = (): void => {
    this.#inFlight--;
    if (this.#inFlight === 0) this.#idle?.();
  };

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting, lets in-flight requests finish (at most `graceMs`), then closes every connection. */
  async close(graceMs: number): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#server.closeAllConnections();
    await closed;
  }

  #clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    this.#o.logger.info({ code: err.code, remote: socket.remoteAddress }, 'malformed request refused');
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }
}
