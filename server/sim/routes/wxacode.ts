import Router from '@koa/router';
import type { SimDeps } from '../deps.js';
import { readJsonBody, wxError as wxFail } from './respond.js';
import { queryParam } from './respond.js';
import { qrJpeg } from '../jpeg.js';
import { MP_PAGE_RE } from '../../config.js';
import { tokenOwner } from './token-owner.js';

/** docs/wechat.md §7: scene is ≤ 32 visible characters from this set. */
export const SCENE_CHARS = /^[0-9a-zA-Z!#$&'()*+,/:;=?@\-._~]+$/;
export const MAX_SCENE = 32;
/** The versions a code can open; anything else (a typo, an empty string) is WeChat's 40097 invalid args. */
const ENV_VERSIONS = new Set(['release', 'trial', 'develop']);

/**
 * `POST /wxa/getwxacodeunlimit` (docs/wechat.md §7): raw image bytes on success, JSON errcode otherwise —
 * 40129 bad scene characters, 40169 scene too long or a body that is not JSON, 41030 bad page (malformed, or
 * with `check_path` — WeChat's default — not a page of the release), 40097 bad `env_version`. The image is a
 * JPEG like WeChat's (real mini-program codes are round; ours is a square QR code holding page and scene).
 */
export function wxacodeRouter(deps: SimDeps): Router {
  const router = new Router();

  router.post('/wxa/getwxacodeunlimit', deps.stats.middleware(), async (ctx) => {
    const now = deps.clock();
    // A mini program's code is drawn with the mini program's own token, never the Official Account's.
    // Or an authorized mini program's authorizer token (开发管理, set 18), never an Official Account's.
    const mp = deps.miniProgram;
    const own = { appid: mp.app.appid, users: mp.users, tokens: mp.tokens };
    const owner = tokenOwner(deps, queryParam(ctx, 'access_token') ?? '', own, 18);
    if (typeof owner === 'number') return wxFail(ctx, owner, now);
    if (owner.merchant && owner.merchant.kind !== 'mini-program') return wxFail(ctx, 48001, now);
    const body = await readJsonBody(ctx);
    if (!body) return wxFail(ctx, 40169, now);
    const scene = body.scene;
    if (typeof scene !== 'string') return wxFail(ctx, 40169, now);
    if (scene.length > MAX_SCENE) return wxFail(ctx, 40169, now);
    if (!SCENE_CHARS.test(scene)) return wxFail(ctx, 40129, now);
    const page = body.page ?? 'pages/index/index';
    if (typeof page !== 'string' || !MP_PAGE_RE.test(page)) return wxFail(ctx, 41030, now);
    if (body.check_path !== false && !deps.miniProgram.pages.has(page)) return wxFail(ctx, 41030, now);
    const envVersion = body.env_version ?? 'release';
    if (typeof envVersion !== 'string' || !ENV_VERSIONS.has(envVersion)) return wxFail(ctx, 40097, now);
    const width = typeof body.width === 'number' ? Math.min(1280, Math.max(280, Math.round(body.width))) : 430;
    ctx.type = 'image/jpeg';
    ctx.body = qrJpeg(`${page}?scene=${scene}`, { width });
  });

  return router;
}
