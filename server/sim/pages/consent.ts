import type { Scope } from '../state/oauth-store.js';
import type { SimUser } from '../state/users.js';

/** Fields the consent form carries back to `/sim/oauth2/approve` unchanged. */
export interface ConsentRequest {
  readonly appid: string;
  readonly redirectUri: string;
  readonly scope: Scope;
  readonly state: string;
  /** Set when the platform asks on the account's behalf (`component_appid`, docs/wechat.md §12.6). */
  readonly componentAppid?: string;
}

const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;font:16px/1.5 -apple-system,"PingFang SC","Helvetica Neue","Microsoft YaHei",sans-serif;background:#ededed;color:#191919}
  main{max-width:420px;margin:0 auto;min-height:100vh;background:#fff;padding:24px 20px}
  h1{font-size:18px;margin:8px 0 4px} .sub{color:#888;font-size:13px;margin:0 0 20px;word-break:break-all}
  .badge{display:inline-block;background:#fa5151;color:#fff;font-size:11px;padding:1px 6px;border-radius:3px;vertical-align:middle}
  ul{list-style:none;padding:0;margin:0 0 24px;border-top:1px solid #eee}
  li label{display:flex;align-items:center;gap:12px;padding:12px 4px;border-bottom:1px solid #eee;cursor:pointer}
  li img{width:40px;height:40px;border-radius:4px} li small{color:#888;display:block;font-size:12px}
  .scope{background:#f7f7f7;border-radius:6px;padding:10px 12px;font-size:14px;margin-bottom:20px}
  button{display:block;width:100%;padding:11px;border:0;border-radius:6px;font-size:17px;margin-top:12px;cursor:pointer}
  #sim-allow,.primary{background:#07c160;color:#fff} #sim-deny,.secondary{background:#f2f2f2;color:#07c160}
  .ok{color:#07c160;font-size:15px} .who{display:flex;align-items:center;gap:12px;margin:16px 0 8px}
  .err{color:#fa5151;font-size:15px} code{word-break:break-all}
`;

/** The simulator's page frame (mobile layout, WeChat's look); `title` is escaped, `body` is HTML as given. */
export function shell(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,maximum-scale=1,user-scalable=no">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

const SCOPE_TEXT: Record<Scope, string> = {
  snsapi_userinfo: '获得你的公开信息（昵称、头像等）<br>Access your public profile (nickname, avatar)',
  snsapi_base:
    '获取你的身份标识（静默授权，真实微信不显示此页）<br>Identify you (silent in real WeChat — no page is shown)',
  snsapi_login: '获得你的公开信息（昵称、头像等）<br>Access your public profile (nickname, avatar)',
};

/**
 * Not a button of WeChat's consent: the simulator's way to open the link as a snapshot page instead (a link shared
 * in Moments or a chat, opened without using the full service). WeChat does that only for snsapi_userinfo links.
 */
const SNAPSHOT_BUTTON = `<button type="submit" id="sim-snapshot" class="secondary" name="action" value="snapshot">
以快照页打开（朋友圈分享）<br>Open as a snapshot page (shared in Moments)</button>`;

/** The consent screen WeChat shows for `/connect/oauth2/authorize`, with stable ids for browser tests. */
export function consentPage(req: ConsentRequest, users: readonly SimUser[]): string {
  const rows = users
    .map((u, i) => {
      const kind = u.snapshot ? '快照用户 / snapshot user' : u.unionid ? 'unionid ✓' : 'no unionid';
      return `<li><label>
  <input type="radio" name="openid" value="${escapeHtml(u.openid)}"${i === 0 ? ' checked' : ''}>
  <img src="/sim/avatar/${encodeURIComponent(u.openid)}.svg" alt="">
  <span>${escapeHtml(u.nickname)}<small>${escapeHtml(kind)} · ${escapeHtml(u.openid)}</small></span>
</label></li>`;
    })
    .join('\n');
  const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  return shell(
    '微信授权 / WeChat authorization',
    `<h1>微信登录授权 <span class="badge">模拟器 SIM</span></h1>
<p class="sub">WeChat authorization · appid <code>${escapeHtml(req.appid)}</code></p>
<div class="scope">该网页申请 / This page requests:<br>${SCOPE_TEXT[req.scope]}</div>
<form id="sim-consent" method="post" action="/sim/oauth2/approve">
${hidden('appid', req.appid)}
${hidden('redirect_uri', req.redirectUri)}
${hidden('scope', req.scope)}
${hidden('state', req.state)}
${req.componentAppid ? hidden('component_appid', req.componentAppid) : ''}
<p>选择扫码的微信用户 / Choose the WeChat user:</p>
<ul>
${rows}
</ul>
<button type="submit" id="sim-allow" name="action" value="allow">允许 Allow</button>
<button type="submit" id="sim-deny" name="action" value="deny">拒绝 Deny</button>
${req.scope === 'snsapi_userinfo' ? SNAPSHOT_BUTTON : ''}
</form>`,
  );
}

/**
 * WeChat answers a bad authorize link with an HTTP 200 error page, not a redirect, so the site never learns
 * about it. `errcode` is shown when WeChat has one for the case.
 */
export function errorPage(problem: { errcode: number | undefined; message: string }): string {
  const code = problem.errcode === undefined ? '' : String(problem.errcode);
  return shell(
    '微信授权出错 / Error',
    `<h1>Oops! Something went wrong:(</h1>
<p id="sim-error" class="err" data-errcode="${code}">${code ? `errcode ${code}: ` : ''}${escapeHtml(problem.message)}</p>
<p class="sub">WeChat simulator · 微信模拟器</p>`,
  );
}

/** A simple generated avatar: the nickname's first character on a coloured square. */
export function avatarSvg(user: SimUser): string {
  const initial = Array.from(user.nickname)[0] ?? '?';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="132" height="132" viewBox="0 0 132 132">
<rect width="132" height="132" fill="${escapeHtml(user.color)}"/>
<text x="66" y="66" dy=".35em" text-anchor="middle" font-size="64" font-family="sans-serif" fill="#fff">${escapeHtml(initial)}</text>
</svg>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
