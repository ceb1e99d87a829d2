import { performance } from 'node:perf_hooks';
import type { RedisCommands } from './clients.js';

interface Waiting {
  /** What the client is waiting for: the reply to our PING, or the end of its connection handshake. */
  readonly phase: 'ping' | 'handshake';
  since: number;
}

export interface LivenessOptions {
  /** How often ready clients are PINGed. Default 1 s. */
  intervalMs?: number;
  /** How long a PING or a handshake may stay unanswered before the client is given up. Default 3 s. */
  timeoutMs?: number;
  /** Called once per verdict; the caller drops the connection (ioredis then reconnects). */
  onDead(client: RedisCommands, why: string): void;
}

/**
 * Notices a Redis that stopped answering while its socket stays open (SIGSTOP, a hung host, a black-holed
 * network): ioredis sees a closed socket at once, but waits for ever on a silent one, and a reconnect to a
 * stopped server gets through TCP (the kernel accepts) and then hangs in the handshake. Every `intervalMs` each
 * ready client gets a PING; a client whose PING, or whose handshake, has been outstanding for `timeoutMs` is
 * handed to `onDead`. A tick that fires late (this process was not scheduled) judges nothing and restarts the
 * clocks: the replies may be sitting unread in the socket.
 */
export class Liveness {
  readonly #watched = new Map<RedisCommands, Waiting | undefined>();
  readonly #intervalMs: number;
  readonly timeoutMs: number;
  readonly #onDead: LivenessOptions['onDead'];
  #timer: NodeJS.Timeout | undefined;
  #lastTick = 0;

  constructor(opts: LivenessOptions) {
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.#onDead = opts.onDead;
  }

  watch(client: RedisCommands): void {
    this.#watched.set(client, undefined);
  }

  unwatch(client: RedisCommands): void {
    this.#watched.delete(client);
  }

  start(): void {
    if (this.#timer) return;
    this.#lastTick = performance.now();
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watched.clear();
  }

  #tick(): void {
    const now = performance.now();
    const late = now - this.#lastTick - this.#intervalMs;
    this.#lastTick = now;
    if (late > this.#intervalMs / 2) {
      for (const waiting of this.#watched.values()) if (waiting) waiting.since = now;
      return;
    }
    for (const [client, waiting] of this.#watched) {
      const phase = client.status === 'ready' ? 'ping' : client.status === 'connect' ? 'handshake' : undefined;
      if (!phase) {
        this.#watched.set(client, undefined);
      } else if (waiting?.phase !== phase) {
        this.#begin(client, phase, now);
      } else if (now - waiting.since >= this.timeoutMs) {
        this.#watched.set(client, undefined);
        const what = phase === 'ping' ? 'a PING' : 'the connection handshake';
        this.#onDead(client, `RedisCommands did not answer ${what} within ${this.timeoutMs / 1000} s`);
      }
    }
  }

  #begin(client: RedisCommands, phase: Waiting['phase'], now: number): void {
    const waiting: Waiting = { phase, since: now };
    this.#watched.set(client, waiting);
    if (phase !== 'ping') return;
    const answered = () => {
      if (this.#watched.get(client) === waiting) this.#watched.set(client, undefined);
    };
    // A failed PING (connection closed) needs no verdict: ioredis is reconnecting already. A PING that timed out
    // (the clients' commandTimeout, shorter than ours) is no answer at all: the verdict stays pending.
    const failed = (err: Error) => {
      if (err.message !== 'Command timed out') answered();
    };
    client.ping().then(answered, failed);
  }
}
