import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../server/ws/deadlines.js';

/** A clock the test moves; the timers are real but short (the queue arms them from this clock). */
function clocked() {
  let t = 1_000_000;
  const due: string[] = [];
  const q = new Deadlines<string>(
    (item) => due.push(item),
    10,
    () => t,
  );
  return { q, due, advance: (ms: number) => (t += ms) };
}

const settle = () => new Promise((r) => setTimeout(r, 30));

describe('Deadlines (many deadlines on one timer)', () => {
  it('hands an item over once its deadline has passed, never before, earliest slot first', async () => {
    const { q, due, advance } = clocked();
    q.add(1_000_050, 'late');
    q.add(1_000_005, 'early');
    q.add(1_000_010, 'early-same-slot');
    await settle();
    expect(due).toEqual([]); // the clock has not moved: nothing is due
    advance(10);
    await settle();
    expect(due.sort()).toEqual(['early', 'early-same-slot']);
    advance(100);
    await settle();
    expect(due).toContain('late');
    expect(q.size).toBe(0);
  });

  it('a deleted item is never handed over; deleting twice or with slot 0 is harmless', async () => {
    const { q, due, advance } = clocked();
    const a = q.add(1_000_020, 'a');
    q.add(1_000_020, 'b');
    q.delete(a, 'a');
    q.delete(a, 'a');
    q.delete(0, 'b');
    advance(50);
    await settle();
    expect(due).toEqual(['b']);
  });

  it('an item whose handler throws does not stop the others', async () => {
    let t = 0;
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
        () => t,
      );
      q.add(5, 1);
      q.add(5, 2);
      t = 20;
      q.add(15, 3);
      await settle();
      expect(seen.sort()).toEqual([2, 3]);
      expect(String(errors[0])).toContain('boom');
    } finally {
      process.off('uncaughtException', onError);
    }
  });

  it('clear() drops every item and its timer', async () => {
    const { q, due, advance } = clocked();
    q.add(1_000_010, 'x');
    q.clear();
    advance(100);
    await settle();
    expect(due).toEqual([]);
    expect(q.size).toBe(0);
  });
});
