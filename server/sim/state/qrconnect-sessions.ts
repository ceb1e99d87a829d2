import { customAlphabet } from 'nanoid';

/**
 * WeChat's long-poll answers on its website-login page (docs/wechat.md §10): 408 still waiting, 404 scanned,
 * 405 confirmed (with the code), 403 cancelled on the phone, 402 the QR expired.
 */
export const WX_ERRCODE = { waiting: 408, scanned: 404, confirmed: 405, cancelled: 403, expired: 402 } as const;
export type QrconnectStatus = keyof typeof WX_ERRCODE;

/** What the website page was opened with (checked by the route first). */
export interface QrconnectRequest {
  readonly appid: string;
  readonly redirectUri: string;
  readonly state: string;
  /** WxLogin's `self_redirect`: true → the frame itself goes to the callback, false → the top window. */
  readonly selfRedirect: boolean;
  /** WxLogin's `href`: a stylesheet the page links. */
  readonly href: string | undefined;
}

export interface QrconnectSession extends QrconnectRequest {
  readonly uuid: string;
  readonly expiresAt: number;
  status: Exclude<QrconnectStatus, 'expired'>;
  openid?: string;
  code?: string;
}

/** WeChat's QR keys in the page are 16 characters (observed). */
const newUuid = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-', 16);
const SWEEP_EVERY = 256;

/**
 * The website-login QR sessions of the simulator, in memory: one per opening of `/connect/qrconnect`, moved by the
 * simulated phone (scan → confirm or cancel) and watched by the page's long-poll. A scanned one is bound to the
 * person who scanned it. Expiry (402) is derived from the injected clock.
 */
export class QrconnectSessions {
  readonly #sessions = new Map<string, QrconnectSession>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #clock: () => number;
  readonly #ttlMs: number;
  #inserts = 0;

  constructor(opts: { clock: () => number; ttlMs: number }) {
    this.#clock = opts.clock;
    this.#ttlMs = opts.ttlMs;
  }

  open(req: QrconnectRequest): QrconnectSession {
    if (++this.#inserts % SWEEP_EVERY === 0) this.#sweep();
    const session: QrconnectSession = {
      ...req,
      uuid: newUuid(),
      expiresAt: this.#clock() + this.#ttlMs,
      status: 'waiting',
    };
    this.#sessions.set(session.uuid, session);
    return session;
  }

  get(uuid: string): QrconnectSession | undefined {
    return this.#sessions.get(uuid);
  }

  /** The page's view: expired once past the deadline while nobody confirmed or cancelled. */
  statusOf(s: QrconnectSession): QrconnectStatus {
    const open = s.status === 'waiting' || s.status === 'scanned';
    return open && this.#clock() >= s.expiresAt ? 'expired' : s.status;
  }

  /** The phone scanned: waiting → scanned, bound to that person. False when it cannot be scanned now. */
  scan(s: QrconnectSession, openid: string): boolean {
    if (this.statusOf(s) !== 'waiting') return false;
    s.status = 'scanned';
    s.openid = openid;
    this.#wake(s.uuid);
    return true;
  }

  /** The scanner decided: scanned → confirmed (with the code) or cancelled. False when it cannot now. */
  decide(
    s: QrconnectSession,
    openid: string,
    outcome: { confirmed: true; code: string } | { confirmed: false },
  ): boolean {
    if (this.statusOf(s) !== 'scanned' || s.openid !== openid) return false;
    if (outcome.confirmed) {
      s.status = 'confirmed';
      s.code = outcome.code;
    } else s.status = 'cancelled';
    this.#wake(s.uuid);
    return true;
  }

  /**
   * The long-poll: answers at once when the status differs from `last` (the code the page saw last), else when it
   * changes, or after `holdMs` with the status as it is (WeChat answers 408 while nothing happened).
   */
  async wait(s: QrconnectSession, last: number | undefined, holdMs: number): Promise<QrconnectStatus> {
    const now = this.statusOf(s);
    if (WX_ERRCODE[now] !== last || now === 'expired') return now;
    await new Promise<void>((resolve) => {
      const set = this.#waiters.get(s.uuid) ?? new Set();
      this.#waiters.set(s.uuid, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.#waiters.delete(s.uuid);
        resolve();
      };
      // Never past the QR's deadline, so the page learns of the expiry when it happens.
      const timer = setTimeout(done, Math.max(0, Math.min(holdMs, s.expiresAt - this.#clock())));
      set.add(done);
    });
    return this.statusOf(s);
  }

  #wake(uuid: string): void {
    for (const done of [...(this.#waiters.get(uuid) ?? [])]) done();
  }

  #sweep(): void {
    // Kept one lifetime past the deadline, so a late poll still gets 402 rather than "unknown".
    const now = this.#clock();
    for (const [k, v] of this.#sessions)
      if (now >= v.expiresAt + this.#ttlMs && !this.#waiters.has(k)) this.#sessions.delete(k);
  }
}
