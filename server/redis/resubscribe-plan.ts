import type { ResubscribeReason } from './shard.js';
import { slotOf } from './slot.js';

/** What the sharded subscriber knows when it brings its channels to their owners (sharded-subscriber.ts). */
export interface ResubscribeState {
  /** Every channel asked for (full names). */
  readonly wanted: Iterable<string>;
  /** The node a channel is subscribed on now, if any. */
  where(channel: string): string | undefined;
  /** Channels to subscribe again where they are, with why; a planned one is taken out. */
  readonly dirty: Map<string, ResubscribeReason>;
  /** The master that owns a slot, by the current slot map. */
  owner(slot: number): string | undefined;
  isMaster(node: string): boolean;
}

/**
 * The channels to subscribe again, grouped by slot (one SSUBSCRIBE per slot), each with why: those on a node that no
 * longer owns their slot ('moved' if that node is still a master, else 'failover'), and the dirty ones.
 */
export function planResubscribe(
  state: ResubscribeState,
): Map<number, { channels: string[]; reasons: ResubscribeReason[] }> {
  const todo = new Map<number, { channels: string[]; reasons: ResubscribeReason[] }>();
  for (const c of state.wanted) {
    const at = state.where(c);
    const slot = slotOf(c);
    const owner = state.owner(slot);
    let reason: ResubscribeReason | undefined;
    if (at && owner && at !== owner) reason = state.isMaster(at) ? 'moved' : 'failover';
    else reason = state.dirty.get(c);
    if (!reason) continue;
    state.dirty.delete(c);
    const group = todo.get(slot) ?? { channels: [], reasons: [] };
    group.channels.push(c);
    group.reasons.push(reason);
    todo.set(slot, group);
  }
  return todo;
}
