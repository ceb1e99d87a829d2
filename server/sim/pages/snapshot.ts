import { escapeHtml } from './consent.js';

/**
 * WeChat's snapshot page (快照页, docs/wechat.md §3) as the simulator shows it. In WeChat it is the site's page,
 * loaded with a virtual identity, under WeChat's notice that only part of it can be used, with WeChat's button
 * 使用完整服务 at the bottom right. The simulator cannot draw over another site's page (the app forbids framing), so
 * this page is WeChat's part: the notice, a link that opens the site's page as the snapshot user (`pageUrl`), and
 * the bottom button, which runs the real authorization again with the same redirect_uri and state
 * (`fullServiceUrl`); come back here (Back) from the site's page to tap it. Stable ids for browser tests.
 */
export function snapshotPage(pageUrl: string, fullServiceUrl: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,maximum-scale=1,user-scalable=no">
<title>快照页 / Snapshot page</title>
<style>
  *{box-sizing:border-box}
  html,body{margin:0;height:100%;font:15px/1.5 -apple-system,"PingFang SC","Helvetica Neue","Microsoft YaHei",sans-serif}
  body{display:flex;flex-direction:column;max-width:420px;margin:0 auto;background:#fff;color:#191919}
  #sim-snapshot-notice{background:#f2f2f2;color:#576b95;padding:8px 12px;font-size:13px}
  .badge{display:inline-block;background:#fa5151;color:#fff;font-size:11px;padding:0 6px;border-radius:3px}
  section{flex:1;padding:24px 20px} .sub{color:#888;font-size:13px}
  #sim-snapshot-open{display:block;text-align:center;padding:11px;border-radius:6px;background:#f2f2f2;color:#07c160;text-decoration:none}
  footer{display:flex;justify-content:flex-end;align-items:center;padding:8px 12px;border-top:1px solid #e5e5e5}
  #sim-full-service{background:#07c160;color:#fff;text-decoration:none;padding:8px 16px;border-radius:6px}
</style></head>
<body>
<div id="sim-snapshot-notice"><span class="badge">模拟器 SIM</span>
该网页需获取个人信息才可使用完整服务，当前仅可浏览部分内容<br>
This page needs your profile for its full service; only part of it can be browsed now.</div>
<section>
<p>微信以快照页打开了这个链接：网页收到的是虚拟身份（is_snapshotuser）。</p>
<p class="sub">WeChat opened this link as a snapshot page: the site receives a virtual identity. WeChat shows the site's
page right here; the simulator opens it as a page of its own — come back (Back) to tap 使用完整服务.</p>
<a id="sim-snapshot-open" href="${escapeHtml(pageUrl)}">打开网页（快照）<br>Open the site's page (snapshot)</a>
</section>
<footer><a id="sim-full-service" href="${escapeHtml(fullServiceUrl)}">使用完整服务</a></footer>
</body></html>`;
}
