import { escapeHtml, shell } from './consent.js';
import type { SimUser } from '../state/users.js';
import type { ReplyMessage } from '../routes/mp-reply.js';

/**
 * The clickable phone of the Official Account (`mp-qrcode`) and mini-program modes, as the simulator shows it
 * (server/sim/routes/phone/). Chinese and English side by side; every value is escaped. Stable ids for browser tests.
 */

/** A Chinese and an English text, shown together. */
export interface Text {
  readonly zh: string;
  readonly en: string;
}

const both = (t: Text) => `${escapeHtml(t.zh)}<br>${escapeHtml(t.en)}`;
const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
const badge = '<span class="badge">模拟器 SIM</span>';

/** Radios of the sample users (first preselected), with their generated avatars. */
export function userRows(users: readonly SimUser[]): string {
  return users
    .map(
      (u, i) => `<li><label>
  <input type="radio" name="openid" value="${escapeHtml(u.openid)}"${i === 0 ? ' checked' : ''}>
  <img src="/sim/avatar/${encodeURIComponent(u.openid)}.svg" alt="">
  <span>${escapeHtml(u.nickname)}<small>${escapeHtml(u.unionid ? 'unionid ✓' : 'no unionid')} · ${escapeHtml(u.openid)}</small></span>
</label></li>`,
    )
    .join('\n');
}

/** What the camera read from the Official Account's QR: pick the WeChat user, then follow or scan. */
export function mpScanPage(url: string, users: readonly SimUser[]): string {
  return shell(
    '扫码 / Scan QR code',
    `<h1>公众号二维码 ${badge}</h1>
<p class="sub">Official Account QR code · <code>${escapeHtml(url)}</code></p>
<form id="sim-mp-form" method="post" action="/sim/phone/mp-qrcode">
${hidden('url', url)}
<p>选择扫码的微信用户 / Choose the WeChat user:</p>
<ul>
${userRows(users)}
</ul>
<button type="submit" id="sim-mp-follow" class="primary" name="action" value="follow">关注并登录<br>Follow and log in</button>
<button type="submit" id="sim-mp-scan" class="secondary" name="action" value="scan">扫码（已关注）<br>Scan (already following)</button>
</form>
<p class="sub">关注 → WeChat pushes <code>subscribe</code>; 已关注 → <code>SCAN</code>.</p>`,
  );
}

/** The mini program opened by its code: `wx.login()` as the chosen user. */
export function miniLoginPage(scene: string, users: readonly SimUser[]): string {
  return shell(
    '小程序登录 / Mini program login',
    `<h1>小程序 · 扫码登录 ${badge}</h1>
<p class="sub">Mini program <code>pages/login/index</code> · scene <code>${escapeHtml(scene)}</code></p>
<form id="sim-mini-form" method="post" action="/sim/phone/miniprogram/login">
${hidden('scene', scene)}
<p>选择微信用户 / Choose the WeChat user:</p>
<ul>
${userRows(users)}
</ul>
<button type="submit" id="sim-mini-login" class="primary">微信登录<br>Log in with WeChat</button>
</form>
<p class="sub">wx.login() → POST /api/mp/scan {scene, code}</p>`,
  );
}

/** Who asked to log in, as the app describes it to the mini program. */
export interface Requester {
  readonly browser: string;
  readonly ip: string;
  readonly requestedAt: number;
  readonly client?: string;
}

/**
 * The Official Account's reply in the chat: its text (links shown as the words they wrap) and the link to tap,
 * which opens the app's confirm page as WeChat's browser would.
 */
export function mpReplyPage(event: string, reply: ReplyMessage, lines: readonly string[]): string {
  const text = reply.content.replace(/<a\s[^>]*>|<\/a>/gi, '');
  const link = reply.link
    ? `<a id="sim-mp-link" class="primary" style="display:block;text-align:center;padding:11px;border-radius:6px;text-decoration:none;margin-top:12px" href="${escapeHtml(reply.link)}">打开链接<br>Open the link</a>`
    : '';
  const list = lines.map((l) => `<li><code>${escapeHtml(l)}</code></li>`).join('\n');
  return shell(
    '公众号消息 / Official Account message',
    `<h1>公众号回复 ${badge}</h1>
<p class="sub">The Official Account replied${reply.encrypted ? ' (safe mode, decrypted)' : ''}</p>
<p id="sim-result" class="ok" data-code="${escapeHtml(event)}"><code>${escapeHtml(event)}</code></p>
<div id="sim-mp-reply" class="scope">${escapeHtml(text).replaceAll('\n', '<br>')}</div>
${link}
<ul class="sub">
${list}
</ul>
<p class="sub">WeChat simulator · 微信模拟器</p>`,
  );
}

/** The mini program's confirm screen once the app identified the user. `mpToken` stays in the form. */
export function miniConfirmPage(scene: string, mpToken: string, user: SimUser, requester?: Requester): string {
  const asked = requester
    ? `<p id="sim-mini-requester">${both({
        zh: `请求登录的电脑：${requester.browser} · ${requester.ip}`,
        en: `Asked by ${requester.browser} · ${requester.ip} at ${new Date(requester.requestedAt).toISOString()}`,
      })}${requester.client ? `<br>→ <strong>${escapeHtml(requester.client)}</strong>` : ''}</p>`
    : '';
  return shell(
    '确认登录 / Confirm login',
    `<h1>确认登录 ${badge}</h1>
<p class="sub">Confirm login on your computer</p>
<div class="who"><img src="/sim/avatar/${encodeURIComponent(user.openid)}.svg" alt="" width="48" height="48">
<span id="sim-mini-user">${escapeHtml(user.nickname)}</span></div>
<div class="scope">${both({ zh: '你正在电脑上登录，请确认是本人操作。', en: 'You are logging in on a computer. Confirm it is you.' })}</div>
${asked}
<form id="sim-mini-decide" method="post" action="/sim/phone/miniprogram/decide">
${hidden('scene', scene)}
${hidden('mpToken', mpToken)}
${hidden('openid', user.openid)}
<button type="submit" id="sim-mini-confirm" class="primary" name="action" value="confirm">确认登录<br>Confirm login</button>
<button type="submit" id="sim-mini-cancel" class="secondary" name="action" value="cancel">取消<br>Cancel</button>
</form>`,
  );
}

/**
 * The end of a phone flow. `ok` → `#sim-result`; otherwise `#sim-error`, with the app's error code (or
 * WeChat's) in `data-code` and on the page, so a developer sees exactly what the phone would.
 */
export function outcomePage(outcome: {
  ok: boolean;
  title: Text;
  detail?: Text;
  code?: string;
  lines?: readonly string[];
}): string {
  const code = outcome.code ?? '';
  const id = outcome.ok ? 'sim-result' : 'sim-error';
  const cls = outcome.ok ? 'ok' : 'err';
  const lines = (outcome.lines ?? []).map((l) => `<li><code>${escapeHtml(l)}</code></li>`).join('\n');
  return shell(
    `${outcome.title.zh} / ${outcome.title.en}`,
    `<h1>${escapeHtml(outcome.title.zh)} ${badge}</h1>
<p class="sub">${escapeHtml(outcome.title.en)}</p>
<p id="${id}" class="${cls}" data-code="${escapeHtml(code)}">${code ? `<code>${escapeHtml(code)}</code><br>` : ''}${outcome.detail ? both(outcome.detail) : ''}</p>
${lines ? `<ul class="sub">\n${lines}\n</ul>` : ''}
<p class="sub">WeChat simulator · 微信模拟器</p>`,
  );
}
