/** server/errors.ts is the one registry of codes; docs/errors.md documents every one of them with its statuses. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../server/errors.js';

describe('docs/errors.md', () => {
  it('names every error code in a table row, with its HTTP status', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    const rows = [...doc.matchAll(/^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \| ([^|]+) \|/gm)];
    for (const [code, e] of Object.entries(ERRORS)) {
      const row = rows.find((r) => r[1]!.includes(`\`${code}\``));
      expect(row, code).toBeDefined();
      expect(row![2], code).toContain(String(e.http));
    }
  });
});
