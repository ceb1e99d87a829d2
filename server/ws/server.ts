import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginWatchHub } from '../logins/watch-hub.js';
import type { RedisLink } from '../redis/link.js';
import type { RedisConfigSource } from '../reload/config-source.js';
import { redisHealth } from '../redis/health.js';
import type { Metrics } from '../metrics/metrics.js';
import { probe } from '../http/probes.js';
import { ManagedServer } from '../util/managed-server.js';
import { clientIp, clientKey, trustedProxies } from '../util/client-ip.js';
import { mayReadHealthDetail } from '../util/health-access.js';
import { ConnectionLimit } from '../util/connection-limit.js';
import { toAppError } from '../errors.js';
import { MAX_PAYLOAD, StatusMessages, errorMessage, serviceMessage } from './protocol.js';
import { Deadlines } from './deadlines.js';
import { type SessionDeps, WatchSession } from './watch-session.js';
import { watchOutages } from '../redis/outage.js';

export interface PushServerOptions {
  link: RedisLink;
  /** For health: where the Redis target comes from. */
  source?: RedisConfigSource;
  store: LoginStore;
  hub: LoginWatchHub;
  logger: Logger;
  /** Lets callers outside the private networks read /healthz's detail (see health-access.ts). */
  healthToken?: string | undefined;
  /** WebSocket path. Default `/ws`. */
  path?: string;
  /** Ping interval; a socket that has not answered the previous ping is terminated. Default 30 s. */
  heartbeatMs?: number;
  /** A socket that has sent no valid watch by then is closed with `watch_timeout`. Default 10 s. */
  watchTimeoutMs?: number;
  /** Open sockets per client IP (IPv6: per /64) in this process; 0 = unlimited (the default). */
  maxSocketsPerIp?: number;
  /** CIDRs of the proxies whose X-Forwarded-For is believed (TRUST_PROXY, the same rule as the http role). */
  trustProxy?: readonly string[];
  /** Where sockets, push latency and refusals are counted (the role's registry). */
  metrics?: Metrics;
}

type Tracked = WebSocket & { isAlive?: boolean };

/** The pong listener of every socket (one function, not a closure per socket): `this` is the socket. */
function markAlive(this: Tracked): void {
  this.isAlive = true;
}

/** Deadlines (watch timeout, expiry) are met this late at most; they share one timer per slot. */
const DEADLINE_RESOLUTION_MS = 250;

/** How long a refused socket may take to complete its close handshake before it is terminated. */
const REFUSED_LINGER_MS = 1000;

/**
 * The `ws` role: WebSocket push only (plus `/healthz`). It never serves the HTTP API. While closing it answers
 * new upgrades with 503, closes the sockets it accepted with 1012
 * (service restart: pages reconnect at once, to another node), and terminates the stragglers.
 */
export class PushServer {
  readonly #opts: Required<Pick<PushServerOptions, 'path' | 'heartbeatMs' | 'watchTimeoutMs'>> & PushServerOptions;
  readonly #http: ManagedServer;
  readonly #wss: WebSocketServer;
  readonly #perIp: ConnectionLimit;
  readonly #trusted: ReturnType<typeof trustedProxies>;
  readonly #sessions: SessionDeps;
  /** The error listener of every socket (one function, not a closure per socket). */
  readonly #socketOnError: (err: Error) => void;
  #heartbeat: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  #stopOutages: (() => void) | undefined;

