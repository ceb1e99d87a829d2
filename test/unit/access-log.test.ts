import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { accessLog, requestLog } from '../../server/http/access-log.js';
import { createLogger } from '../../server/log.js';

// The access log at each level: at info, one access line per request; above it (warn), no access line and no
// per-request logger built, yet the id is still echoed and a line the request does write still carries it.
describe('access log', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function serve(level: string): Promise<{ url: string; lines: () => Record<string, unknown>[] }> {
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('test', level, sink);
    const app = new Koa();
    app.use(accessLog(logger));
    app.use((ctx) => {
      if (ctx.path === '/warn') requestLog(ctx, logger).warn({ code: 'x' }, 'something to see');
      ctx.body = 'ok';
    });
    server = http.createServer(app.callback());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const lines = () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines };
  }

  for (const level of ['info', 'warn']) {
    it(`at ${level}: the id is echoed and a request's own line carries it as reqId`, async () => {
      const { url, lines } = await serve(level);
      const given = await fetch(`${url}/warn`, { headers: { 'x-request-id': 'trace-0123456789' } });
      expect(given.headers.get('x-request-id')).toBe('trace-0123456789');
      const fresh = await fetch(`${url}/warn`, { headers: { 'x-request-id': 'no' } });
      const id = fresh.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const own = lines().filter((l) => l.msg === 'something to see');
      expect(own.map((l) => l.reqId)).toEqual(['trace-0123456789', id]);
      // The access line is written when the response closes, which may come after the client has the answer.
      const access = () => lines().filter((l) => l.msg === 'GET /warn 200');
      if (level === 'info') await expect.poll(() => access().map((l) => l.reqId)).toEqual(['trace-0123456789', id]);
      else expect(access()).toEqual([]);
    });
  }
});
