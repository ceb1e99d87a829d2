import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { clientIp } from '../util/client-ip.js';
import { mayReadHealthDetail } from '../util/health-access.js';
import { ManagedServer } from '../util/managed-server.js';
import type { Metrics } from './metrics.js';

/**
 * `GET /metrics` on its own port (METRICS_PORT / WS_METRICS_PORT), never the public one: the proxy forwards only
 * the app's port, so the public path cannot reach it. As a second fence, only a peer on loopback or a private
 * network (a Prometheus in the same cluster) or one with `Authorization: Bearer <HEALTH_TOKEN>` is answered — the
 * peer address as it is, with no X-Forwarded-For walk: nothing is meant to proxy this port.
 */
export class MetricsServer {
  readonly #http: ManagedServer;

  constructor(
    private readonly metrics: Metrics,
    private readonly opts: { logger: Logger; healthToken?: string | undefined },
  ) {
    this.#http = new ManagedServer((req, res) => void this.#serverOnRequest(req, res));
  }

  start(port: number, host: string): Promise<number> {
    return this.#http.start(port, host);
  }

  stop(): Promise<void> {
    return this.#http.stop(1000);
  }

  async #serverOnRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url?.split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', message: 'this port serves GET /metrics only' }));
      return;
    }
    if (
      !mayReadHealthDetail(
        clientIp(req.socket.remoteAddress, undefined),
        req.headers.authorization,
        this.opts.healthToken,
      )
    ) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'forbidden', message: 'metrics are for private networks or HEALTH_TOKEN' }));
      return;
    }
    try {
      const body = await this.metrics.render();
      res.writeHead(200, { 'content-type': this.metrics.contentType, 'cache-control': 'no-store' });
      res.end(body);
    } catch (err) {
      this.opts.logger.error({ err }, 'metrics collection failed');
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal', message: 'metrics collection failed' }));
    }
  }
}
