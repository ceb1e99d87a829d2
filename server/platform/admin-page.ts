import { MODE_PERMISSIONS, PERMISSION_NAMES, missingPermissions } from '../accounts/model.js';
import { escapeHtml } from '../http/pages.js';
import type { Authorization } from './authorizations.js';
import type { PlatformState } from './health.js';
import type { PlatformProblem } from './status.js';

/** One account as the operator sees it. */
export interface AccountView {
  readonly account: Authorization;
  /** Seconds its stored authorizer_access_token has left (undefined: none stored yet). */
  readonly tokenExpiresInS?: number;
  readonly problem?: PlatformProblem;
}

const STYLE = `body{font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Helvetica Neue",Arial,sans-serif;margin:0;background:#f5f6f7;color:#222}
main{max-width:960px;margin:0 auto;padding:32px 24px}h1{font-size:22px}h2{font-size:17px;margin-top:32px}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #ddd;padding:8px;vertical-align:top;text-align:left;font-size:14px}
.ok{color:#06793c}.bad{color:#b3261e;font-weight:600}.muted{color:#6b6f76;font-size:13px}
button,.button{display:inline-block;padding:10px 16px;font-size:15px;border-radius:6px;border:0;background:#06793c;color:#fff;text-decoration:none;cursor:pointer}
.notice{background:#e8f5ec;border:1px solid #06793c;padding:12px;border-radius:6px}.alarm{background:#fdecea;border:1px solid #b3261e;padding:12px;border-radius:6px}
code{font-size:13px}`;

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

const MODES = Object.keys(MODE_PERMISSIONS);

function modesCell(a: Authorization): string {
  if (a.revokedAt !== undefined) return '<span class="muted">—</span>';
  const kindModes = MODES.filter((m) => (a.kind === 'mini-program') === (m === 'miniprogram'));
  return kindModes
    .map((mode) => {
      const missing = missingPermissions(mode, a.funcIds);
      const qrNeedsService = mode === 'mp-qrcode' && (a.serviceType !== 2 || a.verifyType < 0);
      if (!missing.length && !qrNeedsService) return `<div class="ok" data-mode="${mode}">✓ ${mode}</div>`;
      const why = [
        ...missing.map((id) => `missing ${escapeHtml(PERMISSION_NAMES[id] ?? `set ${id}`)}`),
        ...(qrNeedsService ? ['WeChat gives parametric QR codes to verified service accounts only'] : []),
      ];
      return `<div class="bad" data-mode="${mode}">✗ ${mode}: ${why.join('; ')}</div>`;
    })
    .join('');
}

function tokenCell(v: AccountView): string {
  if (v.account.revokedAt !== undefined)
    return `<span class="bad" data-token="revoked">revoked ${escapeHtml(new Date(v.account.revokedAt).toISOString())}</span>`;
  if (v.problem)
    return `<span class="bad" data-token="${escapeHtml(v.problem.code)}">${escapeHtml(v.problem.code)}${v.problem.errcode ? ` (${v.problem.errcode})` : ''}</span>
<div class="muted">${escapeHtml(v.problem.message)} — its admin must authorize the platform again (the button above).</div>`;
  if (v.tokenExpiresInS === undefined)
    return '<span class="muted" data-token="none">not fetched yet (first use fetches it)</span>';
  return `<span class="ok" data-token="ok">valid, ${Math.max(0, Math.round(v.tokenExpiresInS / 60))} min left</span>`;
}

