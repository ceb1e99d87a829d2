/**
 * Generated requests at every HTTP route and generated frames at the WebSocket, while real logins run beside
 * them: no 5xx, no internal close (1011), the roles keep serving, and every real login completes. Seeded and
 * bounded here; `npm run fuzz -- --runs N [--seed S]` runs the same with N inputs of each kind and writes the
 * result to bench/RESULTS.md (FUZZ_RUNS, FUZZ_SEED, FUZZ_REPORT).
 */
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_610);
/** Only limits a hang: hundreds of requests on a busy machine take many times longer than on a quiet one. */
const LONG = { timeout: Math.max(90_000, RUNS * 100) };

let stack: TestStack;
/** The login created before the run: its id (and a wrong token) makes generated requests reach deep code. */
let known: { id: string; watchToken: string };

beforeAll(async () => {
  stack = await startStack({ TRUST_PROXY: 'loopback' });
  known = await createLogin(stack.httpUrl);
});

afterAll(() => stack?.stop());

/** Real logins, one after another, until stopped: each must end redeemed. */
function realLogins(): { stop(): Promise<{ completed: number; failed: string[] }> } {
  let running = true;
  let completed = 0;
  const failed: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const login = await createLogin(stack.httpUrl);
        await new Phone().login(login.scanUrl, stack.httpUrl);
        const view = (await (
          await fetch(`${stack.httpUrl}/api/logins/${login.id}`, {
            headers: { authorization: `Bearer ${login.watchToken}` },
          })
        ).json()) as { status: string; ticket?: string };
        const redeemed = await fetch(`${stack.httpUrl}/api/logins/${login.id}/redeem`, {
          method: 'POST',
          headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ticket: view.ticket }),
        });
        if (redeemed.status !== 200) throw new Error(`redeem: HTTP ${redeemed.status} (${view.status})`);
        completed++;
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { completed, failed };
    },
  };
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '..', '%00', '%ff', '../../etc/passwd', '<script>', '0', '-1', '1e309', 'null', '💥'),
);
const loginIdish = fc.oneof(
  text,
  fc.constant('KNOWN'),
  fc.stringMatching(/^[0-9A-Za-z]{24}$/),
  fc.string({ minLength: 200, maxLength: 3000 }),
);
const ROUTES = [
  '/api/logins',
  '/api/logins/:id',
  '/api/logins/:id/qr.svg',
  '/api/logins/:id/qr.png',
  '/api/logins/:id/redeem',
  '/api/logins/:id/cancel',
  '/api/me',
  '/api/logout',
  '/api/mp/scan',
  '/api/mp/confirm',
  '/api/mp/cancel',
  '/api/embed/handoff',
  '/healthz',
  '/l/:id',
  '/l/:id/confirm',
  '/l/:id/cancel',
  '/l/:id/mp',
  '/l/:id/mp/confirm',
  '/l/:id/mp/cancel',
  '/wechat/oauth/callback',
  '/wechat/events',
  '/.well-known/openid-configuration',
  '/authorize',
  '/oidc/token',
  '/oidc/userinfo',
  '/oidc/jwks',
  '/oidc/logout',
  '/oidc/revoke',
  '/interaction/:id',
  '/interaction/:id/finish',
  '/interaction/:id/abort',
  '/scanlogin.js',
  '/',
  '/:id',
];
const pathArb = fc
  .tuple(fc.constantFrom(...ROUTES), loginIdish)
  .map(([route, id]) => route.replace(':id', encodeURIComponent(id === 'KNOWN' ? known.id : id)));
