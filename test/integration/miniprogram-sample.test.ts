/**
 * The sample mini program (examples/miniprogram, docs/miniprogram.md) cannot rot: its files are what a mini
 * program needs, its page is the one our codes open, every API call it makes is one of the server's routes, and
 * the calls — paths and body fields read from its source — are replayed against a real stack (simulator's
 * wx.login() codes, real Redis) and do a whole login; a field the server does not read by that name fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../server/errors.js';
import { loadConfig } from '../../server/config.js';
import type { HttpDeps } from '../../server/http/deps.js';
import { miniProgramRouter } from '../../server/modes/miniprogram/routes.js';
import { MINI_PROGRAM_PAGES } from '../../server/sim/server.js';
import { ROOT } from '../helpers/browser.js';
import { createLogin, suiteStack } from '../helpers/stack.js';

const SAMPLE = path.join(ROOT, 'examples/miniprogram');
const read = (file: string) => readFileSync(path.join(SAMPLE, file), 'utf8');
const PAGE = loadConfig({ DEV_MODE: '1' }).miniProgram!.page; // WECHAT_MP_PAGE's default
const pageJs = read(`${PAGE}.js`);

/** Every `post('/api/…', { field: …, … })` of the page: its path and the fields it sends. */
function apiCalls(): { path: string; fields: string[] }[] {
  return [...pageJs.matchAll(/post\('(\/api\/[\w/-]+)',\s*\{([^}]*)\}\)/g)].map((m) => ({
    path: m[1]!,
    fields: m[2]!
      .split(',')
      .map((f) => f.split(':')[0]!.trim())
      .filter(Boolean)
      .sort(),
  }));
}

describe('examples/miniprogram: static', () => {
  it("has a mini program's files, and its one page is the page our codes open by default", () => {
    for (const file of [
      'app.json',
      'app.js',
      'project.config.json',
      ...['js', 'json', 'wxml', 'wxss'].map((x) => `${PAGE}.${x}`),
    ])
      expect(existsSync(path.join(SAMPLE, file)), file).toBe(true);
    const app = JSON.parse(read('app.json')) as { pages: string[] };
    expect(app.pages).toContain(PAGE);
    expect(MINI_PROGRAM_PAGES).toContain(PAGE); // the simulated release has it too
    expect(JSON.parse(read('project.config.json'))).toMatchObject({ compileType: 'miniprogram' });
    // The code's scene reaches the page URL-encoded (docs/wechat.md §7).
    expect(pageJs).toMatch(/decodeURIComponent\(options\.scene/);
    expect(pageJs).toMatch(/wx\.login\(/);
  });

  it('calls only routes the server has (POST), and every handler its markup names exists', () => {
    const router = miniProgramRouter({} as HttpDeps);
    const routes = new Set(router.stack.filter((l) => l.methods.includes('POST')).map((l) => l.path));
    const calls = apiCalls();
    expect(calls.map((c) => c.path).sort()).toEqual(['/api/mp/cancel', '/api/mp/confirm', '/api/mp/scan']);
    for (const c of calls) expect(routes.has(c.path), c.path).toBe(true);
    for (const [, handler] of read(`${PAGE}.wxml`).matchAll(/bind\w+="(\w+)"/g))
      expect(pageJs, handler).toMatch(new RegExp(`\\b${handler}\\(`));
    // The error codes it explains are scanlogin's own (server/errors.ts).
    const messages = /const MESSAGES = \{([^}]*)\}/.exec(pageJs)![1]!;
    for (const [, code] of messages.matchAll(/^\s*(\w+):/gm)) expect(Object.keys(ERRORS), code).toContain(code);
  });
});

describe('examples/miniprogram: its calls, replayed against the server', () => {
  const stack = suiteStack();

  async function call(
    p: string,
    body: Record<string, unknown>,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${stack().httpUrl}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('scan → confirm with exactly the fields the page sends; each field is one the server requires', async () => {
    const s = stack();
    const login = await createLogin(s.httpUrl, { mode: 'miniprogram' });
    const wxLogin = async () =>
      (
        (await (await fetch(`${s.simUrl}/sim/miniprogram/login`, { method: 'POST', body: '{}' })).json()) as {
          code: string;
        }
      ).code;
    const byPath = new Map(apiCalls().map((c) => [c.path, c.fields]));
    // The values the test knows how to give; a field the page sends that is not here fails the test.
    const placeholders: Record<string, unknown> = { scene: login.id, code: 'placeholder', mpToken: 'placeholder' };
    for (const [p, fields] of byPath)
      for (const f of fields)
        expect(Object.keys(placeholders), `${p} sends ${f}: give the test its value`).toContain(f);
    const values: Record<string, unknown> = { scene: login.id, code: await wxLogin() };
    const bodyFor = (p: string, from = values) => Object.fromEntries(byPath.get(p)!.map((f) => [f, from[f]]));

    // Without any one of its fields each call is refused (400) before anything changes: the server reads every
    // field by that name.
    for (const [p, fields] of byPath) {
      for (const missing of fields) {
        const res = await call(p, { ...bodyFor(p, placeholders), [missing]: undefined });
        expect([res.status, res.body.error], `${p} without ${missing}`).toEqual([400, 'bad_request']);
      }
    }

    const scan = await call('/api/mp/scan', bodyFor('/api/mp/scan'));
    expect(scan.status).toBe(200);
    // What the page reads from the answer is there.
    for (const [, key] of pageJs.matchAll(/answer\.(\w+)/g)) expect(scan.body, key).toHaveProperty(key!);
    expect(scan.body.requester).toMatchObject({ browser: expect.any(String), requestedAt: expect.any(Number) });
    values.mpToken = scan.body.mpToken;
    const confirm = await call('/api/mp/confirm', bodyFor('/api/mp/confirm'));
    expect(confirm).toEqual({ status: 200, body: { status: 'confirmed' } });

    // Cancel, on a second login.
    const other = await createLogin(s.httpUrl, { mode: 'miniprogram' });
    Object.assign(values, { scene: other.id, code: await wxLogin() });
    values.mpToken = (await call('/api/mp/scan', bodyFor('/api/mp/scan'))).body.mpToken;
    expect(await call('/api/mp/cancel', bodyFor('/api/mp/cancel'))).toEqual({
      status: 200,
      body: { status: 'cancelled' },
    });
  });
});
