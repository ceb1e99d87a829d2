import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../../server/ws/deadlines.js';

// Fake timers move the clock and the queue's one timer together, so "due" and "not yet due" are exact, whatever
// the machine's load (real 10 ms timers compared with a 30 ms wait missed on a busy machine).
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

function queue() {
  const due: string[] = [];
  const q = new Deadlines<string>(
    (item) => due.push(item),
    10,
    () => Date.now(),
  );
  return { q, due };
}

describe('Deadlines (many deadlines on one timer)', () => {
  it('hands an item over once its deadline has passed, never before, earliest slot first', () => {
    const { q, due } = queue();
    q.add(1_000_050, 'late');
    q.add(1_000_005, 'early');
    q.add(1_000_010, 'early-same-slot');
    vi.advanceTimersByTime(4); // 1_000_004: nothing is due
    expect(due).toEqual([]);
    vi.advanceTimersByTime(6); // 1_000_010: the end of the first slot (at most one resolution late)
    expect(due.sort()).toEqual(['early', 'early-same-slot']);
    vi.advanceTimersByTime(39); // 1_000_049
    expect(due).not.toContain('late');
    vi.advanceTimersByTime(1);
    expect(due).toContain('late');
    expect(q.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // nothing left armed
  });

  it('a deleted item is never handed over; deleting twice or with slot 0 is harmless', () => {
    const { q, due } = queue();
    const a = q.add(1_000_020, 'a');
    q.add(1_000_020, 'b');
    q.delete(a, 'a');
    q.delete(a, 'a');
    q.delete(0, 'b');
    vi.advanceTimersByTime(50);
    expect(due).toEqual(['b']);
  });

  it('an item whose handler throws does not stop the others', async () => {
    const seen: number[] = [];
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onError);
    try {
      const q = new Deadlines<number>(
        (n) => {
          if (n === 1) throw new Error('boom');
          seen.push(n);
        },
        10,
        () => Date.now(),
      );
      q.add(1_000_005, 1);
      q.add(1_000_005, 2);
      q.add(1_000_015, 3);
      vi.advanceTimersByTime(20);
      expect(seen.sort()).toEqual([2, 3]);
      // The handler's error is thrown as an uncaught exception (from a microtask), as a timer callback's would be.
      await vi.waitFor(() => expect(String(errors[0])).toContain('boom'));
    } finally {
      process.off('uncaughtException', onError);
    }
  });

  it('clear() drops every item and its timer', () => {
    const { q, due } = queue();
    q.add(1_000_010, 'x');
    q.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(due).toEqual([]);
    expect(q.size).toBe(0);
  });
});
