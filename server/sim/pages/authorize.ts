import type { SimMerchant } from '../state/merchants.js';
import { escapeHtml, shell } from './consent.js';

/** WeChat's names of the permission sets the page offers (docs/wechat.md §12.4). */
const SET_NAMES: Readonly<Record<number, string>> = {
  1: '消息管理权限 Messages',
  2: '用户管理权限 Users',
  3: '帐号服务权限 Account services (QR codes)',
  4: '网页服务权限 Web pages (OAuth)',
  15: '自定义菜单权限 Menus',
  17: '帐号管理权限 Account management',
  18: '开发管理与数据分析权限 Development',
  19: '客服消息管理权限 Customer service',
  20: '微信登录权限 WeChat login',
};

/** What the authorization page's form carries back (the link's parameters). */
export interface AuthorizeRequest {
  readonly componentAppid: string;
  readonly preAuthCode: string;
  readonly redirectUri: string;
  readonly platformName: string;
}

/**
 * WeChat's authorization page (`componentloginpage`, docs/wechat.md §12.4) as the simulator plays it: the admin of
 * one of the listed accounts (in reality: whoever scans WeChat's QR) picks the account and the permission sets to
 * grant — every set ticked, as WeChat offers them; unticking one is how an admin grants less — and confirms.
 * Stable ids for browser tests: `#sim-account-<appid>`, `#sim-set-<appid>-<id>`, `#sim-authorize-<appid>`.
 */
export function authorizePage(
  req: AuthorizeRequest,
  accounts: readonly { merchant: SimMerchant; sets: readonly number[] }[],
): string {
  const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  const forms = accounts
    .map(({ merchant: m, sets }) => {
      const boxes = sets
        .map(
          (id) => `<label style="display:block;font-size:14px;padding:2px 0">
  <input type="checkbox" id="sim-set-${m.appid}-${id}" name="func" value="${id}" checked> ${escapeHtml(SET_NAMES[id] ?? `set ${id}`)}</label>`,
        )
        .join('\n');
      const kind =
        m.kind === 'mini-program'
          ? '小程序 Mini program'
          : m.serviceType === 2
            ? '服务号 Service account'
            : '订阅号 Subscription account';
      return `<form id="sim-account-${m.appid}" method="post" action="/sim/platform/authorize" style="border:1px solid #eee;border-radius:6px;padding:12px;margin:12px 0">
${hidden('component_appid', req.componentAppid)}
${hidden('pre_auth_code', req.preAuthCode)}
${hidden('redirect_uri', req.redirectUri)}
${hidden('appid', m.appid)}
<strong>${escapeHtml(m.name)}</strong><small style="display:block;color:#888">${escapeHtml(kind)} · ${escapeHtml(m.appid)} · ${escapeHtml(m.ghId)}${m.verifyType < 0 ? ' · 未认证 unverified' : ''}</small>
${boxes}
<button type="submit" id="sim-authorize-${m.appid}" class="primary">授权 Authorize</button>
</form>`;
    })
    .join('\n');
  return shell(
    '公众号授权 / Authorize a platform',
    `<h1>授权给第三方平台 <span class="badge">模拟器 SIM</span></h1>
<p class="sub">Authorize <strong>${escapeHtml(req.platformName)}</strong> (${escapeHtml(req.componentAppid)}) to manage an account on your behalf.
In WeChat the account's admin scans a QR code here; the simulator lets you pick the account.</p>
${forms || '<p class="err">No account can be authorized with this link (auth_type / biz_appid).</p>'}`,
  );
}
