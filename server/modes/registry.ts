import type Router from '@koa/router';
import { AppError } from '../errors.js';
import type { HttpDeps } from '../http/deps.js';
import type { LoginRecord } from '../logins/model.js';
import type { Account } from '../accounts/model.js';

/** What a login mode decides when a login is created: what the QR code holds. */
export interface PreparedLogin {
  /** The URL (or WeChat URL) encoded in the QR code. */
  readonly scanUrl: string;
  /** Mode-specific values stored with the login (e.g. a WeChat ticket). */
  readonly modeData?: Record<string, string>;
}

/**
 * A login mode is one vertical slice: the store, the state machine and the watch hub are shared (`logins/`); a
 * mode decides what the QR code holds (`prepare`) and owns the routes by which the phone reaches the confirm step.
 */
export interface LoginMode {
  readonly name: string;
  /** `account`: the account the login runs for (accounts/directory.ts decided it may run this mode). */
  prepare(login: { id: string; expiresAt: number; account: Account }): Promise<PreparedLogin>;
  /**
   * Optional: the login's code image when WeChat draws it (a mini-program code cannot be generated from
   * `scanUrl`). Absent → the API draws a QR code of `scanUrl`. null → the image is gone (the login expired).
   */
  qrImage?(login: LoginRecord): Promise<QrImage | null>;
  /**
   * Dev mode only: where the page's "Simulate phone scan" link goes, given WeChat's open base as the browser
   * sees it (in dev, the simulator). Absent → the mode offers no simulated phone.
   */
  devPhoneUrl?(login: Pick<LoginRecord, 'id' | 'scanUrl'>, openBase: string): string;
  /**
   * Optional: the page WeChat draws the QR in, for the widget to frame (qrconnect, as WeChat's WxLogin does).
   * Absent → the widget shows the QR image.
   */
  frameUrl?(login: Pick<LoginRecord, 'id'>): string;
  /** The phone-side routes of this mode (the scan URL and OAuth callback, WeChat's pushes, the mini program's API). */
  routes?(deps: HttpDeps): Router;
}

/** A ready-made code image. */
export interface QrImage {
  readonly type: string;
  readonly body: Buffer;
}

/** The set of modes a server offers, looked up by name. */
export class ModeRegistry {
  readonly #modes = new Map<string, LoginMode>();

  constructor(modes: LoginMode[]) {
    for (const m of modes) this.#modes.set(m.name, m);
  }

  get(name: string): LoginMode {
    const mode = this.#modes.get(name);
    if (!mode) {
      throw new AppError('unknown_mode', `unknown login mode "${name}"`, { modes: [...this.#modes.keys()] });
    }
    return mode;
  }

  /** The mode, or undefined when this server does not offer it (e.g. a login created by another config). */
  find(name: string): LoginMode | undefined {
    return this.#modes.get(name);
  }

  /** The names offered, in registration order. */
  names(): string[] {
    return [...this.#modes.keys()];
  }

  /** The modes offered, in registration order. */
  all(): LoginMode[] {
    return [...this.#modes.values()];
  }
}
