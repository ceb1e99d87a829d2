/** What a deadline hands back: the slot to pass to `delete`. 0 is never a slot. */
export type Slot = number;

/**
 * Many deadlines on one timer. Items due in the same `resolutionMs` slot share a bucket, and only the earliest
 * bucket has a timer: an item is handed to `onDue` at or after its deadline, at most `resolutionMs` later.
 * Why: the push role holds tens of thousands of idle sockets, each with deadlines (its watch timeout, its
 * login's expiry). A Node timer each costs a Timeout object, the closure it runs and what that closure keeps,
 * and a timer list per distinct delay; here an item costs one Set entry (bench/RESULTS.md, memory per watcher).
 */
export class Deadlines<T> {
  readonly #buckets = new Map<Slot, Set<T>>();
  /** Slots with a bucket, ascending. */
  readonly #slots: Slot[] = [];
  #timer: NodeJS.Timeout | undefined;
  #armedFor: Slot = 0;

  constructor(
    private readonly onDue: (item: T) => void,
    private readonly resolutionMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of items waiting. */
  get size(): number {
    let n = 0;
    for (const b of this.#buckets.values()) n += b.size;
    return n;
  }

  /** Hands `item` to `onDue` once `at` (ms, the `now` clock) has passed. Returns its slot, for `delete`. */
  add(at: number, item: T): Slot {
    const slot = Math.max(1, Math.ceil(at / this.resolutionMs));
    let bucket = this.#buckets.get(slot);
    if (!bucket) {
      this.#buckets.set(slot, (bucket = new Set()));
      this.#slots.splice(this.#indexOf(slot), 0, slot);
    }
    bucket.add(item);
    if (this.#armedFor === 0 || slot < this.#armedFor) this.#arm();
    return slot;
  }

  /** Forgets `item` (idempotent; a slot of 0 is ignored). */
  delete(slot: Slot, item: T): void {
    const bucket = this.#buckets.get(slot);
    if (!bucket?.delete(item) || bucket.size > 0) return;
    this.#buckets.delete(slot);
    this.#slots.splice(this.#indexOf(slot), 1);
    // The timer may stay armed for the emptied slot: it then finds nothing due and re-arms for the next one.
    if (this.#slots.length === 0) this.#disarm();
  }

  /** Drops every item and the timer. */
  clear(): void {
    this.#buckets.clear();
    this.#slots.length = 0;
    this.#disarm();
  }

  /** Where `slot` is or would go in the ascending list (binary search). */
  #indexOf(slot: Slot): number {
    let lo = 0;
    let hi = this.#slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#slots[mid]! < slot) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = 0;
  }

  #arm(): void {
    this.#disarm();
    const first = this.#slots[0];
    if (first === undefined) return;
    this.#armedFor = first;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, first * this.resolutionMs - this.now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#armedFor = 0;
    this.#timer = undefined;
    const now = this.now();
    while (this.#slots.length > 0 && this.#slots[0]! * this.resolutionMs <= now) {
      const slot = this.#slots.shift()!;
      const bucket = this.#buckets.get(slot)!;
      this.#buckets.delete(slot);
      for (const item of bucket) {
        try {
          this.onDue(item);
        } catch (err) {
          // As a throwing timer callback would: uncaught, but the other items still get their turn.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
    this.#arm();
  }
}
