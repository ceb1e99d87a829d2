import { randomInt } from 'node:crypto';
import type { Logger } from '../log.js';
import { encryptEventMessage, eventSignature } from '../wechat/push/crypto.js';
import { buildWechatXml } from '../wechat/push/xml.js';
import type { SimPlatform, SimPlatformConfig } from './state/platform.js';

/** WeChat waits 5 s for the authorization-event URL's answer (docs/wechat.md §12.2). */
const PUSH_TIMEOUT_MS = 5000;

/** What one push to the authorization-event URL met. */
export interface PlatformPushResult {
  /** The answer was exactly `success` (anything else is a failed push to WeChat). */
  readonly ok: boolean;
  readonly status?: number;
  readonly body?: string;
  readonly error?: string;
  readonly ms: number;
}

/**
 * Pushes one event to the platform's authorization-event URL as WeChat does (docs/wechat.md §12.2): always
 * encrypted — the outer XML carries `AppId` (the component appid, no `ToUserName`) and `Encrypt`, the plaintext's
 * appid tail is the component appid — signed `signature` and `msg_signature` with the platform's token, in the query
 * with `encrypt_type=aes`. The answer must be exactly `success` within 5 s.
 */
export async function pushPlatformEvent(
  platform: { readonly config: SimPlatformConfig },
  url: string,
  fields: Record<string, string | number>,
  nowMs: number,
  timeoutMs = PUSH_TIMEOUT_MS,
): Promise<PlatformPushResult> {
  const { appid, token, aesKey } = platform.config;
  const xml = buildWechatXml({ AppId: appid, CreateTime: Math.floor(nowMs / 1000), ...fields });
  const encrypted = encryptEventMessage(aesKey, appid, xml);
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = String(randomInt(1e9, 1e10));
  const target = new URL(url);
  target.searchParams.set('signature', eventSignature([token, timestamp, nonce]));
  target.searchParams.set('timestamp', timestamp);
  target.searchParams.set('nonce', nonce);
  target.searchParams.set('encrypt_type', 'aes');
  target.searchParams.set('msg_signature', eventSignature([token, timestamp, nonce, encrypted]));
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: buildWechatXml({ AppId: appid, Encrypt: encrypted }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.text()).slice(0, 512);
    return { ok: res.status === 200 && body === 'success', status: res.status, body, ms: ms() };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { ok: false, error: timedOut ? `no answer within ${timeoutMs} ms` : (err as Error).message, ms: ms() };
  }
}

/**
 * The platform's ticket service: a new component_verify_ticket pushed to the ONE authorization-event URL every
 * `intervalMs` (WeChat: 10 minutes; tests: 1–2 s), the first at once. `pushNow()` is `api_start_push_ticket` and
 * the simulator's control. Keeps the last results for `/sim/platform`. `stop()` is idempotent.
 */
export class TicketPusher {
  readonly #platform: SimPlatform;
  readonly #url: string;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #paused = false;
  #pushes = 0;
  #last: (PlatformPushResult & { createTime: number }) | undefined;

  constructor(opts: { platform: SimPlatform; url: string; intervalMs: number; logger: Logger }) {
    this.#platform = opts.platform;
    this.#url = opts.url;
    this.#intervalMs = opts.intervalMs;
    this.#log = opts.logger;
  }

  get url(): string {
    return this.#url;
  }

  /** Pushes so far, the last result, and whether the service is paused. */
  status(): { url: string; intervalMs: number; pushes: number; paused: boolean; last?: PlatformPushResult } {
    return {
      url: this.#url,
      intervalMs: this.#intervalMs,
      pushes: this.#pushes,
      paused: this.#paused,
      ...(this.#last && { last: this.#last }),
    };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Stops (true) or resumes (false) the periodic pushes, as a platform whose push service stopped. */
  pause(paused: boolean): void {
    this.#paused = paused;
  }

  /** Pushes a new ticket now (api_start_push_ticket also resumes a paused service). */
  async pushNow(): Promise<PlatformPushResult & { ticket: string; createTime: number }> {
    const { ticket, createTime } = this.#platform.newTicket();
    const result = await pushPlatformEvent(
      this.#platform,
      this.#url,
      { InfoType: 'component_verify_ticket', ComponentVerifyTicket: ticket },
      createTime * 1000,
    );
    this.#pushes += 1;
    this.#last = { ...result, createTime };
    this.#log.info({ ok: result.ok, ms: result.ms, url: this.#url }, 'sim pushed component_verify_ticket');
    return { ...result, ticket, createTime };
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(async () => {
      let ok = true;
      if (!this.#paused)
        ok = await this.pushNow().then(
          (r) => r.ok,
          (err: unknown) => {
            this.#log.warn({ err }, 'ticket push failed');
            return false;
          },
        );
      // A push that got no `success` is tried again after 2 s, not 10 minutes: under `npm start` the simulator is up
      // before the http role. (WeChat itself just pushes again at the next interval.)
      if (!this.#stopped) this.#schedule(ok ? this.#intervalMs : Math.min(this.#intervalMs, 2000));
    }, delayMs);
    this.#timer.unref();
  }
}
