import { createHash } from 'node:crypto';

export type Lang = 'zh_CN' | 'zh_TW' | 'en';

/** Country, province, city in one language. */
type Place = readonly [country: string, province: string, city: string];

/** A sample WeChat user the consent page offers. Ids are derived per app, like WeChat's. */
export interface SimUser {
  readonly openid: string;
  /** Only users "bound to an Open Platform account" have one; it is the same across appids. */
  readonly unionid: string | undefined;
  readonly nickname: string;
  /** 0 unknown, 1 male, 2 female (docs/wechat.md §3). */
  readonly sex: 0 | 1 | 2;
  readonly place: Readonly<Record<Lang, Place>>;
  /**
   * A "snapshot" user (朋友圈快照页): WeChat hands out a virtual openid with `is_snapshotuser:1`, scope
   * snsapi_base and no profile; its identity must not be trusted for login (docs/wechat.md §3).
   */
  readonly snapshot: boolean;
  /** Avatar background colour for the generated SVG. */
  readonly color: string;
}

interface Seed {
  key: string;
  hasUnionid: boolean;
  nickname: string;
  sex: 0 | 1 | 2;
  place: Record<Lang, Place>;
  snapshot: boolean;
  color: string;
}

const SEEDS: readonly Seed[] = [
  {
    key: 'zhangsan',
    hasUnionid: true,
    nickname: '张三',
    sex: 1,
    snapshot: false,
    color: '#07c160',
    place: { zh_CN: ['中国', '广东', '深圳'], zh_TW: ['中國', '廣東', '深圳'], en: ['China', 'Guangdong', 'Shenzhen'] },
  },
  {
    key: 'alice',
    hasUnionid: true,
    nickname: 'Alice',
    sex: 2,
    snapshot: false,
    color: '#576b95',
    place: {
      zh_CN: ['中国', '上海', '浦东新区'],
      zh_TW: ['中國', '上海', '浦東新區'],
      en: ['China', 'Shanghai', 'Pudong'],
    },
  },
  {
    // No unionid: the app is not bound to an Open Platform account for this user, so callers must cope.
    key: 'lisi',
    hasUnionid: false,
    nickname: '李四 Li Si 🐼',
    sex: 0,
    snapshot: false,
    color: '#fa9d3b',
    place: { zh_CN: ['', '', ''], zh_TW: ['', '', ''], en: ['', '', ''] },
  },
  {
    key: 'snapshot',
    hasUnionid: false,
    nickname: '微信用户',
    sex: 0,
    snapshot: true,
    color: '#b2b2b2',
    place: { zh_CN: ['', '', ''], zh_TW: ['', '', ''], en: ['', '', ''] },
  },
];

/** The sample users for one appid, first one is the consent page's default. */
export class SimUsers {
  readonly #list: readonly SimUser[];
  readonly #byOpenid: ReadonlyMap<string, SimUser>;

  constructor(appid: string) {
    // openids are per app and share an app-specific prefix (real ones of one account all start alike);
    // unionids are per Open Platform account, so they ignore the appid. Both are 28 chars, like
    // `ojHK1v9VKtd2r7BrUqRSGnymyH_Q`.
    const prefix = `o${digest(`app:${appid}`).slice(0, 5)}`;
    this.#list = SEEDS.map((s) => ({
      openid: prefix + digest(`openid:${appid}:${s.key}`).slice(0, 22),
      unionid: s.hasUnionid ? `o${digest(`unionid:${s.key}`).slice(0, 27)}` : undefined,
      nickname: s.nickname,
      sex: s.sex,
      place: s.place,
      snapshot: s.snapshot,
      color: s.color,
    }));
    this.#byOpenid = new Map(this.#list.map((u) => [u.openid, u]));
  }

  list(): readonly SimUser[] {
    return this.#list;
  }

  get(openid: string): SimUser | undefined {
    return this.#byOpenid.get(openid);
  }
}

function digest(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}