const queryArb = fc.array(
  fc.tuple(
    fc.oneof(
      fc.constantFrom('wait', 'rev', 't', 'code', 'state', 'signature', 'timestamp', 'nonce', 'echostr', 'client_id'),
      text,
    ),
    fc.oneof(text, fc.constantFrom('1', '30', '31', '-1', 'abc', '9'.repeat(30))),
  ),
  { maxLength: 5 },
);
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const bodyArb = fc.oneof(
  fc.constant(undefined),
  jsonValue.map((v) => JSON.stringify(v)),
  fc
    .record({ mode: fc.oneof(text, fc.constantFrom('oauth', 'mp-qrcode', 'miniprogram')), ticket: text, scene: text })
    .map((v) => JSON.stringify(v)),
  text,
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.integer({ min: 15_000, max: 40_000 }).map((n) => 'x'.repeat(n)),
  fc.constant('<xml><ToUserName>a</ToUserName><Encrypt>zz</Encrypt></xml>'),
);
const headersArb = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/x-www-form-urlencoded',
        'text/xml',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
      ),
      text,
    ),
    authorization: fc.oneof(
      fc.constant(`Bearer ${'z'.repeat(32)}`),
      text.map((t) => `Bearer ${t}`),
      text,
    ),
    cookie: fc.oneof(
      text,
      text.map((t) => `sl_session=${t}; sl_phone=${t}`),
    ),
    'x-forwarded-for': fc.oneof(text, fc.constantFrom('10.0.0.1', '::1, 1.2.3.4', 'unknown', '999.1.1.1')),
    'user-agent': fc.oneof(text, fc.constant('Mozilla/5.0 MicroMessenger/8.0.47')),
    accept: text,
  },
  { requiredKeys: [] },
);
const requestArb = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND'),
  path: pathArb,
  query: queryArb,
  headers: headersArb,
  body: bodyArb,
});
type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

/** Header values fetch refuses to send (control characters, non-Latin-1) are dropped, as no client sends them. */
function sendable(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v)));
}

async function send(req: FuzzRequest): Promise<number> {
  const url = new URL(req.path, stack.httpUrl);
  for (const [k, v] of req.query) url.searchParams.append(k, v);
  const hasBody = req.body !== undefined && !['GET', 'HEAD'].includes(req.method);
  const res = await fetch(url, {
    method: req.method,
    headers: sendable(req.headers),
    redirect: 'manual',
    // A request the server leaves hanging is a failure too (the longest wait a client may ask for is 30 s; the
    // generated ones ask for none, and 15 s is a hang, however busy the machine).
    signal: AbortSignal.timeout(15_000),
    ...(hasBody && { body: req.body }),
  });
  await res.arrayBuffer();
  return res.status;
}

const frameArb = fc.oneof(
  text,
  jsonValue.map((v) => JSON.stringify(v)),
  fc
    .record({
      type: fc.oneof(fc.constantFrom('watch', 'ping', 'unwatch'), text, fc.integer()),
      id: fc.oneof(loginIdish, fc.integer(), fc.constant(null)),
      watchToken: fc.oneof(text, fc.integer()),
    })
    .map((v) => JSON.stringify({ ...v, id: v.id === 'KNOWN' ? known.id : v.id })),
  fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
  fc.integer({ min: 3_000, max: 9_000 }).map((n) => JSON.stringify({ type: 'watch', id: 'x'.repeat(n) })),
);
const framesArb = fc.oneof(
  fc.array(frameArb, { minLength: 1, maxLength: 5 }),
  // A flood: one frame many times, as fast as the socket takes it.
  fc
    .tuple(frameArb, fc.integer({ min: 20, max: 300 }))
    .map(([f, n]) => Array.from({ length: n }, () => f)),
);

/** Close codes a socket may end with here: errors from the registry, a normal end, a too-large frame. */
const ALLOWED_CLOSE = new Set([1000, 1005, 1009, 4400, 4401, 4403, 4404, 4408, 4409, 4410, 4429]);

/** Sends the frames on a fresh socket; resolves with the close code, or 0 when the socket is still open. */
async function sendFrames(frames: (string | Buffer)[]): Promise<number> {
  const ws = new WebSocket(stack.wsUrl);
  ws.on('error', () => {});
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  for (const f of frames) if (ws.readyState === WebSocket.OPEN) ws.send(f);
  const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(0), 30))]);
  if (code === 0) {
    ws.close();
    await closed;
  }
  return code;
}

