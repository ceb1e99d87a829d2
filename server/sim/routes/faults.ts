import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { SimDeps } from '../deps.js';
import { FAULT_APIS, FAULT_ERRCODES, FaultSpec } from '../state/faults.js';
import { readJsonBody, wxError } from './respond.js';

/**
 * `/sim/faults`, the simulator's faults on demand (uncounted, like every `/sim/*` control; the whole simulator is
 * dev/test only: it refuses NODE_ENV=production and listens on loopback unless SIM_HOST says otherwise):
 * - `POST /sim/faults {api, errcode, count?, ms?}` — the next `count` calls of `api` (a path such as
 *   `cgi-bin/stable_token`, or `*` for every simulated API), and/or every call for the next `ms`, answer
 *   `errcode` (-1, 40164, 45009, 45011, 48001 or 40001) → 201 with the fault. Bad input → 400
 *   `{error: "invalid_fault", message, issues}`.
 * - `GET /sim/faults` → `{faults: [...]}`: every fault on record (active or spent) with the calls it answered.
 * - `DELETE /sim/faults` → `{cleared: N}` (N = the ones still active); everything answers normally again.
 */
export function faultsRouter(deps: SimDeps): Router {
  const router = new Router();

  router.post('/sim/faults', async (ctx) => {
    const body = await readJsonBody(ctx);
    const parsed = FaultSpec.safeParse(body);
    if (!parsed.success) {
      ctx.status = 400;
      ctx.body = {
        error: 'invalid_fault',
        message: `expected {api: ${[...FAULT_APIS, '*'].join('|')}, errcode: ${FAULT_ERRCODES.join('|')}, count?, ms?}`,
        issues: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`),
      };
      return;
    }
    const fault = deps.faults.add(parsed.data);
    deps.logger.info({ fault }, 'sim fault added');
    ctx.status = 201;
    ctx.body = fault;
  });

  router.get('/sim/faults', (ctx) => {
    ctx.body = { faults: deps.faults.list() };
  });

  router.delete('/sim/faults', (ctx) => {
    const cleared = deps.faults.clear();
    deps.logger.info({ cleared }, 'sim faults cleared');
    ctx.body = { cleared };
  });

  return router;
}

/**
 * The one place faults take effect, in front of every WeChat-area router: a call to a faulted API is counted in
 * `/sim/stats` like any call and answered as WeChat answers an error (HTTP 200, errcode, errmsg with a rid).
 */
export function faultInjector(deps: SimDeps): Middleware {
  return async (ctx, next) => {
    const errcode = deps.faults.take(ctx.path);
    if (errcode === undefined) return next();
    deps.stats.hit(ctx.path);
    const now = deps.clock();
    if (errcode === 40164) return wxError(ctx, errcode, now, ipNotWhitelisted(ctx));
    if (errcode === 61004) return wxError(ctx, errcode, now, componentIpNotRegistered(ctx));
    wxError(ctx, errcode, now);
  };
}

/** WeChat's 61004 names the caller's address too (docs/wechat.md §12.3). */
function componentIpNotRegistered(ctx: Context): string {
  const ip = (ctx.req.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
  return `access clientip is not registered, requestIP: ${ip}`;
}

/** WeChat's 40164 names the caller's address in both forms (observed: `invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4`). */
function ipNotWhitelisted(ctx: Context): string {
  const ip = (ctx.req.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
  const v6 = ip.includes(':') ? ip : `::ffff:${ip}`;
  return `invalid ip ${ip} ipv6 ${v6}, not in whitelist`;
}
