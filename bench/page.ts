/**
 * A login page's watch, reduced to what fault runs measure: one socket at a time, re-watching after every close
 * that is neither terminal nor fatal, with the page's full-jitter backoff (web/src/backoff.ts) and the page's
 * close-code rules (web/src/codes.ts): 1012 (service restart) reconnects at once, within the first jitter step.
 */
import { WebSocket } from 'ws';
import { fullJitter } from '../web/src/backoff.js';
import { FATAL_WS_CLOSE, TERMINAL_STATUSES, WS_CLOSE } from '../web/src/codes.js';

export class Page {
  status = 'pending';
  /** Status messages received (the first one says the watch is on). */
  received = 0;
  /** Set when the watch ended for good without a terminal status (e.g. unknown_login after Redis lost it). */
  fatal: string | undefined;
  /** Close → first status on the next socket, per reconnection (ms). */
  readonly reconnectMs: number[] = [];
  readonly closeCodes: number[] = [];
  #socket: WebSocket | undefined;
  #attempt = 0;
  #lostAt: number | undefined;
  #stopped = false;

  constructor(
    private readonly wsUrl: string,
    readonly id: string,
    private readonly watchToken: string,
  ) {}

  get done(): boolean {
    return this.fatal !== undefined || TERMINAL_STATUSES.has(this.status as 'confirmed');
  }

  start(): void {
    if (this.#stopped || this.done) return;
    const ws = new WebSocket(this.wsUrl);
    this.#socket = ws;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'watch', id: this.id, watchToken: this.watchToken })));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; status?: string; id?: string };
      if (msg.type !== 'status' || msg.id !== this.id) return;
      this.#attempt = 0;
      this.received++;
      if (this.#lostAt !== undefined) this.reconnectMs.push(performance.now() - this.#lostAt);
      this.#lostAt = undefined;
      this.status = msg.status ?? this.status;
    });
    ws.on('error', () => undefined); // the close that follows decides
    ws.on('close', (code) => {
      if (this.#stopped || this.done) return;
      this.closeCodes.push(code);
      const fatal = FATAL_WS_CLOSE.get(code);
      if (fatal) {
        this.fatal = fatal;
        return;
      }
      this.#lostAt ??= performance.now();
      if (code === WS_CLOSE.serviceRestart) this.#attempt = 0;
      setTimeout(() => this.start(), fullJitter(this.#attempt++));
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#socket?.terminate();
  }
}

/** Resolves when `pred` holds, polling every 25 ms; rejects with `what` after `timeoutMs`. */
export async function until(
  pred: () => boolean,
  timeoutMs: number,
  what: string,
  detail: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${detail()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Nearest-rank percentile of `xs` (0 for none). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