function report(kind: string, summary: string): void {
  if (!process.env.FUZZ_REPORT) return;
  const line = `| ${new Date().toISOString().slice(0, 10)} | fuzz ${kind} | seed ${SEED}, ${RUNS} inputs | ${summary} |\n`;
  appendFileSync(process.env.FUZZ_REPORT, line);
}

describe('fuzz counterexamples', () => {
  it('the OIDC interaction end points answer without an interaction (they hung: koa was told not to respond)', async () => {
    for (const [method, path] of [
      ['GET', `/interaction/${known.id}/abort`],
      ['HEAD', '/interaction/x/abort'],
      ['POST', `/interaction/${known.id}/finish`],
    ] as const) {
      const res = await fetch(`${stack.httpUrl}${path}`, { method, signal: AbortSignal.timeout(15_000) });
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path}`).toBeLessThan(500);
    }
  });
});

describe('fuzz', () => {
  it(`${RUNS} generated HTTP requests at every route: no 5xx; real logins beside them all complete`, LONG, async () => {
    const logins = realLogins();
    const statuses = new Map<number, number>();
    const started = performance.now();
    try {
      await fc.assert(
        fc.asyncProperty(requestArb, async (req) => {
          const status = await send(req);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          expect(status, `${req.method} ${req.path}`).toBeLessThan(500);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    } finally {
      const { completed, failed } = await logins.stop();
      const summary = `${((performance.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}; real logins ${completed} completed, ${failed.length} failed`;
      report('http', summary);
      expect(failed).toEqual([]);
      expect(completed).toBeGreaterThan(0);
    }
    expect((await fetch(`${stack.httpUrl}/healthz`)).status).toBe(200);
  });

  // With Redis paused under the running stack (SIGSTOP): nothing but 503 may be a 5xx, and once it resumes the
  // stack serves again. A fault phase waits out the link's liveness check, so it runs in `npm run fuzz` only.
  it.runIf(process.env.FUZZ_FAULTS === '1')(
    `${RUNS} generated HTTP requests while Redis is paused: no 5xx but 503; then it serves again`,
    LONG,
    async () => {
      const statuses = new Map<number, number>();
      stack.redis.process.kill('SIGSTOP');
      try {
        await fc.assert(
          fc.asyncProperty(requestArb, async (req) => {
            const status = await send(req);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 500) expect(status, `${req.method} ${req.path}`).toBe(503);
          }),
          { seed: SEED, numRuns: RUNS },
        );
      } finally {
        stack.redis.process.kill('SIGCONT');
        report('http, Redis paused', `statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
      }
      await expect.poll(async () => (await fetch(`${stack.httpUrl}/healthz`)).status, { timeout: 15_000 }).toBe(200);
      const login = await createLogin(stack.httpUrl);
      await new Phone().login(login.scanUrl, stack.httpUrl);
    },
  );

  it(`${RUNS} generated WebSocket frame sequences (garbage, binary, huge, wrong types, floods)`, LONG, async () => {
    const logins = realLogins();
    const codes = new Map<number, number>();
    let frames = 0;
    const started = performance.now();
    try {
      await fc.assert(
        fc.asyncProperty(framesArb, async (seq) => {
          frames += seq.length;
          const code = await sendFrames(seq);
          codes.set(code, (codes.get(code) ?? 0) + 1);
          if (code !== 0) expect(ALLOWED_CLOSE, `close ${code}`).toContain(code);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    } finally {
      const { completed, failed } = await logins.stop();
      const summary = `${frames} frames in ${((performance.now() - started) / 1000).toFixed(1)} s; close codes ${JSON.stringify(Object.fromEntries(codes))}; real logins ${completed} completed, ${failed.length} failed`;
      report('ws', summary);
      expect(failed).toEqual([]);
      expect(completed).toBeGreaterThan(0);
    }
  });
});
