import type { RedisLink } from '../redis/link.js';
import type { LoginRecord, TransitionName } from './model.js';

/** Told of every login this process creates and every transition it writes (metrics, the audit log). */
export interface LoginEvents {
  created(record: LoginRecord): void;
  changed(name: TransitionName, record: LoginRecord, now: number): void;
}

export interface LoginStoreOptions {
  link: RedisLink;
  events?: LoginEvents;
  clock?: () => number;
  /** Default 120 s. */
  loginTtlMs?: number;
  /** Default 60 s. */
  ticketTtlMs?: number;
}

export interface CreateLoginInput {
  mode: string;
  scanUrl: string;
  ua?: string;
  ip?: string;
  modeData?: Record<string, string>;
  /** The OpenID Connect interaction this login serves, and its client's name (shown on the phone). */
  oidc?: { uid: string; clientName: string; binding?: string };
  /** The account a site named (absent: the deployment's own app of the mode's kind). */
  account?: string;
}
