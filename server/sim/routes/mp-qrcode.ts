import Router from '@koa/router';
import QRCode from 'qrcode';
import type { SimDeps } from '../deps.js';
import { readJsonBody, wxError as wxFail } from './respond.js';
import { queryParam, wxJson } from './respond.js';
import { tokenOwner } from './token-owner.js';

/** docs/wechat.md §5: scene_str 1–64 characters; expire_seconds at most 30 days, 60 s when absent. */
const MAX_SCENE_STR = 64;
const MAX_EXPIRE_S = 2_592_000;
const DEFAULT_EXPIRE_S = 60;

/**
 * Official Account temporary parametric QR codes (docs/wechat.md §5): `POST /cgi-bin/qrcode/create` (global
 * access_token) and `GET /cgi-bin/showqrcode?ticket=` (the image; unknown ticket → HTTP 404). Both counted.
 */
export function mpQrcodeRouter(deps: SimDeps): Router {
  const router = new Router();
  const counted = deps.stats.middleware();

  router.post('/cgi-bin/qrcode/create', counted, async (ctx) => {
    const now = deps.clock();
    // The account's own global token, or on its behalf the platform's authorizer token (帐号服务, set 3).
    const own = { appid: deps.app.appid, users: deps.users, tokens: deps.tokens };
    const owner = tokenOwner(deps, queryParam(ctx, 'access_token') ?? '', own, 3);
    if (typeof owner === 'number') return wxFail(ctx, owner, now);
    // Only verified service accounts have parametric QR codes (docs/wechat.md §12.7).
    if (owner.merchant && (owner.merchant.serviceType !== 2 || owner.merchant.verifyType < 0))
      return wxFail(ctx, 48001, now);
    const body = await readJsonBody(ctx);
    if (!body) return wxFail(ctx, 47001, now);
    const scene = sceneOf(body);
    if (scene === undefined) return wxFail(ctx, 40053, now);
    const rawExpire = body.expire_seconds;
    if (rawExpire !== undefined && (typeof rawExpire !== 'number' || !Number.isInteger(rawExpire) || rawExpire < 1)) {
      return wxFail(ctx, 47001, now);
    }
    // Longer than 30 days is cut to 30 days, as WeChat does.
    const expireSeconds = Math.min(MAX_EXPIRE_S, rawExpire ?? DEFAULT_EXPIRE_S);
    const qr = deps.qrCodes.create(scene, expireSeconds, owner.appid);
    deps.logger.info({ scene, expireSeconds }, 'sim parametric QR created');
    wxJson(ctx, { ticket: qr.ticket, expire_seconds: expireSeconds, url: qr.url });
  });

  // Served from mp.weixin.qq.com in reality; the simulator has one host for everything.
  router.get('/cgi-bin/showqrcode', counted, async (ctx) => {
    const qr = deps.qrCodes.find({ ticket: queryParam(ctx, 'ticket') ?? '' });
    if (!qr) {
      ctx.status = 404;
      ctx.body = 'not found';
      return;
    }
    ctx.type = 'image/png';
    ctx.body = await QRCode.toBuffer(qr.url, { type: 'png', margin: 1, width: 430, errorCorrectionLevel: 'M' });
  });

  return router;
}

/** The scene of a QR_STR_SCENE (1–64 chars) or QR_SCENE (32-bit id) request; undefined → 40053. */
function sceneOf(body: Record<string, unknown>): string | undefined {
  const info = body.action_info as { scene?: { scene_str?: unknown; scene_id?: unknown } } | undefined;
  const scene = info && typeof info === 'object' ? info.scene : undefined;
  if (!scene || typeof scene !== 'object') return undefined;
  if (body.action_name === 'QR_STR_SCENE') {
    const s = scene.scene_str;
    return typeof s === 'string' && s.length >= 1 && s.length <= MAX_SCENE_STR ? s : undefined;
  }
  if (body.action_name === 'QR_SCENE') {
    const n = scene.scene_id;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 0xffffffff ? String(n) : undefined;
  }
  return undefined;
}
