import { AppError } from '../errors.js';
import type { LoginRecord } from './model.js';

/** What a login mode decides when a login is created: what the QR code holds. */
export interface PreparedLogin {
  /** The URL (or WeChat URL) encoded in the QR code. */
  readonly scanUrl: string;
  /** Mode-specific values stored with the login (e.g. a WeChat ticket). */
  readonly modeData?: Record<string, string>;
}

/**
 * A login mode is a pluggable strategy: the store and the state machine are shared; a mode only decides what
 * the QR code holds and how the phone reaches the confirm step.
 */
export interface LoginMode {
  readonly name: string;
  prepare(login: { id: string; expiresAt: number }): Promise<PreparedLogin>;
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
}

/** A ready-made code image. */
export interface QrImage {
  readonly type: string;
  readonly body: Buffer;
}

/** Web OAuth (the default): the QR holds our own scan URL; the phone goes through WeChat's OAuth. */
export function oauthMode(publicUrl: string): LoginMode {
  return {
    name: 'oauth',
    async prepare({ id }) {
      return { scanUrl: `${publicUrl}/l/${id}` };
    },
    // Any browser may open the scan URL in dev mode; the simulator's consent page plays WeChat from there.
    devPhoneUrl: (login) => login.scanUrl,
  };
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
}
