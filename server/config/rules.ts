import { DEV_DEFAULTS } from './dev-values.js';
import type { Env } from './schema.js';

/** What the rules read besides the parsed environment: decisions loadConfig has already made. */
export interface RuleContext {
  readonly production: boolean;
  /** The role uses the session and WeChat secrets (see SECRET_ROLES in load.ts). */
  readonly needsSecrets: boolean;
  /** The secrets after the dev values were applied (dev mode only). */
  readonly sessionSecret: string | undefined;
  readonly appid: string | undefined;
  readonly appSecret: string | undefined;
  /** TRUST_PROXY parsed: its ranges, and its own problems (already listed by the caller). */
  readonly trust: { readonly cidrs: readonly string[]; readonly problems: readonly string[] };
}

/**
 * The rules that relate several values, or a value to the deployment (production, secrets, pairs): each one
 * broken adds one line to `problems`, so the operator sees every problem at once. The shape of each single value
 * is checked by the schema already.
 */
export function checkRules(e: Env, c: RuleContext, problems: string[]): void {
  const { production } = c;
  const devHint = production ? '' : ' (or DEV_MODE=1 for the published dev values, never in production)';
  const component = [
    e.WECHAT_COMPONENT_APPID,
    e.WECHAT_COMPONENT_SECRET,
    e.WECHAT_COMPONENT_TOKEN,
    e.WECHAT_COMPONENT_AES_KEY,
  ];
  if (c.needsSecrets) {
    if (!c.sessionSecret) problems.push(`SESSION_SECRET: required${devHint}`);
    // With a third-party platform the deployment may have no app of its own: it serves the accounts authorized to
    // the platform only, and every site names its account (docs/config.md, a platform-only deployment).
    if (!component.every(Boolean)) {
      const or = `, unless the deployment serves only the accounts authorized to its platform (WECHAT_COMPONENT_*)`;
      if (!c.appid) problems.push(`WECHAT_APPID: required (the Official Account's appid)${or}${devHint}`);
      if (!c.appSecret) problems.push(`WECHAT_SECRET: required (the Official Account's secret)${or}${devHint}`);
    } else if (!c.appid !== !c.appSecret) {
      problems.push(
        'WECHAT_APPID, WECHAT_SECRET: set both or neither (neither: the deployment serves only its platform’s accounts)',
      );
    }
    // The Official Account's own settings mean nothing without it (they would sign and forward nobody's pushes).
    if (!c.appid)
      for (const key of ['WECHAT_TOKEN', 'WECHAT_AES_KEY', 'WECHAT_EVENTS_FORWARD_URL'] as const)
        if (e[key]) problems.push(`${key}: belongs to the deployment's own Official Account: needs WECHAT_APPID`);
  }
  if (production) {
    for (const [key, value] of Object.entries(DEV_DEFAULTS)) {
      if (e[key as keyof typeof DEV_DEFAULTS] === value)
        problems.push(`${key}: the dev value cannot be used in production`);
    }
  }
  // auto confirms at the OAuth callback: with snsapi_base the person sees no consent and no confirm page at all,
  // so scanning a relayed QR would sign a stranger in silently.
  if (production && e.LOGIN_CONFIRM === 'auto') {
    problems.push('LOGIN_CONFIRM: auto is refused when NODE_ENV=production (it signs in without a confirmation)');
  }
  if (production && e.DEV_MODE) problems.push('DEV_MODE: must not be enabled when NODE_ENV=production');
  // In production the QR code and the page's socket must point at the real public origin, never localhost.
  if (production && !e.PUBLIC_URL)
    problems.push('PUBLIC_URL: required when NODE_ENV=production (it is what the QR code holds)');
  // This server speaks no TLS itself, so an https PUBLIC_URL means a proxy in front; without trusting it every
  // browser looks like the proxy's IP (wrong confirm page, one shared creation limit for the whole site).
  if (production && e.PUBLIC_URL?.startsWith('https:') && c.trust.cidrs.length === 0 && !c.trust.problems.length) {
    problems.push(
      "TRUST_PROXY: PUBLIC_URL is https, so a TLS proxy is in front; set TRUST_PROXY to the proxies' addresses",
    );
  }
  // The http role strips BASE_PATH itself and builds every URL (the OIDC issuer's endpoints included) as
  // PUBLIC_URL + BASE_PATH + route: a path in PUBLIC_URL would be a prefix nobody serves.
  if (e.PUBLIC_URL && !/^https?:\/\/[^/?#]+\/?$/.test(e.PUBLIC_URL))
    problems.push('PUBLIC_URL: must be an origin (scheme://host[:port]); serve under a path with BASE_PATH');
  // WeChat's authorization domain (网页授权域名) and server URL take no port (docs/wechat.md §2, §6): the OAuth
  // redirect_uri and the confirm links are built on PUBLIC_URL, so a port there could never work with real WeChat.
  if (production && e.PUBLIC_URL && explicitPort(e.PUBLIC_URL) !== undefined)
    problems.push(
      `PUBLIC_URL: must not name a port (${explicitPort(e.PUBLIC_URL)}) in production: WeChat's authorization domain ` +
        'takes a bare domain, so the OAuth redirect_uri cannot carry a port; serve on 443 (or 80) behind the proxy',
    );
  if (production && !e.WS_PUBLIC_URL)
    problems.push('WS_PUBLIC_URL: required when NODE_ENV=production (the page opens it)');
  if (!e.WECHAT_MP_APPID !== !e.WECHAT_MP_SECRET)
    problems.push('WECHAT_MP_APPID, WECHAT_MP_SECRET: set both or neither');
  if (!e.WECHAT_WEB_APPID !== !e.WECHAT_WEB_SECRET)
    problems.push('WECHAT_WEB_APPID, WECHAT_WEB_SECRET: set both or neither');
  // Only the roles that use the platform need its secrets; `doctor` inspects it by its appid alone.
  if (c.needsSecrets && component.some(Boolean) && !component.every(Boolean))
    problems.push(
      'WECHAT_COMPONENT_APPID, WECHAT_COMPONENT_SECRET, WECHAT_COMPONENT_TOKEN, WECHAT_COMPONENT_AES_KEY: set all ' +
        'four (the third-party platform) or none',
    );
  if (e.WECHAT_COMPONENT_APPID && e.WECHAT_COMPONENT_APPID === c.appid)
    problems.push("WECHAT_COMPONENT_APPID: the platform's appid cannot be the Official Account's (WECHAT_APPID)");
  if (e.SIM_TOKEN_OVERLAP >= e.SIM_TOKEN_TTL) problems.push('SIM_TOKEN_OVERLAP: must be shorter than SIM_TOKEN_TTL');
  if (e.SIM_APP_URL && !/^https?:\/\/[^/?#]+\/?$/.test(e.SIM_APP_URL))
    problems.push('SIM_APP_URL: must be an origin (scheme://host[:port]); BASE_PATH is added to it');
}

/** The port written in a URL's authority (`:443` included, which URL parsing would drop), else undefined. */
function explicitPort(url: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/?#:]*):(\d*)/i.exec(url)?.[1];
}
