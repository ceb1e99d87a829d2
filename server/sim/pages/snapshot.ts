import { escapeHtml } from './consent.js';

/**
 * WeChat's snapshot page (快照页, docs/wechat.md §3): the site's page, loaded with a virtual identity, inside WeChat's
 * chrome — a notice on top that only part of the page can be used, and at the bottom right the button 使用完整服务,
 * which asks for consent and opens the same link again for real. The site's page is the frame (`pageUrl`: its
 * OAuth callback with the snapshot user's code); `fullServiceUrl` is the authorize link with the same redirect_uri
 * and state. Stable ids for browser tests.
 */
export function snapshotPage(pageUrl: string, fullServiceUrl: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,maximum-scale=1,user-scalable=no">
<title>快照页 / Snapshot page</title>
<style>
  *{box-sizing:border-box}
  html,body{margin:0;height:100%;font:15px/1.5 -apple-system,"PingFang SC","Helvetica Neue","Microsoft YaHei",sans-serif}
  body{display:flex;flex-direction:column;max-width:420px;margin:0 auto;background:#fff}
  #sim-snapshot-notice{background:#f2f2f2;color:#576b95;padding:8px 12px;font-size:13px}
  .badge{display:inline-block;background:#fa5151;color:#fff;font-size:11px;padding:0 6px;border-radius:3px}
  iframe{flex:1;border:0;width:100%}
  footer{display:flex;justify-content:flex-end;align-items:center;padding:8px 12px;border-top:1px solid #e5e5e5}
  #sim-full-service{background:#07c160;color:#fff;text-decoration:none;padding:8px 16px;border-radius:6px}
</style></head>
<body>
<div id="sim-snapshot-notice"><span class="badge">模拟器 SIM</span>
该网页需获取个人信息才可使用完整服务，当前仅可浏览部分内容<br>
This page needs your profile for its full service; only part of it can be browsed now.</div>
<iframe id="sim-snapshot-page" src="${escapeHtml(pageUrl)}" title="网页快照 / page snapshot"></iframe>
<footer><a id="sim-full-service" href="${escapeHtml(fullServiceUrl)}" target="_top">使用完整服务</a></footer>
</body></html>`;
}
