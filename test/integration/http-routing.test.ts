import { describe, expect, it } from 'vitest';
import { suiteStack } from '../helpers/stack.js';

// The http app's routers answer their routes in any letter case (@koa/router matches case-insensitively), with
// their 405 for a known path asked with another method, and hand every other path on (here: the 404 at the end).
describe('http routing', () => {
  const stack = suiteStack();

  it('runs the API router under its prefix, in any case, with its 405', async () => {
    for (const path of ['/api/config', '/API/Config', '/api/config/']) {
      const res = await fetch(`${stack().httpUrl}${path}`);
      expect([path, res.status]).toEqual([path, 200]);
      expect((await res.json()) as { modes: string[] }).toHaveProperty('modes');
    }
    const post = await fetch(`${stack().httpUrl}/api/config`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('hands other paths on, also an unknown path under the prefix', async () => {
    for (const path of ['/apiconfig', '/api/other']) {
      const res = await fetch(`${stack().httpUrl}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(((await res.json()) as { error: string }).error).toBe('not_found');
    }
  });
});
