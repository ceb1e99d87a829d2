import { describe, expect, it } from 'vitest';
import {
  describeTarget,
  sameTarget,
  standaloneTarget,
  targetFromSection,
  targetHash,
} from '../../server/redis/target.js';

describe('Redis targets', () => {
  it('normalizes URLs so the same Redis written differently is the same target', () => {
    expect(sameTarget(standaloneTarget('redis://h:6379', 'p:'), standaloneTarget('redis://h:6379/0', 'p:'))).toBe(true);
    expect(sameTarget(standaloneTarget('redis://h:6379/1', 'p:'), standaloneTarget('redis://h:6379/0', 'p:'))).toBe(
      false,
    );
  });

  it('a password change is a change, but the public hash never depends on the password (no offline guessing)', () => {
    const a = standaloneTarget('redis://:hunter2@h:6379', 'p:');
    const b = standaloneTarget('redis://:other@h:6379', 'p:');
    expect(sameTarget(a, b)).toBe(false);
    expect(targetHash(a)).toBe(targetHash(b));
    expect(describeTarget(a)).toBe('redis://:***@h:6379/0');
    const s1 = targetFromSection(
      { sentinels: [{ host: 's', port: 26379 }], name: 'm', password: 'x', sentinelPassword: 'y' },
      'p:',
    );
    const s2 = targetFromSection({ sentinels: [{ host: 's', port: 26379 }], name: 'm', password: 'z' }, 'p:');
    expect(targetHash(s1)).toBe(targetHash(s2));
    expect(targetHash(s1)).not.toBe(targetHash(a));
    expect(describeTarget(s1)).not.toMatch(/x|y/);
  });

  it('the hash tells different Redis targets and prefixes apart', () => {
    expect(targetHash(standaloneTarget('redis://h:6379', 'p:'))).not.toBe(
      targetHash(standaloneTarget('redis://h:6380', 'p:')),
    );
    expect(targetHash(standaloneTarget('redis://h:6379', 'p:'))).not.toBe(
      targetHash(standaloneTarget('redis://h:6379', 'q:')),
    );
  });
});
