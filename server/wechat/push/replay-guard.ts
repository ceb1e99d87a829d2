import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RedisLink } from '../../redis/link.js';
import { keys } from '../../redis/keys.js';
import { safeEqual } from '../../util/crypto.js';
import { SIGNATURE_MAX_SKEW_S, messageDigest } from './authenticate.js';

/**
 * How long a (timestamp, nonce) stays claimed: a triple is accepted from `timestamp - skew` to
 * `timestamp + skew` by our clock, 2 × 300 s, so a claim taken at the earliest moment still stands when the
 * triple goes stale.
 */
export const NONCE_CLAIM_TTL_S = 2 * SIGNATURE_MAX_SKEW_S;

/**
 * WeChat retries an unanswered push 3 times over ~15 s (docs/wechat.md §6.3); a delivery that did its work is
 * remembered for 5 minutes, comfortably longer, so every retry of it is answered without doing the work twice.
 */
export const EVENT_DEDUPE_TTL_S = 300;

/** Replays and retries of WeChat pushes, in Redis (through the link, so it follows reloads and fails fast). */
export class PushReplayGuard {
  readonly #link: RedisLink;
  readonly #logger: Logger;

  constructor(opts: { link: RedisLink; logger: Logger }) {
    this.#link = opts.link;
    this.#logger = opts.logger;
  }

  /**
   * Each (timestamp, nonce) signs one message: the first authentic use claims it (SET NX, NONCE_CLAIM_TTL_S) with
   * a digest of the message, and a later request carrying the same triple is refused (`invalid_signature`) unless
   * it carries the same message. The exception is deliberate: whether WeChat's retries re-sign with a fresh nonce
   * is not documented (our simulator repeats the request byte for byte, the worst case), and an identical message
   * does nothing a retry may not do — the event dedupe and the transition script make it idempotent. What the
   * claim stops: an old triple copied from an access log signing a forged FromUserName.
   */
  async claimNonce(timestamp: string, nonce: string, msg: Record<string, string>): Promise<void> {
    const key = keys.wxNonce(this.#link.keyPrefix, timestamp, nonce);
    const digest = messageDigest(msg);
    if ((await this.#link.command.set(key, digest, 'EX', NONCE_CLAIM_TTL_S, 'NX')) === 'OK') return;
    const claimedBy = await this.#link.command.get(key);
    if (claimedBy !== null && safeEqual(claimedBy, digest)) return;
    this.#logger.warn('wechat push refused: timestamp/nonce replayed with another message');
    throw new AppError('invalid_signature', 'this timestamp/nonce already signed another message');
  }

  /** True when a delivery of this event already did its work (a retry). */
  async done(eventId: readonly string[]): Promise<boolean> {
    return (await this.#link.command.exists(keys.wxEvent(this.#link.keyPrefix, eventId))) === 1;
  }

  /**
   * Remembers that this event did its work. Written only after the work, so a delivery that failed half-way
   * (Redis down) leaves nothing behind and WeChat's retry does the work; losing the marker only means a retry
   * meets the transition script's `invalid_transition`.
   */
  async markDone(eventId: readonly string[]): Promise<void> {
    await this.#link.command
      .set(keys.wxEvent(this.#link.keyPrefix, eventId), '1', 'EX', EVENT_DEDUPE_TTL_S)
      .catch((err: unknown) => this.#logger.warn({ err }, 'wechat push: could not write the dedupe marker'));
  }
}
