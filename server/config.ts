/*
 * The configuration, read from the environment once per process, validated, then frozen. Every part imports it
 * from here; the work is split by job in server/config/:
 * - schema.ts       every variable: its type, bounds and default (CONFIG_KEYS lists them)
 * - rules.ts        what relates several values or the deployment: production, secrets, pairs
 * - oidc-client.ts  OIDC_CLIENT_* as one client; verify-file.ts: WECHAT_VERIFY_FILE read once
 * - load.ts         loadConfig: parse, apply the dev values, check the rules, derive the Config, freeze it
 * - types.ts        the Config every part reads; dev-values.ts: the published development accounts
 */
export {
  DEV_APPID,
  DEV_COMPONENT,
  DEV_DEFAULTS,
  DEV_MP_APPID,
  DEV_MP_SECRET,
  DEV_SECRET,
  DEV_WEB_APPID,
  DEV_WEB_SECRET,
  DEV_WECHAT_TOKEN,
} from './config/dev-values.js';
export { ConfigError, loadConfig } from './config/load.js';
export { CONFIG_KEYS, MP_PAGE_RE } from './config/schema.js';
export type { Config, ConfigRole, MiniProgramConfig, PlatformConfig } from './config/types.js';
