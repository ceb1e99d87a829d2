/**
 * Where the page runs, and the memory of a same-device sign-in across WeChat's OAuth round trip.
 *
 * Inside WeChat's own browser there is nothing to scan (WeChat cannot scan its own screen), so the page signs this
 * browser in through WeChat OAuth directly; on a phone's ordinary browser the QR must be scanned from another
 * device (or its link opened in WeChat); on a computer the page is the usual QR code.
 */
import type { Api, CreatedLogin } from './api.js';

export type Device = 'wechat' | 'phone' | 'desktop';

/** The device class of a User-Agent: WeChat's in-app browser says `MicroMessenger` (docs/wechat.md). */
export function deviceOf(userAgent: string): Device {
  if (/MicroMessenger/i.test(userAgent)) return 'wechat';
  if (/Android|iPhone|iPad|iPod|Mobile/i.test(userAgent)) return 'phone';
  return 'desktop';
}

/** The login this page left for WeChat's OAuth, kept until the page comes back to redeem it. */
export interface SameDevice {
  /** The login this page left with, once (null: none, or unreadable). */
  take(): CreatedLogin | null;
  /** Remembers `login` (its watch token redeems the ticket on return), then leaves for `url`. */
  leave(login: CreatedLogin, url: string): void;
}

/** The part of `window` sessionSameDevice uses (structural: the unit tests compile without the DOM library). */
export interface TabWindow {
  readonly location: { readonly pathname: string; assign(url: string): void };
  readonly sessionStorage: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
  };
}

/**
 * Inside WeChat: the server binds this browser as the login's phone and hands back WeChat's authorize URL; the
 * page remembers the login and leaves for it (WeChat's OAuth confirms the login at its callback and sends the
 * browser back). False when the server refused; nothing happens once `wanted()` turned false.
 */
export async function leaveForWechat(
  api: Pick<Api, 'startDirect'>,
  login: CreatedLogin,
  same: SameDevice,
  wanted: () => boolean,
): Promise<boolean> {
  let url: string;
  try {
    ({ url } = await api.startDirect(login.id, login.watchToken));
  } catch {
    return false;
  }
  if (wanted()) same.leave(login, url);
  return true;
}

/** SameDevice over sessionStorage (this tab only), keyed by the page's path (`/` or `/interaction/<uid>`). */
export function sessionSameDevice(win: TabWindow): SameDevice {
  const key = `scanlogin:direct:${win.location.pathname}`;
  return {
    take() {
      try {
        const raw = win.sessionStorage.getItem(key);
        win.sessionStorage.removeItem(key);
        const login = raw ? (JSON.parse(raw) as CreatedLogin) : null;
        return login && typeof login.id === 'string' && typeof login.watchToken === 'string' ? login : null;
      } catch {
        return null; // storage disabled: the page starts over
      }
    },
    leave(login, url) {
      try {
        win.sessionStorage.setItem(key, JSON.stringify(login));
      } catch {
        // Without storage the page cannot redeem on return; /api/session still finds a session set elsewhere.
      }
      win.location.assign(url);
    },
  };
}
