import { escapeHtml, shell } from './consent.js';
import type { SimUser } from '../state/users.js';
import type { QrconnectSession } from '../state/qrconnect-sessions.js';
import { userRows } from './phone.js';

/**
 * WeChat's website-login page as the simulator draws it (docs/wechat.md §10): the QR (of the simulated phone's
 * link), its status line, and the long-poll that follows it — 408 waiting, 404 scanned, 405 confirmed (then the
 * page goes to `redirect_uri?code&state`, in the frame or the top window by `self_redirect`), 403 cancelled (then
 * `redirect_uri?state`, WeChat's refusal), 402 expired. The class names are WeChat's own (`impowerBox`, `qrcode`,
 * `title`, `info`, `status`), so a stylesheet given as `href` restyles it as it would WeChat's. Stable ids for tests.
 */
export function qrconnectPage(s: QrconnectSession, qrSvg: string, phoneUrl: string, appName: string): string {
  const data = (name: string, value: string) => `data-${name}="${escapeHtml(value)}"`;
  const css = s.href ? `<link rel="stylesheet" href="${escapeHtml(s.href)}">` : '';
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>微信登录</title>
<style>
body{margin:0;font:14px/1.5 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:#373737;text-align:center}
.impowerBox{display:inline-block;padding:8px}.impowerBox .title{font-size:18px;margin:8px 0}
.impowerBox .qrcode{width:220px;height:220px;border:1px solid #e2e2e2;margin-top:8px}
.impowerBox .qrcode svg{width:100%;height:100%}
.impowerBox .info{width:280px;margin:0 auto}.impowerBox .status{padding:6px 0;font-size:13px}
.impowerBox .status.ok{color:#07c160}.impowerBox .status.err{color:#fa5151}
.sim{font-size:12px;color:#576b95}.badge{background:#fa5151;color:#fff;font-size:10px;padding:0 4px;border-radius:3px}
</style>${css}</head>
<body ${data('uuid', s.uuid)} ${data('redirect', s.redirectUri)} ${data('state', s.state)} ${data('self', String(s.selfRedirect))}>
<div class="impowerBox">
<div class="title">微信登录 <span class="badge">SIM</span></div>
<div class="qrcode" id="sim-qrconnect-qr" role="img" aria-label="QR">${qrSvg}</div>
<div class="info"><div class="status" id="sim-qrconnect-status" data-errcode="408">
<p>使用微信扫一扫登录</p><p>Scan with WeChat</p><p>“${escapeHtml(appName)}”</p></div></div>
<a class="sim" id="sim-qrconnect-phone" href="${escapeHtml(phoneUrl)}" target="_blank" rel="noopener">模拟手机扫码 · Simulate phone scan</a>
</div>
<script>${POLL_SCRIPT}</script>
</body></html>`;
}

const POLL_SCRIPT = `
(function () {
  var d = document.body.dataset, last = 408, status = document.getElementById('sim-qrconnect-status');
  var TEXT = {
    408: ['使用微信扫一扫登录', 'Scan with WeChat', ''],
    404: ['扫描成功，请在微信中点击确认即可登录', 'Scanned — confirm in WeChat on your phone', 'ok'],
    405: ['登录成功', 'Signed in', 'ok'],
    403: ['您已取消此次登录', 'You cancelled this login', 'err'],
    402: ['二维码已失效，请刷新', 'This QR code expired — refresh', 'err']
  };
  function show(code) {
    var t = TEXT[code] || ['网络异常', 'Network error', 'err'];
    status.dataset.errcode = String(code);
    status.className = 'status ' + t[2];
    status.innerHTML = '';
    [t[0], t[1]].forEach(function (s) { var p = document.createElement('p'); p.textContent = s; status.appendChild(p); });
  }
  function go(params) {
    var sep = d.redirect.indexOf('?') < 0 ? '?' : '&';
    var url = d.redirect + sep + params + 'state=' + encodeURIComponent(d.state);
    if (d.self === 'true') window.location.href = url; else window.top.location.href = url;
  }
  function poll() {
    fetch('/connect/l/qrconnect?uuid=' + encodeURIComponent(d.uuid) + '&last=' + last + '&_=' + Date.now())
      .then(function (r) { return r.text(); })
      .then(function (text) {
        var m = /wx_errcode=(\\d+)/.exec(text), c = /wx_code='([^']*)'/.exec(text);
        var code = m ? Number(m[1]) : 0;
        show(code);
        if (code === 405) return go('code=' + encodeURIComponent(c ? c[1] : '') + '&');
        if (code === 403) return go('');
        if (code === 402 || code === 0) return;
        last = code;
        poll();
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
`;

/** What the phone's camera opened: pick the WeChat user who scans. */
export function qrconnectScanPage(uuid: string, appName: string, users: readonly SimUser[]): string {
  const rows = userRows(users);
  return shell(
    '扫码登录 / Website login',
    `<h1>网站扫码登录 <span class="badge">模拟器 SIM</span></h1>
<p class="sub">Website application “${escapeHtml(appName)}” · QR <code>${escapeHtml(uuid)}</code></p>
<form id="sim-qrconnect-form" method="post" action="/sim/phone/qrconnect/scan">
<input type="hidden" name="uuid" value="${escapeHtml(uuid)}">
<p>选择扫码的微信用户 / Choose the WeChat user:</p>
<ul>
${rows}
</ul>
<button type="submit" id="sim-qrconnect-scan" class="primary">扫码<br>Scan</button>
</form>`,
  );
}

/** WeChat's confirm screen after the scan: log in to the website, Allow or Cancel. */
export function qrconnectConfirmPage(uuid: string, appName: string, user: SimUser): string {
  const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  return shell(
    '确认登录 / Confirm login',
    `<h1>登录确认 <span class="badge">模拟器 SIM</span></h1>
<p class="sub">“${escapeHtml(appName)}” 申请使用你的微信账号登录 · wants to log you in with WeChat</p>
<div class="who"><img src="/sim/avatar/${encodeURIComponent(user.openid)}.svg" alt="" width="48" height="48">
<span id="sim-qrconnect-user">${escapeHtml(user.nickname)}</span></div>
<div class="scope">获得你的公开信息（昵称、头像等）<br>Access your public profile (nickname, avatar)</div>
<form id="sim-qrconnect-decide" method="post" action="/sim/phone/qrconnect/decide">
${hidden('uuid', uuid)}
${hidden('openid', user.openid)}
<button type="submit" id="sim-qrconnect-allow" class="primary" name="action" value="allow">允许<br>Allow</button>
<button type="submit" id="sim-qrconnect-cancel" class="secondary" name="action" value="cancel">取消<br>Cancel</button>
</form>`,
  );
}
