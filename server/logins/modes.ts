import { AppError } from '../errors.js';

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
}

/** Web OAuth (the default): the QR holds our own scan URL; the phone goes through WeChat's OAuth. */
export function oauthMode(publicUrl: string): LoginMode {
  return {
    name: 'oauth',
    async prepare({ id }) {
      return { scanUrl: `${publicUrl}/l/${id}` };
    },
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
}
