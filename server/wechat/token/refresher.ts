import type { Logger } from '../../log.js';

export type RefresherState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * The background loop of the token manager: runs `tick` (which returns the ms until it wants to run again),
 * one run at a time, with up to 10% jitter so the processes of a fleet do not wake in the same instant.
 * A failing tick is retried with exponential backoff (1 s doubling to 30 s) and logged; the loop never dies
 * of an error. `stop()` is idempotent and waits for a running tick.
 */
export class TokenRefresher {
  #state: RefresherState = 'idle';
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failures = 0;
  readonly #tick: () => Promise<number>;
  readonly #log: Logger;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;

  /** Delays are clamped to [minDelayMs, maxDelayMs]; defaults 50 ms and 60 s. */
  constructor(opts: { tick: () => Promise<number>; logger: Logger; minDelayMs?: number; maxDelayMs?: number }) {
    this.#tick = opts.tick;
    this.#log = opts.logger;
    this.#minDelayMs = opts.minDelayMs ?? 50;
    this.#maxDelayMs = opts.maxDelayMs ?? 60_000;
  }

  get state(): RefresherState {
    return this.#state;
  }

  /** Runs the first tick at once. Once only. */
  start(): void {
    if (this.#state !== 'idle') throw new Error(`TokenRefresher.start() called in state ${this.#state}`);
    this.#state = 'running';
    this.#schedule(0);
  }

  /** Cancels the next tick and waits for the current one. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'idle') this.#state = 'stopped';
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    clearTimeout(this.#timer);
    await this.#running;
    this.#state = 'stopped';
  }

  #schedule(delayMs: number): void {
    const clamped = Math.min(Math.max(delayMs, this.#minDelayMs), this.#maxDelayMs);
    this.#timer = setTimeout(() => this.#run(), delayMs === 0 ? 0 : clamped * (1 + Math.random() * 0.1));
    // The loop must not keep a process alive on its own: whoever owns the manager decides when to exit.
    this.#timer.unref();
  }

  #run(): void {
    this.#running = (async () => {
      let next: number;
      try {
        next = await this.#tick();
        this.#failures = 0;
      } catch (err) {
        this.#failures += 1;
        next = Math.min(1000 * 2 ** (this.#failures - 1), 30_000);
        this.#log.warn({ err, failures: this.#failures, retryInMs: next }, 'access_token refresh failed; will retry');
      }
      if (this.#state === 'running') this.#schedule(next);
    })();
  }
}
