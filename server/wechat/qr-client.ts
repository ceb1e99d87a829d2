import { AppError } from '../errors.js';
import { wechatFetch, wechatJson, type TokenSource, type WechatEndpoint } from './api-call.js';

/** docs/wechat.md §5: `scene_str` is 1–64 characters; `expire_seconds` at most 30 days. */
export const MAX_SCENE_STR = 64;
export const MAX_QR_EXPIRE_S = 2_592_000;

export interface SceneQr {
  /** WeChat's ticket (`gQ…`), for `showqrcode` and the `Ticket` of the scan event. */
  readonly ticket: string;
  /** What the QR code encodes (`http://weixin.qq.com/q/…`). */
  readonly url: string;
  readonly expireSeconds: number;
}

/**
 * `POST /cgi-bin/qrcode/create`: a temporary Official Account QR code carrying `scene` (QR_STR_SCENE).
 * Scanning it pushes a `subscribe`/`SCAN` event with the scene to our server (docs/wechat.md §6.2).
 */
export async function createSceneQr(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  scene: string,
  expireSeconds: number,
): Promise<SceneQr> {
  if (scene.length < 1 || scene.length > MAX_SCENE_STR)
    throw new AppError('internal', `scene_str must be 1–${MAX_SCENE_STR} characters`);
  const body = {
    expire_seconds: Math.min(MAX_QR_EXPIRE_S, Math.max(1, Math.ceil(expireSeconds))),
    action_name: 'QR_STR_SCENE',
    action_info: { scene: { scene_str: scene } },
  };
  const path = '/cgi-bin/qrcode/create';
  const b = await tokens.withToken(async (token) =>
    wechatJson(path, await wechatFetch(endpoint, path, { access_token: token }, body)),
  );
  if (typeof b.ticket !== 'string' || typeof b.url !== 'string' || !b.ticket || !b.url) {
    throw new AppError('wechat_error', `WeChat ${path} returned an unexpected body`);
  }
  return {
    ticket: b.ticket,
    url: b.url,
    expireSeconds: typeof b.expire_seconds === 'number' ? b.expire_seconds : body.expire_seconds,
  };
}

/** A code image as WeChat sent it. */
export interface CodeImage {
  readonly type: 'image/jpeg' | 'image/png';
  readonly bytes: Buffer;
}

/** The image type from its magic bytes (WeChat's Content-Type is not to be trusted), or null for non-images. */
export function sniffImageType(bytes: Buffer): CodeImage['type'] | null {
  if (bytes.length > 8 && bytes.readUInt32BE(0) === 0x89504e47) return 'image/png';
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  return null;
}

/**
 * `POST /wxa/getwxacodeunlimit`: a mini-program code opening `page` with `scene` (≤ 32 visible characters,
 * docs/wechat.md §7). Success is the raw image; failure is JSON with an errcode (41030 page, 40129/40169 scene,
 * 45009 quota, -1), thrown as `WechatApiError`.
 */
export async function getUnlimitedWxaCode(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  opts: { scene: string; page: string; width?: number; envVersion?: 'release' | 'trial' | 'develop' },
): Promise<CodeImage> {
  const path = '/wxa/getwxacodeunlimit';
  const envVersion = opts.envVersion ?? 'release';
  // check_path checks the page against the *released* mini program: on for a release code, so that a page that is
  // not (yet) released fails here with 41030 instead of on the phone; off for trial/develop codes, whose page may
  // exist only in that version (docs/wechat.md §7).
  const body = {
    scene: opts.scene,
    page: opts.page,
    check_path: envVersion === 'release',
    env_version: envVersion,
    width: opts.width ?? 430,
  };
  return tokens.withToken(async (token) => {
    const answer = await wechatFetch(endpoint, path, { access_token: token }, body);
    const type = sniffImageType(answer.body);
    if (type) return { type, bytes: answer.body };
    wechatJson(path, answer); // throws WechatApiError for an errcode
    throw new AppError('wechat_error', `WeChat ${path} returned neither an image nor an errcode`);
  });
}
