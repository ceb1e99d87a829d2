import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';

export type ServerState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/**
 * A Node HTTP server with an explicit lifecycle. Like koa, the app never owns the server: the role that
 * created it calls `start()` and `stop()`. `stop()` is idempotent and awaitable: it stops accepting, lets
 * in-flight requests finish, closes idle keep-alive sockets, then destroys whatever is left after `graceMs`.
 */
export class ManagedServer {
  readonly server: http.Server;
  #state: ServerState = 'idle';
  #stopping: Promise<void> | undefined;
  readonly #upgraded = new Set<Duplex>();

  constructor(handler: http.RequestListener) {
    this.server = http.createServer((req, res) => {
      if (this.#state === 'closing') {
        // Keep-alive sockets may still deliver requests while we drain: refuse them and close the socket.
        res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ error: 'shutting_down', message: 'the server is shutting down' }));
        return;
      }
      // A request that finishes while we drain (a long-poll answered shutting_down) must not leave its keep-alive
      // socket open until the client's idle timeout: closing waits for every socket.
      res.once('finish', () => {
        if (this.#state === 'closing') req.socket.end();
      });
      handler(req, res);
    });
    // Garbage on the wire (not HTTP, oversized headers) is answered and dropped, never thrown.
    this.server.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    // Sockets taken over by an upgrade (WebSocket) are no longer tracked by closeAllConnections().
    this.server.on('upgrade', (_req, socket: Duplex) => {
      this.#upgraded.add(socket);
      socket.once('close', () => this.#upgraded.delete(socket));
    });
  }

  get state(): ServerState {
    return this.#state;
  }

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Listens on `port` (0 = any free one) and resolves with the bound port. */
  async start(port: number, host: string): Promise<number> {
    if (this.#state !== 'idle') throw new Error(`start() called in state ${this.#state}`);
    this.#state = 'starting';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.#state = 'running';
    return this.port;
  }

  /** Drains, then forces after `graceMs` (default 5 s). */
  stop(graceMs = 5000): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'closed';
      return;
    }
    this.#state = 'closing';
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => {
      this.server.closeAllConnections();
      for (const s of this.#upgraded) s.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
    this.#state = 'closed';
  }
}
