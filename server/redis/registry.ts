import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { RedisLink } from './link.js';
import { describeTarget, targetHash } from './target.js';
import { keys } from './keys.js';

/** What each process says about itself in Redis (`<prefix>nodes:<role>:<host>:<pid>`, versioned JSON). */
export interface NodeEntry {
  v: 1;
  role: string;
  pid: number;
  host: string;
  target: string;
  configHash: string;
  runId?: string;
  generation: number;
  since?: number;
  heartbeatAt: number;
  health?: string;
}

/** How often a node re-registers, and how long an entry outlives a dead process. */
export const HEARTBEAT_MS = 3000;
export const ENTRY_TTL_MS = 10_000;

/**
 * Registers this process in the Redis it uses, with a heartbeat TTL, so `scanlogin doctor` can list every
 * node and compare what each believes. Re-registers at once after a swap (the new Redis learns about us).
 */
export class NodeRegistry {
  #timer: NodeJS.Timeout | undefined;
  #offResync: (() => void) | undefined;
  readonly #key: string;

  constructor(private readonly opts: { link: RedisLink; role: string; logger: Logger; healthUrl?: string }) {
    this.#key = `${opts.role}:${hostname()}:${process.pid}`;
  }

  key(): string {
    return keys.node(this.opts.link.keyPrefix, this.#key);
  }

  start(): void {
    void this.beat();
    this.#timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.#timer.unref();
    // A whole resync (a swap, a reconnect), not channels re-subscribed on a cluster: the Redis may be new to us.
    this.#offResync = this.opts.link.onResync((_, channels) => void (channels ? undefined : this.beat()));
  }

  async beat(): Promise<void> {
    const { link, role } = this.opts;
    try {
      const entry: NodeEntry = {
        v: 1,
        role,
        pid: process.pid,
        host: hostname(),
        target: describeTarget(link.target),
        configHash: targetHash(link.target),
        runId: await link.serverRunId(),
        generation: link.generation,
        ...(link.since !== undefined && { since: link.since }),
        heartbeatAt: Date.now(),
        ...(this.opts.healthUrl && { health: this.opts.healthUrl }),
      };
      await link.command.set(this.key(), JSON.stringify(entry), 'PX', ENTRY_TTL_MS);
    } catch (err) {
      this.opts.logger.debug({ err: (err as Error).message }, 'node heartbeat failed');
    }
  }

  /** Stops the heartbeat and removes the entry (best effort). Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (!this.#offResync) return; // never started, or already stopped
    this.#offResync();
    this.#offResync = undefined;
    try {
      await this.opts.link.command.del(this.key());
    } catch {
      // Redis unreachable or the link already closed: the entry expires by itself (ENTRY_TTL_MS).
    }
  }
}
