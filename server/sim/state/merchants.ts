import { createHash } from 'node:crypto';
import { SimUsers } from './users.js';

/**
 * The accounts a simulated admin can authorize to the simulated platform: merchants of a SaaS, each with its own
 * appid, original id (gh_…) and users (per-app openids; the unionid of a bound person is the same as everywhere).
 * A verified service account (can make parametric QR codes and run web OAuth), a second one, an unverified
 * subscription account (qrcode/create answers 48001, docs/wechat.md §12.7) and a mini program.
 */
export interface SimMerchant {
  readonly appid: string;
  readonly name: string;
  readonly ghId: string;
  readonly kind: 'official-account' | 'mini-program';
  /** 0 subscription, 1 upgraded subscription, 2 service account (Official Accounts). */
  readonly serviceType: number;
  /** -1 not verified, 0 verified. */
  readonly verifyType: number;
  readonly users: SimUsers;
}

/** The merchant accounts' appids (stable, so tests and the operator's journey can name them). */
export const SIM_MERCHANT_APPIDS = {
  coffee: 'wx1a2b3c4d5e6f7081',
  school: 'wx2b3c4d5e6f708192',
  blog: 'wx3c4d5e6f70819203',
  coffeeMini: 'wx4d5e6f7081920314',
} as const;

export function simMerchants(): SimMerchant[] {
  const m = (
    appid: string,
    name: string,
    kind: SimMerchant['kind'],
    serviceType: number,
    verifyType: number,
  ): SimMerchant => ({
    appid,
    name,
    ghId: originalIdOf(appid),
    kind,
    serviceType,
    verifyType,
    users: new SimUsers(appid),
  });
  return [
    m(SIM_MERCHANT_APPIDS.coffee, '街角咖啡 Corner Coffee', 'official-account', 2, 0),
    m(SIM_MERCHANT_APPIDS.school, '实验小学 Pilot School', 'official-account', 2, 0),
    m(SIM_MERCHANT_APPIDS.blog, '小明的博客 Ming’s Blog', 'official-account', 0, -1),
    m(SIM_MERCHANT_APPIDS.coffeeMini, '街角咖啡小程序 Corner Coffee Mini', 'mini-program', 0, 0),
  ];
}

/**
 * The test Official Account of WeChat's full-release check (全网发布, docs/wechat.md §12.11): WeChat's own fixed appid
 * and original id. It authorizes the platform only for the check (never on the authorization page), and its
 * messages are the check's.
 */
export const RELEASE_TEST_ACCOUNT = { appid: 'wx570bc396a51b8ff8', ghId: 'gh_3c884a361561' } as const;

export function releaseTestMerchant(): SimMerchant {
  const { appid, ghId } = RELEASE_TEST_ACCOUNT;
  return {
    appid,
    ghId,
    name: '全网发布测试公众号',
    kind: 'official-account',
    serviceType: 2,
    verifyType: 0,
    users: new SimUsers(appid),
  };
}

/** An account's original id (`gh_` + 12 hex), derived from its appid (as the simulator's own account's). */
export function originalIdOf(appid: string): string {
  return `gh_${createHash('sha256').update(`gh:${appid}`).digest('hex').slice(0, 12)}`;
}

/** The permission sets an account of this kind can grant (the authorization page's checkboxes). */
export function grantableSets(kind: SimMerchant['kind']): number[] {
  return kind === 'official-account' ? [1, 2, 3, 4, 15] : [17, 18, 19, 20];
}
