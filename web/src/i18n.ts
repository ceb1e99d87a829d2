/** Chinese and English strings; the language follows navigator.language unless the visitor toggled it. */

export type Lang = 'zh' | 'en';

const en = {
  title: 'Sign in with WeChat',
  subtitle: 'Scan the QR code with WeChat on your phone',
  'subtitle.mp-qrcode': 'Scan with WeChat: follow the Official Account to sign in',
  'subtitle.miniprogram': 'Scan the mini-program code with WeChat',
  'mode.oauth': 'WeChat',
  'mode.mp-qrcode': 'Official Account',
  'mode.miniprogram': 'Mini program',
  modesLabel: 'Sign-in method',
  loading: 'Generating QR code…',
  pending: 'Open WeChat and scan to sign in',
  scannedWaiting: 'Scanned — waiting for WeChat authorization…',
  scanned: 'Scanned — confirm on your phone',
  redeeming: 'Confirmed — signing you in…',
  confirmed: 'Signed in',
  cancelled: 'Sign-in was cancelled on the phone.',
  expired: 'This QR code has expired.',
  renewed: 'The QR code expired, so here is a new one.',
  errorUnknownLogin: 'This sign-in request no longer exists.',
  errorForbidden: 'This page may no longer follow the sign-in request.',
  errorNetwork: 'Cannot reach the server. Check your connection.',
  errorRedeem: 'Sign-in could not be completed.',
  errorGeneric: 'Something went wrong.',
  countdown: 'Expires in {time}',
  refresh: 'New QR code',
  logout: 'Log out',
  simulate: 'Simulate phone scan',
  openid: 'OpenID',
  qrAlt: 'WeChat sign-in QR code',
  polling: 'Live updates via polling',
  langToggle: '中文',
  langToggleLabel: 'Switch to Chinese',
};

export type MessageKey = keyof typeof en;

const zh: Record<MessageKey, string> = {
  title: '微信扫码登录',
  subtitle: '请使用手机微信扫描二维码',
  'subtitle.mp-qrcode': '微信扫码，关注公众号即可登录',
  'subtitle.miniprogram': '请使用微信扫描小程序码',
  'mode.oauth': '微信授权',
  'mode.mp-qrcode': '公众号',
  'mode.miniprogram': '小程序',
  modesLabel: '登录方式',
  loading: '正在生成二维码…',
  pending: '打开微信，扫一扫登录',
  scannedWaiting: '已扫码，等待微信授权…',
  scanned: '扫码成功，请在手机上确认登录',
  redeeming: '已确认，正在登录…',
  confirmed: '已登录',
  cancelled: '已在手机上取消登录。',
  expired: '二维码已过期。',
  renewed: '二维码已过期，已为你生成新的二维码。',
  errorUnknownLogin: '登录请求已失效。',
  errorForbidden: '本页面无法继续跟踪该登录请求。',
  errorNetwork: '无法连接服务器，请检查网络。',
  errorRedeem: '登录未能完成。',
  errorGeneric: '出错了。',
  countdown: '{time} 后过期',
  refresh: '刷新二维码',
  logout: '退出登录',
  simulate: '模拟手机扫码',
  openid: 'OpenID',
  qrAlt: '微信登录二维码',
  polling: '通过轮询获取状态',
  langToggle: 'English',
  langToggleLabel: '切换到英文',
};

const MESSAGES: Record<Lang, Record<MessageKey, string>> = { en, zh };
const STORAGE_KEY = 'scanlogin.lang';

/** Picks the initial language: the visitor's saved choice, else zh for any zh-* browser language, else en. */
export function detectLang(nav: Pick<Navigator, 'language' | 'languages'> = navigator): Lang {
  const saved = readSaved();
  if (saved) return saved;
  const first = nav.languages?.[0] ?? nav.language ?? '';
  return first.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export class I18n {
  private listeners = new Set<() => void>();

  constructor(private current: Lang) {}

  get lang(): Lang {
    return this.current;
  }

  /** The message for `key` in the current language, with `{name}` placeholders filled from `vars`. */
  t(key: MessageKey, vars: Record<string, string> = {}): string {
    return MESSAGES[this.current][key].replace(/\{(\w+)\}/g, (m, name: string) => vars[name] ?? m);
  }

  /** Switches language, remembers the choice, and notifies listeners so they re-render. */
  set(lang: Lang): void {
    if (lang === this.current) return;
    this.current = lang;
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      /* storage disabled (private mode): the choice lasts for this page only */
    }
    for (const fn of this.listeners) fn();
  }

  toggle(): void {
    this.set(this.current === 'zh' ? 'en' : 'zh');
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

function readSaved(): Lang | null {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'zh' || v === 'en' ? v : null;
  } catch {
    return null;
  }
}
