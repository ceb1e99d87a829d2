import type { SimDeps } from '../../deps.js';

/** wx.request's default is 60 s; a developer clicking in a browser should not wait that long for a dead app. */
const APP_TIMEOUT_MS = 10_000;
/** What the mini program's wx.request sends: WeChat's UA with `miniProgram`, and the servicewechat.com Referer. */
const MINI_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN miniProgram';

/** The app's JSON answer, or what went wrong (its error code and message, or why it could not be reached). */
export type AppAnswer =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; status: number; code: string; message: string };

/** A mini-program request to the app (`POST <appUrl><path>` with a JSON body); never throws. */
export async function callApp(deps: SimDeps, path: string, body: Record<string, unknown>): Promise<AppAnswer> {
  if (!deps.appUrl)
    return { ok: false, status: 503, code: 'no_app_url', message: 'the simulator was started without the app URL' };
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${deps.appUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': MINI_UA,
        referer: `https://servicewechat.com/${deps.miniProgram.app.appid}/0/page-frame.html`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(APP_TIMEOUT_MS),
    });
    text = await res.text();
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    deps.logger.warn({ path, err: (err as Error).message }, 'sim mini program request failed');
    return {
      ok: false,
      status: 502,
      code: 'request_failed',
      message: timedOut
        ? `no answer from ${deps.appUrl} within ${APP_TIMEOUT_MS} ms`
        : `${deps.appUrl}: ${(err as Error).message}`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const obj = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  if (res.ok) return { ok: true, body: obj };
  return {
    ok: false,
    status: res.status,
    code: typeof obj.error === 'string' ? obj.error : `HTTP ${res.status}`,
    message: typeof obj.message === 'string' ? obj.message : text.slice(0, 200),
  };
}