  constructor(opts: PushServerOptions) {
    this.#opts = { path: '/ws', heartbeatMs: 30_000, watchTimeoutMs: 10_000, ...opts };
    this.#perIp = new ConnectionLimit(opts.maxSocketsPerIp ?? 0, 'open sockets from this address');
    const now = () => opts.store.now();
    this.#sessions = {
      store: opts.store,
      hub: opts.hub,
      logger: opts.logger,
      watchTimeoutMs: this.#opts.watchTimeoutMs,
      metrics: opts.metrics,
      watchTimeouts: new Deadlines((s: WatchSession) => s.watchTimedOut(), DEADLINE_RESOLUTION_MS, now),
      expiries: new Deadlines((s: WatchSession) => s.expire(), DEADLINE_RESOLUTION_MS, now),
      statusMessages: new StatusMessages(),
    };
    this.#socketOnError = (err) => this.#opts.logger.debug({ err: err.message }, 'socket error');
    this.#trusted = trustedProxies(opts.trustProxy ?? []);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, clientTracking: true });
    this.#http = new ManagedServer((req, res) => void this.#serverOnRequest(req, res));
    this.#http.server.on('upgrade', (req, socket, head) => this.#serverOnUpgrade(req, socket, head));
    opts.metrics?.trackGauge('scanlogin_ws_sockets', 'Open WebSockets', () => this.clientCount);
  }

  get port(): number {
    return this.#http.port;
  }

  get clientCount(): number {
    return this.#wss.clients.size;
  }

  async start(port: number, host: string): Promise<number> {
    const bound = await this.#http.start(port, host);
    this.#heartbeat = setInterval(() => this.#ping(), this.#opts.heartbeatMs);
    this.#heartbeat.unref();
    // A page watching a login is told when this process's Redis is down and back (protocol.ts serviceMessage):
    // its QR code would otherwise look scannable for the whole outage. After "back", each watched login's current
    // state follows (the hub's resync), or `unknown_login` when the Redis came back without it.
    this.#stopOutages = watchOutages(this.#opts.link, {
      down: () => this.#broadcast(serviceMessage(false)),
      up: () => this.#broadcast(serviceMessage(true)),
    });
    return bound;
  }

  /** Idempotent: 1012 to every socket, terminate after `graceMs`, then close the HTTP server. */
  stop(graceMs = 3000): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#heartbeat);
      this.#stopOutages?.();
      const closing = this.#http.stop(graceMs);
      for (const ws of this.#wss.clients) ws.close(1012, 'shutting_down');
      const timer = setTimeout(() => {
        for (const ws of this.#wss.clients) ws.terminate();
      }, graceMs);
      await closing;
      clearTimeout(timer);
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
      this.#sessions.watchTimeouts.clear();
      this.#sessions.expiries.clear();
    })();
    return this.#stopping;
  }

  #broadcast(message: string): void {
    for (const ws of this.#wss.clients) if (ws.readyState === ws.OPEN) ws.send(message);
  }

  #ping(): void {
    for (const ws of this.#wss.clients as Set<Tracked>) {
      if (ws.isAlive === false) {
        ws.terminate();
        continue;
      }
      ws.isAlive = false;
      ws.ping();
    }
  }

  async #serverOnRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = await probe(req.url?.split('?')[0] ?? '', this.#opts.link, this.#http.state !== 'running');
    if (answer) {
      res.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(answer.body));
      return;
    }
    if (req.method === 'GET' && req.url?.split('?')[0] === '/healthz') {
      const h = await redisHealth(this.#opts.link, this.#opts.source);
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for']?.toString(), this.#trusted);
      const detail = mayReadHealthDetail(ip, req.headers.authorization, this.#opts.healthToken);
      res.end(JSON.stringify(detail ? { ...h, role: 'ws', sockets: this.clientCount } : { ok: h.ok }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: 'not_found',
        message: `the push server only serves ${this.#opts.path}, /healthz, /livez and /readyz`,
      }),
    );
  }

  #serverOnUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#http.state !== 'running') return rejectUpgrade(socket, 503, 'Service Unavailable');
    if (req.url?.split('?')[0] !== this.#opts.path) return rejectUpgrade(socket, 404, 'Not Found');
    const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for']?.toString(), this.#trusted);
    this.#wss.handleUpgrade(req, socket, head, (ws: Tracked) => {
      ws.on('error', this.#socketOnError);
      let release: (() => void) | undefined;
      try {
        // Unlimited (the default): nothing to count, and no release to keep per socket.
        if (this.#perIp.max > 0) release = this.#perIp.acquire(clientKey(ip));
      } catch (err) {
        // Accepted only to say why (the page's transport reads the code and backs off); counts for nothing.
        const refusal = toAppError(err);
        this.#opts.metrics?.refusals.inc({ code: refusal.code });
        ws.send(errorMessage(refusal));
        ws.close(refusal.wsCloseCode, refusal.code);
        // Uncounted, so it must not linger: a peer that never answers the close is cut off soon, not after
        // the library's 30 s close timeout.
        setTimeout(() => ws.terminate(), REFUSED_LINGER_MS).unref();
        return;
      }
      if (release) ws.once('close', release);
      ws.isAlive = true;
      ws.on('pong', markAlive);
      new WatchSession(ws, this.#sessions);
    });
  }
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
