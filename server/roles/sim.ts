import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { MINI_PROGRAM_PAGES, SimServer } from '../sim/server.js';
import type { Running } from './running.js';

/** The `sim` role: the WeChat simulator (refuses to start when NODE_ENV=production). */
export async function runSim(
  config: Config,
  logger: Logger,
  port = config.simPort,
): Promise<Running & { port: number }> {
  const sim = new SimServer({
    appid: config.wechat.appid,
    secret: config.wechat.secret,
    logger,
    production: config.production,
    tokenTtlMs: config.sim.tokenTtlMs,
    tokenOverlapMs: config.sim.tokenOverlapMs,
    // The simulated mini program's release has the page our codes open (WECHAT_MP_PAGE), as the real one must.
    ...(config.miniProgram && {
      miniProgram: {
        appid: config.miniProgram.appid,
        secret: config.miniProgram.secret,
        pages: [...MINI_PROGRAM_PAGES, config.miniProgram.page],
      },
    }),
    ...(config.webApp && { webApp: config.webApp }),
    // The mini program's server domain (request 合法域名), which the simulated phone's wx.request calls: the app
    // as the simulator reaches it (SIM_APP_URL; under compose PUBLIC_URL's localhost is the simulator's own).
    appUrl: config.simAppUrl,
    // ...while phones are redirected to the public origin (the OAuth redirect_uri's domain).
    appPublicUrl: config.appUrl,
    // The account's authorization domain: SIM_OAUTH_DOMAIN, else PUBLIC_URL's host (with its dev port).
    oauthDomain: config.sim.oauthDomain,
    // Where browsers reach the simulator: the "WeChat" the phone is sent to (unless that is the real one).
    ...(config.wechat.openBase !== 'https://open.weixin.qq.com' && { publicUrl: config.wechat.openBase }),
    // The third-party platform's settings in the open platform's console: the ONE authorization-event URL the
    // tickets go to (SIM_APP_URL's node), the message URL with $APPID$, and the domains (PUBLIC_URL's host).
    ...(config.platform && {
      platform: {
        config: config.platform,
        eventsUrl: `${config.simAppUrl}/wechat/platform/events`,
        messageUrl: `${config.simAppUrl}/wechat/platform/$APPID$/events`,
        domain: new URL(config.appUrl).hostname,
        ticketIntervalMs: config.sim.ticketIntervalMs,
      },
    }),
    // Like the account's server settings in WeChat's console: where scan events go, signed with our token.
    ...(config.wechat.token && {
      pushTarget: {
        url: `${config.simAppUrl}/wechat/events`,
        token: config.wechat.token,
        ...(config.wechat.aesKey && { aesKey: config.wechat.aesKey }),
      },
    }),
  });
  const { port: bound, url } = await sim.start({ port, host: config.simHost });
  logger.info({ port: bound, url, appid: config.wechat.appid, appUrl: config.simAppUrl }, 'WeChat simulator listening');
  return { port: bound, stop: () => sim.stop() };
}
