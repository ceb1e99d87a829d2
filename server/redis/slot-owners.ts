import type { Cluster } from 'ioredis';

type NatMap = Readonly<Record<string, { host: string; port: number }>>;

/** How long the owner a MOVED named is believed over the slot map (which a stale node may have served). */
const MOVED_TRUST_MS = 5000;

/**
 * Who owns a slot, for the sharded subscriber: the ioredis Cluster's slot map (re-read on every MOVED of a command,
 * every 5 s, and on request), overridden for a few seconds by what a MOVED reply to one of our own SSUBSCRIBEs
 * said — a map refreshed from a node that has not heard of a move yet (gossip takes a moment) would send us back
 * to the old owner. Addresses are as this process dials them (the target's natMap applied: ioredis keeps the
 * announced address after a MOVED).
 */
export class SlotOwners {
  readonly #cluster: Cluster;
  readonly #natMap: NatMap | undefined;
  readonly #movedTo = new Map<number, { node: string; at: number }>();

  constructor(cluster: Cluster, natMap: NatMap | undefined) {
    this.#cluster = cluster;
    this.#natMap = natMap;
    cluster.on('refresh', () => {
      for (const [slot, m] of this.#movedTo) if (this.#fromMap(slot) === m.node) this.#movedTo.delete(slot);
    });
  }

  /** The master owning `slot` ("host:port"): a recent MOVED's, else the slot map's; undefined if none. */
  owner(slot: number): string | undefined {
    const moved = this.#movedTo.get(slot);
    if (moved && Date.now() - moved.at < MOVED_TRUST_MS) return moved.node;
    return this.#fromMap(slot);
  }

  /** Whether `node` serves any slot in the slot map (a demoted or dead master does not). */
  isMaster(node: string): boolean {
    return this.#cluster.slots.some((owners) => this.#mapped(owners?.[0]) === node);
  }

  /** Notes the owner an error names (`MOVED <slot> <host:port>`); false when it is no MOVED. */
  noteMoved(err: unknown): boolean {
    const moved = /^MOVED (\d+) (\S+)/.exec(err instanceof Error ? err.message : '');
    if (!moved) return false;
    this.#movedTo.set(Number(moved[1]), { node: this.#mapped(moved[2])!, at: Date.now() });
    return true;
  }

  /** Re-reads the slot map; resolves when done (or failed: the old map stays). */
  refresh(): Promise<void> {
    return new Promise((resolve) => this.#cluster.refreshSlotsCache(() => resolve()));
  }

  #fromMap(slot: number): string | undefined {
    return this.#mapped((this.#cluster.slots[slot] as string[] | undefined)?.[0]);
  }

  #mapped(node: string | undefined): string | undefined {
    const to = node ? this.#natMap?.[node] : undefined;
    return to ? `${to.host}:${to.port}` : node;
  }
}
