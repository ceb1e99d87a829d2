import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routesUnder } from '../server/http/route-gate.js';

// A router skipped for paths outside its prefix must answer exactly as when it ran on every request: its routes
// in any letter case (@koa/router matches case-insensitively), its 405 for a known path with another method,
// and everything else handed on to what follows.
describe('routesUnder', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const router = new Router({ prefix: '/api' });
    router.get('/config', (ctx) => {
      ctx.body = 'config';
    });
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (err) {
        ctx.status = (err as { status?: number }).status ?? 500;
        ctx.body = 'refused';
      }
    });
    app.use(routesUnder(['/api/'], router));
    // What follows answers every other path (as the static files do with their 404 in the app).
    app.use((ctx) => {
      if (!/^\/api\/config/i.test(ctx.path)) ctx.body = `after ${ctx.path}`;
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('runs the router under its prefix, in any case, with its 405', async () => {
    for (const path of ['/api/config', '/API/Config', '/api/config/']) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status, await res.text()]).toEqual([path, 200, 'config']);
    }
    const post = await fetch(`${base}/api/config`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('hands other paths on, also an unknown path under the prefix', async () => {
    for (const path of ['/l/abc', '/apiconfig', '/api/other']) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status, await res.text()]).toEqual([path, 200, `after ${path}`]);
    }
  });
});
