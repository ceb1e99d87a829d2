/**
 * The few HTML pages the phone sees (it is WeChat's in-app browser, so plain server-rendered HTML with no
 * script). Every text is given in Chinese and English.
 */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface Text {
  zh: string;
  en: string;
}

function layout(title: Text, body: string, state: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title.zh)} · ${escapeHtml(title.en)}</title>
<style>
body{font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Helvetica Neue",Arial,sans-serif;margin:0;background:#f5f6f7;color:#222}
main{max-width:420px;margin:0 auto;padding:48px 24px;text-align:center}
h1{font-size:20px;margin:0 0 8px}.en{color:#595959;font-size:14px;margin:0 0 24px}
p{line-height:1.5}.who{margin:24px 0;font-size:15px}
button{display:block;width:100%;padding:12px;margin:12px 0;font-size:17px;border-radius:8px;border:0}
.primary{background:#06793c;color:#fff}.secondary{background:#e9e9e9;color:#333}
img.avatar{width:64px;height:64px;border-radius:8px}
.code{margin-top:32px;color:#6b6f76;font-size:12px}.code code{font-size:12px}
</style></head>
<body><main data-page="${escapeHtml(state)}">${body}</main></body></html>`;
}

function heading(t: Text): string {
  return `<h1>${escapeHtml(t.zh)}</h1><p class="en">${escapeHtml(t.en)}</p>`;
}

/**
 * A page with a title and a line of explanation, for outcomes and errors. `code`: an error's stable code, shown
 * small under the sentence (for support), never as the message.
 */
export function messagePage(state: string, title: Text, detail?: Text, opts: { code?: string } = {}): string {
  const more = detail ? `<p>${escapeHtml(detail.zh)}</p><p class="en">${escapeHtml(detail.en)}</p>` : '';
  const code = opts.code
    ? `<p class="code">错误代码 · Error code: <code id="error-code">${escapeHtml(opts.code)}</code></p>`
    : '';
  return layout(title, heading(title) + more + code, state);
}

export function scanWithWechatPage(): string {
  return messagePage(
    'use-wechat',
    { zh: '请使用微信扫码', en: 'Please scan this code with WeChat' },
    {
      zh: '用微信「扫一扫」扫描电脑上的二维码即可登录。',
      en: 'Open WeChat, tap Scan, and point it at the QR code on your computer.',
    },
  );
}

export interface ConfirmPageInput {
  loginId: string;
  /** BASE_PATH: the forms post back under it. */
  basePath: string;
  /** Hidden fields of both forms: the oauth page's `csrf`, the Official Account link's token `t`. */
  hidden: Readonly<Record<string, string>>;
  /** Where the forms post, under BASE_PATH: `<formBase>/confirm` and `<formBase>/cancel`; default `/l/<id>`. */
  formBase?: string;
  device: string;
  ip: string;
  /** When the browser asked (the login's creation, ms). */
  requestedAt?: number;
  nickname?: string;
  avatar?: string;
  /** The site being signed in to (an OpenID Connect client's name). */
  client?: string;
}

/** "Log in [to <client>] on <browser/OS> from <IP> [at <time>]?" with Confirm and Cancel forms. */
export function confirmPage(input: ConfirmPageInput): string {
  const base = escapeHtml(`${input.basePath}${input.formBase ?? `/l/${encodeURIComponent(input.loginId)}`}`);
  const hidden = Object.entries(input.hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const who = input.nickname
    ? `<p class="who">${input.avatar ? `<img class="avatar" alt="" src="${escapeHtml(input.avatar)}"><br>` : ''}${escapeHtml(input.nickname)}</p>`
    : '';
  const where = `${escapeHtml(input.device)} · ${escapeHtml(input.ip)}`;
  // The client's name is in both sentences; the id (what tests and scripts find it by) is on the English one only.
  const client = input.client ? escapeHtml(input.client) : '';
  const to = client
    ? { zh: ` <strong>${client}</strong>`, en: ` to <strong id="client">${client}</strong>` }
    : { zh: '', en: '' };
  const when =
    input.requestedAt === undefined
      ? ''
      : `<p class="en">请求时间 · Asked at <time datetime="${new Date(input.requestedAt).toISOString()}">${formatTime(input.requestedAt)}</time></p>`;
  const body = `${heading({ zh: '确认登录？', en: 'Log in on this computer?' })}
${who}<p>在 ${where} 上登录${to.zh}</p><p class="en">Log in${to.en} on ${where}?</p>${when}
<form method="post" action="${base}/confirm">${hidden}
<button id="confirm" class="primary" type="submit">确认登录 · Confirm</button></form>
<form method="post" action="${base}/cancel">${hidden}
<button id="cancel" class="secondary" type="submit">取消 · Cancel</button></form>`;
  return layout({ zh: '确认登录', en: 'Confirm login' }, body, 'confirm');
}

/** "2026-11-22 03:15:36 UTC": the page has no script to localise it, and UTC is unambiguous. */
function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** The outcome pages after the phone's decision. */
export function confirmedPage(): string {
  return messagePage(
    'confirmed',
    { zh: '登录成功', en: 'Logged in' },
    { zh: '请回到电脑继续。', en: 'You can go back to your computer now.' },
  );
}

export function cancelledPage(): string {
  return messagePage('cancelled', { zh: '已取消登录', en: 'Login cancelled' });
}
