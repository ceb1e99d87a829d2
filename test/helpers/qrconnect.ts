/**
 * The browser and the phone of a `qrconnect` login against the simulator, over plain HTTP: WeChat's page (the
 * frame), its long-poll, the phone's Scan and Allow/Cancel, and the callback the page would be sent to.
 */

export interface WechatPage {
  uuid: string;
  /** The callback WeChat's page sends the frame to, and the state it adds. */
  redirect: string;
  state: string;
  /** WxLogin's `self_redirect`, as the page understood it. */
  self: string;
}

/** Opens WeChat's page (the frame's URL) and reads what its script would use. */
export async function openWechatPage(url: string): Promise<WechatPage> {
  const res = await fetch(url.replace(/#.*$/, ''));
  const html = await res.text();
  if (res.status !== 200) throw new Error(`WeChat's page: HTTP ${res.status}`);
  const attr = (name: string) => new RegExp(`data-${name}="([^"]*)"`).exec(html)?.[1]?.replaceAll('&amp;', '&') ?? '';
  return { uuid: attr('uuid'), redirect: attr('redirect'), state: attr('state'), self: attr('self') };
}

/** The page's long-poll: `window.wx_errcode=N;window.wx_code='…';`. */
export async function longPoll(simUrl: string, uuid: string, last: number): Promise<{ errcode: number; code: string }> {
  const text = await (await fetch(`${simUrl}/connect/l/qrconnect?uuid=${uuid}&last=${last}`)).text();
  const m = /^window\.wx_errcode=(\d+);window\.wx_code='([^']*)';$/.exec(text);
  if (!m) throw new Error(`unexpected long-poll answer ${text}`);
  return { errcode: Number(m[1]), code: m[2]! };
}

/** A form post of the simulated phone (`/sim/phone/qrconnect<path>`). */
export function phoneForm(simUrl: string, path: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${simUrl}/sim/phone/qrconnect${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

/** The phone scans as the `index`th sample user of the website app (0 = 张三); returns that user's openid. */
export async function scanAs(simUrl: string, uuid: string, index = 0): Promise<string> {
  const html = await (await fetch(`${simUrl}/sim/phone/qrconnect?uuid=${uuid}`)).text();
  const openid = [...html.matchAll(/name="openid" value="([^"]+)"/g)][index]?.[1];
  if (!openid) throw new Error(`the phone page lists no user ${index}`);
  const res = await phoneForm(simUrl, '/scan', { uuid, openid });
  if (res.status !== 200) throw new Error(`scan: HTTP ${res.status}`);
  return openid;
}

/** Scan and Allow on the phone: WeChat's page then holds the code (405) it would send to the callback. */
export async function allowAtWechat(simUrl: string, frameUrl: string, index = 0) {
  const page = await openWechatPage(frameUrl);
  const openid = await scanAs(simUrl, page.uuid, index);
  const res = await phoneForm(simUrl, '/decide', { uuid: page.uuid, openid, action: 'allow' });
  if (res.status !== 200) throw new Error(`allow: HTTP ${res.status}`);
  const { errcode, code } = await longPoll(simUrl, page.uuid, 404);
  if (errcode !== 405) throw new Error(`long-poll after Allow: ${errcode}`);
  return { page, code, openid };
}

/** Where WeChat's page sends the frame: `redirect_uri?code&state` (no code: refused). */
export function callback(page: Pick<WechatPage, 'redirect' | 'state'>, code?: string): Promise<Response> {
  const q = new URLSearchParams({ ...(code && { code }), state: page.state });
  return fetch(`${page.redirect}?${q}`, { redirect: 'manual' });
}