/** The operator page: the platform's health, its accounts, and the button that authorizes another. */
export function adminPage(opts: {
  basePath: string;
  csrf: string;
  state: PlatformState;
  accounts: readonly AccountView[];
  notice?: string;
}): string {
  const { state } = opts;
  const rows = opts.accounts
    .map((v) => {
      const a = v.account;
      const sets = a.funcIds.map((id) => escapeHtml(PERMISSION_NAMES[id] ?? `set ${id}`)).join('<br>');
      return `<tr id="account-${escapeHtml(a.appid)}" data-revoked="${a.revokedAt !== undefined}">
<td><strong>${escapeHtml(a.name || a.appid)}</strong><div class="muted">${escapeHtml(a.appid)} · ${escapeHtml(a.ghId)}</div>
<div class="muted">${a.kind === 'mini-program' ? 'mini program' : a.serviceType === 2 ? 'service account' : 'subscription account'}${a.verifyType < 0 ? ', unverified' : ''}</div></td>
<td>${sets || '<span class="muted">none</span>'}</td><td>${modesCell(a)}</td><td>${tokenCell(v)}</td></tr>`;
    })
    .join('\n');
  const problems = state.problems.length
    ? `<div class="alarm" id="platform-problems"><strong>Problems</strong><ul>${state.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul></div>`
    : '<p class="ok" id="platform-ok">The platform is healthy: its ticket arrives and its token is fresh.</p>';
  return layout(
    'Third-party platform · scanlogin',
    `<h1>Third-party platform <code>${escapeHtml(state.appid)}</code></h1>
${opts.notice ? `<p class="notice" id="notice">${escapeHtml(opts.notice)}</p>` : ''}
${problems}
<p class="muted">Ticket: <span id="ticket-state">${escapeHtml(state.ticket.state)}</span>${state.ticket.ageS !== undefined ? `, ${Math.round(state.ticket.ageS / 60)} min old` : ''}${state.ticket.receivedBy ? `, received by ${escapeHtml(state.ticket.receivedBy)}` : ''} ·
Platform token: ${state.tokenExpiresInS !== undefined ? `${Math.round(state.tokenExpiresInS / 60)} min left` : 'none stored'}</p>
<form method="post" action="${escapeHtml(opts.basePath)}/admin/platform/authorize">
<input type="hidden" name="csrf" value="${escapeHtml(opts.csrf)}">
<button type="submit" id="authorize">Authorize an Official Account</button>
<span class="muted">… or a mini program: the account's admin picks it on WeChat's page.</span></form>
<h2>Accounts (${state.accounts.authorized} authorized, ${state.accounts.revoked} revoked)</h2>
<table id="accounts"><thead><tr><th>account</th><th>permission sets granted</th><th>login modes</th><th>token</th></tr></thead>
<tbody>${rows || '<tr><td colspan="4" class="muted">No account has authorized the platform yet.</td></tr>'}</tbody></table>`,
  );
}

/**
 * The step before WeChat's page: WeChat accepts its authorization link only when a person clicks it on a page of
 * the platform's authorization-initiating domain (a redirect arrives without a referrer: "授权入口页所在域名：空"),
 * so this page shows the links to click — PC (WeChat shows a QR for the admin to scan) and mobile (opened inside
 * WeChat).
 */
export function continuePage(opts: { pcUrl: string; mobileUrl: string }): string {
  return layout(
    'Authorize an account · scanlogin',
    `<h1>Authorize an account</h1>
<p>WeChat's authorization page lets the account's admin scan with WeChat and pick the permission sets to grant.
Login modes need: web OAuth — ${escapeHtml(PERMISSION_NAMES[4]!)}; the Official Account QR — ${escapeHtml(PERMISSION_NAMES[1]!)} and ${escapeHtml(PERMISSION_NAMES[3]!)}; a mini program — ${escapeHtml(PERMISSION_NAMES[18]!)} and ${escapeHtml(PERMISSION_NAMES[20]!)}.</p>
<p><a class="button" id="continue" href="${escapeHtml(opts.pcUrl)}">Continue to WeChat's authorization page</a></p>
<p class="muted">On a phone, in WeChat: <a id="continue-mobile" href="${escapeHtml(opts.mobileUrl)}">open the mobile authorization page</a>. The link is valid for 30 minutes.</p>`,
  );
}

/** Sign in with ADMIN_TOKEN. */
export function signInPage(basePath: string, failed: boolean): string {
  return layout(
    'Sign in · scanlogin operator',
    `<h1>Operator sign-in</h1>${failed ? '<p class="bad" id="signin-failed">That is not the ADMIN_TOKEN.</p>' : ''}
<form method="post" action="${escapeHtml(basePath)}/admin/login"><label>ADMIN_TOKEN <input type="password" name="token" id="token" autocomplete="off"></label>
<button type="submit" id="signin">Sign in</button></form>`,
  );
}
