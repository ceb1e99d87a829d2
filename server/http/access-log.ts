import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import { pinoHttp } from 'pino-http';
import { type Logger, scrubError } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';

/** A request id a proxy may hand us (nginx `$request_id`, a load balancer's trace id); anything else is replaced. */
const GIVEN_ID_RE = /^[A-Za-z0-9._:-]{8,64}$/;
const PROBES = new Set(['/livez', '/readyz', '/healthz']);

/**
 * The access log (pino-http): one line per request when its response ends — method, path without the query (it
 * carries OAuth codes, states and confirm-link tokens), status, time, client IP and the request id. The id comes
 * from `X-Request-Id` when a proxy set a sane one, else a fresh UUID; it is echoed in the response and bound into
 * `ctx.state.log`, the logger every other line of that request uses (see `requestLog`). Probes are not logged.
 * Also counts the request into the metrics by route pattern (never the raw path: ids would explode the labels).
 * Expects `ctx.request.ip` to hold the client IP already.
 */
export function accessLog(logger: Logger, metrics?: Metrics) {
  const ips = new WeakMap<IncomingMessage, string>();
  const httpLogger = pinoHttp({
    logger,
    quietReqLogger: true,
    genReqId: requestId,
    autoLogging: { ignore: (req) => PROBES.has(pathOf(req.url)) },
    // pino-http gives its child loggers its own serializers, which would replace the scrubbing `err` one of
    // log.ts on every line of a request (an ioredis error carries a live ticket in its arguments): they are
    // given here, unwrapped, raw request and response in.
    wrapSerializers: false,
    serializers: {
      err: scrubError,
      req: (req: IncomingMessage & { id?: unknown }) => ({
        id: req.id,
        method: req.method,
        path: pathOf(req.url),
      }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    customProps: (req) => ({ ip: ips.get(req) }),
    customSuccessMessage: (req, res) => `${req.method} ${pathOf(req.url)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOf(req.url)} ${res.statusCode}`,
  });
  return async (ctx: Context, next: Next): Promise<void> => {
    if (logger.isLevelEnabled('info')) {
      ips.set(ctx.req, ctx.request.ip);
      httpLogger(ctx.req, ctx.res);
      ctx.state.log = ctx.req.log;
    } else {
      // The access line is info: at a quieter level pino-http would build three child loggers per request for
      // nothing (≈5 % of the http role's CPU). Only the id is kept; `requestLog` makes the logger on first use.
      ctx.state.reqId = requestId(ctx.req, ctx.res);
    }
    if (metrics) {
      const started = performance.now();
      ctx.res.once('close', () => {
        metrics.requestAnswered(routeOf(ctx), ctx.method, ctx.res.statusCode, (performance.now() - started) / 1000);
      });
    }
    await next();
  };
}

/** The request id: the proxy's `X-Request-Id` when sane, else a fresh UUID; echoed in the response. */
function requestId(req: IncomingMessage, res: ServerResponse): string {
  const id = requestIdOf(req);
  res.setHeader('X-Request-Id', id);
  return id;
}

/** `requestId` without setting the header (the hot lane writes its whole head at once). */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && GIVEN_ID_RE.test(given) ? given : randomUUID();
}

/**
 * The access line of a request answered outside Koa (the hot lane, hot-lane.ts), in pino-http's shape: the same
 * fields as the lines above (reqId, req, ip, res, responseTime in whole ms, "METHOD /path STATUS").
 */
export function logAccess(
  logger: Logger,
  line: { reqId: string; method: string; path: string; ip: string; status: number; ms: number },
): void {
  logger.info(
    {
      reqId: line.reqId,
      req: { id: line.reqId, method: line.method, path: line.path },
      ip: line.ip,
      res: { statusCode: line.status },
      responseTime: Math.round(line.ms),
    },
    `${line.method} ${line.path} ${line.status}`,
  );
}

/** The logger of this request (its lines carry `reqId`), or `fallback` outside one. */
export function requestLog(ctx: Context, fallback: Logger): Logger {
  const log = ctx.state.log as Logger | undefined;
  if (log) return log;
  const reqId = ctx.state.reqId as string | undefined;
  return reqId === undefined ? fallback : (ctx.state.log = fallback.child({ reqId }));
}

function pathOf(url: string | undefined): string {
  return (url ?? '').split('?')[0] ?? '';
}

/** The router's pattern (`/api/logins/:id`), else a fixed bucket: the label set stays small whatever is asked. */
function routeOf(ctx: Context): string {
  const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  const p = ctx.path;
  if (p.startsWith('/oidc/') || p === '/authorize' || p.startsWith('/.well-known/')) return 'oidc';
  if (ctx.res.statusCode === 404) return 'unmatched';
  return 'static';
}
