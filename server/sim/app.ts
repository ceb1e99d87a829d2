import Koa from 'koa';
import { AppError } from '../errors.js';
import type { SimDeps } from './deps.js';
import { devRouter } from './routes/dev.js';
import { connectRouter, consentRouter } from './routes/oauth.js';
import { snsRouter } from './routes/sns.js';
import { tokenRouter } from './routes/cgi-token.js';
import { mpQrcodeRouter } from './routes/mp-qrcode.js';
import { mpPushRouter } from './routes/mp-push.js';
import { wxacodeRouter } from './routes/wxacode.js';
import { jscodeRouter } from './routes/jscode.js';
import { miniProgramPhoneRouter } from './routes/phone/mini-program.js';
import { officialAccountPhoneRouter } from './routes/phone/official-account.js';
import { faultInjector, faultsRouter } from './routes/faults.js';
import { qrconnectRouter } from './routes/qrconnect.js';
import { userInfoRouter } from './routes/user-info.js';
import { componentRouter } from './routes/component.js';
import { platformPagesRouter } from './routes/platform-pages.js';
import { customSendRouter } from './routes/custom-send.js';
import { releaseCheckRouter } from './routes/release-check.js';

/**
 * Builds the simulator's Koa app: a guard that turns every failure into a 4xx/5xx answer (a malformed request
 * must never take the process down), then one router per WeChat area plus the simulator's own `/sim/*`.
 */
export function createSimApp(deps: SimDeps): Koa {
  const app = new Koa();
  const { logger } = deps;

  app.use(async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } catch (err) {
      const appErr = err instanceof AppError ? err : undefined;
      const status = appErr?.expose ? appErr.status : 500;
      if (status >= 500) logger.error({ err, method: ctx.method, path: ctx.path }, 'sim request failed');
      else logger.info({ code: appErr?.code, method: ctx.method, path: ctx.path }, 'sim request rejected');
      if (ctx.headerSent || !ctx.writable) return;
      ctx.status = status;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = status >= 500 ? 'internal error' : (appErr?.message ?? 'bad request');
      // The unread rest of a rejected body would otherwise be parsed as the next request on this socket.
      ctx.set('Connection', 'close');
    }
    // Path only: the query of sns/* carries the app secret and tokens, which must not reach the logs.
    logger.debug(
      { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) },
      'sim request',
    );
  });

  // Faults on demand (/sim/faults) answer before any WeChat-area router sees the call.
  app.use(faultInjector(deps));

  for (const router of [
    faultsRouter(deps),
    connectRouter(deps),
    snsRouter(deps),
    consentRouter(deps),
    devRouter(deps),
    tokenRouter(deps),
    mpQrcodeRouter(deps),
    mpPushRouter(deps),
    userInfoRouter(deps),
    wxacodeRouter(deps),
    jscodeRouter(deps),
    officialAccountPhoneRouter(deps),
    miniProgramPhoneRouter(deps),
    qrconnectRouter(deps),
    componentRouter(deps),
    platformPagesRouter(deps),
    customSendRouter(deps),
    releaseCheckRouter(deps),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  // Errors the guard cannot see (e.g. a socket failing while the body streams out).
  app.on('error', (err: unknown) => logger.warn({ err }, 'sim response error'));
  return app;
}
