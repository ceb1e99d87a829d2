import { afterAll, beforeAll } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';
import { pushPlatformEvent } from '../../server/sim/platform-push.js';
import { startRolesOnFile, type FileRoles } from './roles.js';
import { BROWSER_UA, authRequest, discoverRp, follow } from './oidc.js';
import { DEV_COMPONENT } from '../../server/config.js';
import { keys } from '../../server/redis/keys.js';

/** The simulator's dev platform, switched on, its ticket pushed every `intervalS` (tests: 1–2 s). */
export function platformEnv(intervalS = 1): Record<string, string> {
  return { ...DEV_COMPONENT, SIM_TICKET_INTERVAL: String(intervalS) };
}

export const COMPONENT_APPID = DEV_COMPONENT.WECHAT_COMPONENT_APPID;

/** The ticket's key under the default prefix. */
export const TICKET_KEY = keys.platformTicket('scanlogin:', COMPONENT_APPID);

/** How many times the app called each simulated WeChat API. */
export async function simCalls(simUrl: string): Promise<Record<string, number>> {
  return ((await (await fetch(`${simUrl}/sim/stats`)).json()) as { calls: Record<string, number> }).calls;
}

/** POST a JSON body to a simulator control. */
export async function simControl<T = Record<string, unknown>>(
  simUrl: string,
  path: string,
  body: unknown = {},
): Promise<T> {
  const res = await fetch(`${simUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** /healthz's platform section (detail: the tests call from loopback). */
export interface PlatformHealthView {
  ok: boolean;
  ticket: { key: string; state: string; createTime?: number; reason?: string; bytes?: number; receivedBy?: string };
  problem?: { code: string; errcode?: number; message: string; key?: string };
  problems: string[];
  accounts: { authorized: number; revoked: number };
  accountProblems: Record<string, { code: string; errcode?: number }>;
  token: { fetchCount: number; lastError?: string };
}

export async function platformHealth(httpUrl: string): Promise<PlatformHealthView> {
  const h = (await (await fetch(`${httpUrl}/healthz`)).json()) as { platform: PlatformHealthView };
  return h.platform;
}

/** The value of a named hidden/href attribute in an HTML page (test pages are small and regular). */
function attr(html: string, re: RegExp): string {
  const m = re.exec(html);
  if (!m) throw new Error(`not found: ${re}`);
  return m[1]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'");
}

/**
 * An account's admin authorizes the platform, as a browser would: the operator page's button (from loopback), the
 * continue link clicked (its Referer the app's page), the simulator's authorization page, the account and its sets
 * chosen, and the redirect back that lists it. `funcs` default: every set the page offers. Returns the final URL.
 */
export async function authorizeAccount(httpUrl: string, appid: string, funcs?: readonly number[]): Promise<string> {
  const admin = await (await fetch(`${httpUrl}/admin/platform`)).text();
  const csrf = attr(admin, /name="csrf" value="([^"]+)"/);
  const cont = await fetch(`${httpUrl}/admin/platform/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf }),
  });
  if (cont.status !== 200) throw new Error(`authorize: HTTP ${cont.status} ${await cont.text()}`);
  const pcUrl = attr(await cont.text(), /id="continue" href="([^"]+)"/);
  const page = await (await fetch(pcUrl, { headers: { referer: `${httpUrl}/admin/platform/authorize` } })).text();
  const form = new URLSearchParams({
    component_appid: attr(page, /name="component_appid" value="([^"]+)"/),
    pre_auth_code: attr(page, /name="pre_auth_code" value="([^"]+)"/),
    redirect_uri: attr(page, /name="redirect_uri" value="([^"]+)"/),
    appid,
  });
  const offered = [...page.matchAll(new RegExp(`id="sim-set-${appid}-(\\d+)"`, 'g'))].map((m) => Number(m[1]));
  for (const id of funcs ?? offered) form.append('func', String(id));
  const sim = new URL(pcUrl).origin;
  const approved = await fetch(`${sim}/sim/platform/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    redirect: 'manual',
  });
  const back = approved.headers.get('location');
  if (approved.status !== 302 || !back)
    throw new Error(`sim authorize: HTTP ${approved.status} ${await approved.text()}`);
  const done = await fetch(back, { redirect: 'manual' });
  if (done.status !== 302) throw new Error(`authorized: HTTP ${done.status} ${await done.text()}`);
  return done.headers.get('location') ?? '';
}

/** Waits (outside a test too: suite hooks) until the app's /healthz shows a stored ticket. */
export async function untilTicket(httpUrl: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await platformHealth(httpUrl).catch(() => undefined);
    if (h?.ticket.state === 'ok' && h.problems.length === 0) return;
    if (Date.now() > deadline) throw new Error(`no usable ticket within ${timeoutMs} ms: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * What the QR page does for a site's sign-in, over HTTP: the site's authorization request followed to the
 * interaction, then the login created there in `mode` (the account is the site's, docs/oidc.md).
 */
export async function loginFor(
  httpUrl: string,
  c: { client_id: string; client_secret: string; redirect_uris: readonly string[] },
  mode: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const rp = await discoverRp(httpUrl, c.client_id, c.client_secret, c.redirect_uris[0]!);
  const browser = new Phone(BROWSER_UA);
  const first = await follow(browser, (await authRequest(rp)).url.toString(), httpUrl);
  const uid = /\/interaction\/([^/]+)$/.exec(first.url.pathname)?.[1];
  if (!uid) throw new Error(`no interaction: ${first.url} HTTP ${first.last.status}`);
  const res = await fetch(`${httpUrl}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
    body: JSON.stringify({ interaction: uid, mode }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A site bound to an account (docs/oidc.md, binding a site to an account). */
export function boundClient(id: string, account: string) {
  return {
    client_id: id,
    client_secret: `${id}-secret-0123456789abcdef`,
    client_name: `Site of ${id}`,
    redirect_uris: [`http://${id}.example/cb`],
    account,
  };
}

export const COFFEE_SITE = boundClient('coffee', SIM_MERCHANT_APPIDS.coffee);

/** The roles on a private Redis, a site bound to the coffee account, the platform and /metrics on. */
export function suiteRoles(intervalS: number): () => FileRoles {
  let roles: FileRoles | undefined;
  beforeAll(async () => {
    roles = await startRolesOnFile(
      { oidc: { clients: [COFFEE_SITE] } },
      { ...platformEnv(intervalS), METRICS_PORT: '0' },
    );
  });
  afterAll(() => roles?.stop());
  return () => roles!;
}

export const PLATFORM_CONFIG = {
  appid: DEV_COMPONENT.WECHAT_COMPONENT_APPID,
  secret: DEV_COMPONENT.WECHAT_COMPONENT_SECRET,
  token: DEV_COMPONENT.WECHAT_COMPONENT_TOKEN,
  aesKey: DEV_COMPONENT.WECHAT_COMPONENT_AES_KEY,
};

/** A ticket push to `httpUrl` as WeChat signs and encrypts it, with the given ticket and CreateTime. */
export function pushTicket(
  httpUrl: string,
  ticket: string,
  createTime: number,
  config: Record<keyof typeof PLATFORM_CONFIG, string> = PLATFORM_CONFIG,
) {
  return pushPlatformEvent(
    { config },
    `${httpUrl}/wechat/platform/events`,
    { InfoType: 'component_verify_ticket', ComponentVerifyTicket: ticket, CreateTime: createTime },
    Date.now(),
  );
}
