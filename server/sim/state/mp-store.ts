import { randomBytes } from 'node:crypto';
import { customAlphabet } from 'nanoid';

/** What a temporary parametric QR code stands for (docs/wechat.md §5). */
export interface SimQr {
  readonly ticket: string;
  readonly url: string;
  readonly scene: string;
  readonly expiresAt: number;
  /** The Official Account that made it (the simulator's own, or one on whose behalf the platform made it). */
  readonly appid?: string;
}

const urlId = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-', 22);
/** Sweep expired entries every this many inserts, so memory stays bounded without a timer to own. */
const SWEEP_EVERY = 256;

/**
 * The Official Account's temporary QR codes, in memory, timed by the injected clock. Tickets look like
 * WeChat's (`gQ` + base64, so they need URL-encoding in `showqrcode`), the URL like `http://weixin.qq.com/q/…`.
 */
export class SimQrCodes {
  readonly #clock: () => number;
  readonly #byTicket = new Map<string, SimQr>();
  readonly #byUrl = new Map<string, SimQr>();
  /** The newest QR per scene: a camera reads a QR, never a bare scene, so a scan by scene means that QR. */
  readonly #byScene = new Map<string, SimQr>();
  #inserts = 0;

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  create(scene: string, expireSeconds: number, appid?: string): SimQr {
    if (++this.#inserts % SWEEP_EVERY === 0) this.#sweep();
    const qr: SimQr = {
      ticket: `gQ${randomBytes(48).toString('base64')}`,
      url: `http://weixin.qq.com/q/${urlId()}`,
      scene,
      expiresAt: this.#clock() + expireSeconds * 1000,
      ...(appid && { appid }),
    };
    this.#byTicket.set(qr.ticket, qr);
    this.#byUrl.set(qr.url, qr);
    this.#byScene.set(qr.scene, qr);
    return qr;
  }

  /** A live QR by its ticket, the URL it encodes (what a phone camera reads) or its scene; undefined once expired. */
  find(by: { ticket?: string; url?: string; scene?: string }): SimQr | undefined {
    const qr =
      by.ticket !== undefined
        ? this.#byTicket.get(by.ticket)
        : by.url !== undefined
          ? this.#byUrl.get(by.url)
          : by.scene !== undefined
            ? this.#byScene.get(by.scene)
            : undefined;
    return qr && this.#clock() < qr.expiresAt ? qr : undefined;
  }

  #sweep(): void {
    const now = this.#clock();
    for (const [k, v] of this.#byTicket) {
      if (now < v.expiresAt) continue;
      this.#byTicket.delete(k);
      this.#byUrl.delete(v.url);
      if (this.#byScene.get(v.scene) === v) this.#byScene.delete(v.scene);
    }
  }
}

interface JsCode {
  readonly openid: string;
  /** The mini program whose wx.login() made it: another app's jscode2session refuses it (40029). */
  readonly appid: string | undefined;
  readonly expiresAt: number;
  readonly blocked: boolean;
  used: boolean;
}

export type JsCodeRedeem = { ok: true; openid: string } | { ok: false; errcode: 40029 | 40163 | 40226 };

const jsCodeId = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 32);

/** Mini program `wx.login()` codes: single use, valid `ttlMs` (WeChat: 5 minutes, docs/wechat.md §8). */
export class SimJsCodes {
  readonly #clock: () => number;
  readonly #ttlMs: number;
  readonly #codes = new Map<string, JsCode>();
  #inserts = 0;

  constructor(clock: () => number, ttlMs: number) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  /**
   * A new code for `openid` of mini program `appid`; `blocked` makes it a risky user's, which jscode2session refuses
   * with 40226.
   */
  issue(openid: string, blocked = false, appid?: string): string {
    if (++this.#inserts % SWEEP_EVERY === 0) {
      const now = this.#clock();
      for (const [k, v] of this.#codes) if (now >= v.expiresAt) this.#codes.delete(k);
    }
    const code = jsCodeId();
    this.#codes.set(code, { openid, appid, expiresAt: this.#clock() + this.#ttlMs, blocked, used: false });
    return code;
  }

  /** Unknown, expired or another mini program's → 40029; second use → 40163; risky user → 40226. */
  redeem(code: string, appid?: string): JsCodeRedeem {
    const entry = this.#codes.get(code);
    if (!entry || this.#clock() >= entry.expiresAt) return { ok: false, errcode: 40029 };
    if (appid !== undefined && entry.appid !== undefined && entry.appid !== appid) return { ok: false, errcode: 40029 };
    if (entry.blocked) return { ok: false, errcode: 40226 };
    if (entry.used) return { ok: false, errcode: 40163 };
    entry.used = true;
    return { ok: true, openid: entry.openid };
  }
}
