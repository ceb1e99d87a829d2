import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_SECRET } from '../../server/config.js';
import { SimServer } from '../../server/sim/server.js';

const CALLBACK = 'http://127.0.0.1:3000/wechat/callback';
const RID_RE = /, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;
const ID28_RE = /^o[A-Za-z0-9_-]{27}$/;

let now = Date.UTC(2025, 0, 1);
let sim: SimServer;
let base: string;

beforeAll(async () => {
  sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET, clock: () => now });
  ({ url: base } = await sim.start({ port: 0, host: '127.0.0.1' }));
});

afterAll(async () => {
  await sim.stop();
});

function authorizeQuery(over: Record<string, string | undefined> = {}): string {
  const p: Record<string, string | undefined> = {
    appid: DEV_APPID,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: 'snsapi_userinfo',
    state: 'abc123',
    ...over,
  };
  return new URLSearchParams(Object.entries(p).filter((e): e is [string, string] => e[1] !== undefined)).toString();
}

async function consentPage(over: Record<string, string | undefined> = {}): Promise<string> {
  const res = await fetch(`${base}/connect/oauth2/authorize?${authorizeQuery(over)}`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The sample users' openids in page order, as a browser would see them. */
async function openids(): Promise<string[]> {
  const html = await consentPage();
  return [...html.matchAll(/name="openid" value="([^"]+)"/g)].map((m) => m[1] ?? '');
}

async function approve(fields: Record<string, string>): Promise<Response> {
  return fetch(`${base}/sim/oauth2/approve`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

/** Runs the consent flow and returns the code from the callback Location. */
async function getCode(opts: { openidIndex?: number; scope?: string; state?: string } = {}): Promise<string> {
  const ids = await openids();
  const res = await approve({
    appid: DEV_APPID,
    redirect_uri: CALLBACK,
    scope: opts.scope ?? 'snsapi_userinfo',
    state: opts.state ?? 'xyz',
    openid: ids[opts.openidIndex ?? 0] ?? '',
    action: 'allow',
  });
  expect(res.status).toBe(302);
  const code = new URL(res.headers.get('location') ?? '').searchParams.get('code');
  expect(code).toMatch(/^[A-Za-z0-9]{32}$/);
  return code ?? '';
}

async function exchange(
  code: string | undefined,
  over: Record<string, string> = {},
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const p: Record<string, string> = { appid: DEV_APPID, secret: DEV_SECRET, grant_type: 'authorization_code', ...over };
  if (code !== undefined) p.code = code;
  const res = await fetch(`${base}/sns/oauth2/access_token?${new URLSearchParams(p)}`);
  return { res, body: JSON.parse(await res.text()) as Record<string, unknown> };
}

async function getJson(path: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
  expect(res.status).toBe(200);
  return JSON.parse(await res.text()) as Record<string, unknown>;
}

describe('SimServer construction', () => {
  it('refuses to exist in production', () => {
    expect(() => new SimServer({ appid: DEV_APPID, secret: DEV_SECRET, production: true })).toThrow(/dev\/test tool/);
  });

  it('returns a URL and refuses a second start', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.state).toBe('running');
    await expect(sim.start({ port: 0, host: '127.0.0.1' })).rejects.toThrow(/running/);
  });
});

describe("the account's authorization domain (网页授权域名)", () => {
  let scoped: SimServer;
  let scopedBase: string;
  beforeAll(async () => {
    scoped = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET, oauthDomain: 'login.example.com' });
    ({ url: scopedBase } = await scoped.start({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(() => scoped.stop());

  const errcodeFor = async (redirectUri: string) => {
    const html = await (
      await fetch(`${scopedBase}/connect/oauth2/authorize?${authorizeQuery({ redirect_uri: redirectUri })}`)
    ).text();
    return /data-errcode="(\d*)"/.exec(html)?.[1] ?? (html.includes('id="sim-consent"') ? 'consent' : 'neither');
  };

  it('any path on exactly that host, http or https, is accepted', async () => {
    for (const uri of ['https://login.example.com/wechat/callback', 'http://LOGIN.example.com/cb?x=1'])
      expect(await errcodeFor(uri), uri).toBe('consent');
  });

  it('another host, a subdomain, the parent domain or a port is refused with 10003 "redirect_uri 参数错误"', async () => {
    for (const uri of [
      'https://evil.example/cb',
      'https://a.login.example.com/cb',
      'https://example.com/cb',
      'https://login.example.com:8443/cb',
      'https://login.example.com.evil.example/cb',
    ])
      expect(await errcodeFor(uri), uri).toBe('10003');
    const html = await (await fetch(`${scopedBase}/connect/oauth2/authorize?${authorizeQuery()}`)).text();
    expect(html).toContain('redirect_uri 参数错误');
    // The consent form is checked again: a forged approve never redirects off the domain.
    const res = await fetch(`${scopedBase}/sim/oauth2/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ appid: DEV_APPID, redirect_uri: CALLBACK, scope: 'snsapi_base', action: 'deny' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('GET /connect/oauth2/authorize', () => {
  it('renders the consent page with stable hooks and sample users', async () => {
    const html = await consentPage();
    expect(html).toContain('id="sim-consent"');
    expect(html).toContain('action="/sim/oauth2/approve"');
    expect(html).toMatch(/<button[^>]*id="sim-allow"[^>]*name="action" value="allow"/);
    expect(html).toMatch(/<button[^>]*id="sim-deny"[^>]*name="action" value="deny"/);
    for (const [name, value] of [
      ['appid', DEV_APPID],
      ['redirect_uri', CALLBACK],
      ['scope', 'snsapi_userinfo'],
      ['state', 'abc123'],
    ]) {
      expect(html).toContain(`type="hidden" name="${name}" value="${value}"`);
    }
    expect(html).toContain('张三');
    expect(html).toContain('Alice');
    expect(html).toContain('允许');
    expect(html).toContain('Allow');
    const ids = await openids();
    expect(ids.length).toBeGreaterThanOrEqual(4);
    for (const id of ids) expect(id).toMatch(ID28_RE);
    expect(html).toMatch(/name="openid" value="[^"]+" checked/);
  });

  it('escapes what it echoes', async () => {
    const html = await consentPage({ redirect_uri: 'http://127.0.0.1:3000/cb?a="><script>x</script>' });
    expect(html).not.toContain('<script>');
  });

  it.each([
    [{ appid: 'wx0000000000000000' }, '40013'],
    [{ appid: undefined }, '10012'],
    [{ scope: 'snsapi_login' }, '10005'],
    [{ scope: undefined }, '10010'],
    [{ redirect_uri: 'ftp://example.com/cb' }, '10003'],
    [{ redirect_uri: '/relative/cb' }, '10003'],
    [{ redirect_uri: undefined }, '10011'],
  ])('shows an error page for %j', async (over, errcode) => {
    const html = await consentPage(over);
    expect(html).toContain(`id="sim-error"`);
    expect(html).toContain(`data-errcode="${errcode}"`);
    expect(html).not.toContain('sim-consent');
  });

  it.each([
    [{ state: 'has-dash' }],
    [{ state: 'a'.repeat(129) }],
    [{ response_type: 'token' }],
  ])('rejects %j without an errcode', async (over) => {
    const html = await consentPage(over);
    expect(html).toContain('id="sim-error"');
    expect(html).not.toContain('sim-consent');
  });

  it('accepts an empty and a 128-char state', async () => {
    expect(await consentPage({ state: '' })).toContain('sim-consent');
    expect(await consentPage({ state: 'a'.repeat(128) })).toContain('sim-consent');
  });
});

describe('POST /sim/oauth2/approve', () => {
  it('allow redirects to redirect_uri?code=CODE&state=STATE', async () => {
    const [openid] = await openids();
    const res = await approve({
      appid: DEV_APPID,
      redirect_uri: CALLBACK,
      scope: 'snsapi_userinfo',
      state: 'S1',
      openid: openid ?? '',
      action: 'allow',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(
      new RegExp(`^${CALLBACK.replace(/\./g, '\\.')}\\?code=[A-Za-z0-9]{32}&state=S1$`),
    );
  });

  it('appends with & when redirect_uri already has a query', async () => {
    const [openid] = await openids();
    const res = await approve({
      appid: DEV_APPID,
      redirect_uri: `${CALLBACK}?login=L1`,
      scope: 'snsapi_base',
      state: 'S2',
      openid: openid ?? '',
      action: 'allow',
    });
    expect(res.headers.get('location')).toMatch(
      /^http:\/\/127\.0\.0\.1:3000\/wechat\/callback\?login=L1&code=[A-Za-z0-9]{32}&state=S2$/,
    );
  });

  it('deny redirects with the state and no code', async () => {
    const res = await approve({
      appid: DEV_APPID,
      redirect_uri: CALLBACK,
      scope: 'snsapi_userinfo',
      state: 'S3',
      action: 'deny',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${CALLBACK}?state=S3`);
  });

  it('keeps an empty state in the callback', async () => {
    const res = await approve({
      appid: DEV_APPID,
      redirect_uri: CALLBACK,
      scope: 'snsapi_userinfo',
      state: '',
      action: 'deny',
    });
    expect(res.headers.get('location')).toBe(`${CALLBACK}?state=`);
  });

  it('re-validates the posted form', async () => {
    const [openid] = await openids();
    const ok = {
      appid: DEV_APPID,
      redirect_uri: CALLBACK,
      scope: 'snsapi_userinfo',
      state: 'S4',
      openid: openid ?? '',
      action: 'allow',
    };
    for (const bad of [
      { appid: 'wxother' },
      { state: 'bad!' },
      { openid: 'ounknown' },
      { action: 'maybe' },
      { redirect_uri: 'javascript:alert(1)' },
    ]) {
      const res = await approve({ ...ok, ...bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('answers malformed bodies with 4xx and keeps serving', async () => {
    const wrongType = await fetch(`${base}/sim/oauth2/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(wrongType.status).toBe(400);
    const huge = await fetch(`${base}/sim/oauth2/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `state=${'a'.repeat(64 * 1024)}`,
    });
    expect(huge.status).toBe(413);
    const garbage = await approve({ '%%%': '\u0000\uffff', action: 'allow' });
    expect(garbage.status).toBe(400);
    expect((await fetch(`${base}/sim/stats`)).status).toBe(200);
  });
});

describe('malformed requests', () => {
  it('never crash the simulator', async () => {
    expect((await fetch(`${base}/sim/avatar/%E0%A4%A.svg`)).status).toBe(404);
    expect((await fetch(`${base}/sim/avatar/nobody.svg`)).status).toBe(404);
    expect((await getJson('/sns/userinfo', {})).errcode).toBe(41001);
    const bad = await fetch(`${base}/sns/oauth2/access_token?appid=%ZZ&secret=%&code=%E0%A4%A`);
    expect(JSON.parse(await bad.text())).toMatchObject({ errcode: 40013 });
    expect((await fetch(`${base}/connect/oauth2/authorize`, { method: 'POST' })).status).toBe(405);
    const raw = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(new URL(base).port), '127.0.0.1', () => socket.write('GARBAGE \x00\r\n\r\n'));
      let out = '';
      socket.on('data', (d) => (out += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(out));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`${base}/sim/stats`)).status).toBe(200);
  });
});

describe('GET /sns/oauth2/access_token', () => {
  it('exchanges a code once; text/plain JSON with the token fields', async () => {
    const ids = await openids();
    const code = await getCode({ openidIndex: 0 });
    const { res, body } = await exchange(code);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(body).toMatchObject({ expires_in: 7200, openid: ids[0], scope: 'snsapi_userinfo' });
    expect(body.access_token).toEqual(expect.any(String));
    expect(body.refresh_token).toEqual(expect.any(String));
    expect(body.unionid).toMatch(ID28_RE);
    expect(body).not.toHaveProperty('is_snapshotuser');
    expect(body).not.toHaveProperty('errcode');
  });

  it('reuse → 40163 code been used, with a rid suffix', async () => {
    const code = await getCode();
    expect((await exchange(code)).body).toHaveProperty('access_token');
    const { res, body } = await exchange(code);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(body.errcode).toBe(40163);
    expect(body.errmsg).toMatch(/^code been used, rid: /);
    expect(body.errmsg).toMatch(RID_RE);
  });

  it.each([
    ['unknown code → 40029', { code: 'A'.repeat(32) }, 40029],
    ['wrong secret → 40125', { secret: 'f'.repeat(32) }, 40125],
    ['unknown appid → 40013', { appid: 'wx0000000000000000' }, 40013],
    ['bad grant_type → 40002', { grant_type: 'client_credential' }, 40002],
  ])('%s', async (_name, over, errcode) => {
    const code = await getCode();
    const { res, body } = await exchange('code' in over ? over.code : code, over);
    expect(res.status).toBe(200);
    expect(body.errcode).toBe(errcode);
    expect(body.errmsg).toMatch(RID_RE);
  });

  it('missing code → 41008', async () => {
    expect((await exchange(undefined)).body.errcode).toBe(41008);
  });

  it('an error does not spend the code', async () => {
    const code = await getCode();
    expect((await exchange(code, { secret: 'f'.repeat(32) })).body.errcode).toBe(40125);
    expect((await exchange(code)).body).toHaveProperty('access_token');
  });

  it('expired code (clock past 5 minutes) → 40029', async () => {
    const code = await getCode();
    now += 5 * 60_000;
    expect((await exchange(code)).body.errcode).toBe(40029);
    const fresh = await getCode();
    now += 5 * 60_000 - 1;
    expect((await exchange(fresh)).body).toHaveProperty('access_token');
  });

  it('snsapi_base: no unionid', async () => {
    const { body } = await exchange(await getCode({ scope: 'snsapi_base' }));
    expect(body.scope).toBe('snsapi_base');
    expect(body).not.toHaveProperty('unionid');
  });

  it('the snapshot user: is_snapshotuser 1, scope snsapi_base, no unionid', async () => {
    const ids = await openids();
    const { body } = await exchange(await getCode({ openidIndex: ids.length - 1 }));
    expect(body).toMatchObject({ is_snapshotuser: 1, scope: 'snsapi_base', openid: ids[ids.length - 1] });
    expect(body).not.toHaveProperty('unionid');
  });
});

describe('GET /sns/userinfo and /sns/auth', () => {
  async function token(
    openidIndex: number,
    scope = 'snsapi_userinfo',
  ): Promise<{ accessToken: string; openid: string }> {
    const { body } = await exchange(await getCode({ openidIndex, scope }));
    return { accessToken: String(body.access_token), openid: String(body.openid) };
  }

  it('returns the profile for a snsapi_userinfo token', async () => {
    const t = await token(0);
    const res = await fetch(
      `${base}/sns/userinfo?${new URLSearchParams({ access_token: t.accessToken, openid: t.openid, lang: 'zh_CN' })}`,
    );
    expect(res.headers.get('content-type')).toBe('text/plain');
    const body = JSON.parse(await res.text()) as Record<string, unknown>;
    // Like today's WeChat: no gender, no region (docs/wechat.md §3).
    expect(body).toMatchObject({
      openid: t.openid,
      nickname: '张三',
      sex: 0,
      province: '',
      city: '',
      country: '',
      privilege: [],
    });
    expect(body.unionid).toMatch(ID28_RE);
    expect(body.headimgurl).toBe(`${base}/sim/avatar/${t.openid}.svg`);
    const avatar = await fetch(String(body.headimgurl));
    expect(avatar.status).toBe(200);
    expect(avatar.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await avatar.text()).toContain('<svg');
  });

  it('lang=en, and a user without unionid', async () => {
    const alice = await token(1);
    expect(
      await getJson('/sns/userinfo', { access_token: alice.accessToken, openid: alice.openid, lang: 'en' }),
    ).toMatchObject({
      nickname: 'Alice',
      sex: 0,
      country: '',
    });
    const lisi = await token(2);
    expect(await getJson('/sns/userinfo', { access_token: lisi.accessToken, openid: lisi.openid })).not.toHaveProperty(
      'unionid',
    );
  });

  it('48001 for a snsapi_base token and for the snapshot user', async () => {
    const base0 = await token(0, 'snsapi_base');
    expect((await getJson('/sns/userinfo', { access_token: base0.accessToken, openid: base0.openid })).errcode).toBe(
      48001,
    );
    const ids = await openids();
    const snap = await token(ids.length - 1);
    const body = await getJson('/sns/userinfo', { access_token: snap.accessToken, openid: snap.openid });
    expect(body.errcode).toBe(48001);
    expect(body.errmsg).toMatch(/^api unauthorized, rid: /);
  });

  it('bad token → 40001, expired → 42001, openid mismatch → 40003', async () => {
    const t = await token(0);
    expect((await getJson('/sns/userinfo', { access_token: 'nope', openid: t.openid })).errcode).toBe(40001);
    expect((await getJson('/sns/userinfo', { access_token: t.accessToken, openid: 'o'.repeat(28) })).errcode).toBe(
      40003,
    );
    now += 7200_000;
    expect((await getJson('/sns/userinfo', { access_token: t.accessToken, openid: t.openid })).errcode).toBe(42001);
  });

  it('sns/auth: ok, 40014, 40003', async () => {
    const t = await token(1);
    expect(await getJson('/sns/auth', { access_token: t.accessToken, openid: t.openid })).toEqual({
      errcode: 0,
      errmsg: 'ok',
    });
    expect((await getJson('/sns/auth', { access_token: 'nope', openid: t.openid })).errcode).toBe(40014);
    expect((await getJson('/sns/auth', { access_token: t.accessToken, openid: 'o'.repeat(28) })).errcode).toBe(40003);
  });
});

describe('GET /sim/stats', () => {
  it('counts WeChat paths only', async () => {
    const before = ((await (await fetch(`${base}/sim/stats`)).json()) as { calls: Record<string, number> }).calls;
    await getCode(); // 1 authorize + 1 approve (not counted)
    await getJson('/sns/auth', { access_token: 'x', openid: 'y' });
    await getJson('/sns/auth', { access_token: 'x', openid: 'y' });
    await fetch(`${base}/sns/nope`);
    const after = ((await (await fetch(`${base}/sim/stats`)).json()) as { calls: Record<string, number> }).calls;
    expect((after['/connect/oauth2/authorize'] ?? 0) - (before['/connect/oauth2/authorize'] ?? 0)).toBe(1);
    expect((after['/sns/auth'] ?? 0) - (before['/sns/auth'] ?? 0)).toBe(2);
    expect(after['/sns/oauth2/access_token']).toBeGreaterThan(0);
    expect(Object.keys(after).filter((k) => !k.startsWith('/connect/') && !k.startsWith('/sns/'))).toEqual([]);
    expect(after).not.toHaveProperty('/sns/nope');
  });
});

describe('lifecycle', () => {
  it('stop() is idempotent, safe before start, drains, and forces a stuck request closed after its grace period', async () => {
    const idle = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
    await idle.stop();
    expect(idle.state).toBe('closed');
    await expect(idle.start({ port: 0, host: '127.0.0.1' })).rejects.toThrow();

    const s = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
    const { port, url } = await s.start({ port: 0, host: '127.0.0.1' });
    expect((await fetch(`${url}/sim/stats`)).status).toBe(200);
    // Two requests whose bodies are not finished: in flight once the simulator counts them (stable_token reads
    // its body after counting the call).
    const body = '{"grant_type":"client_credential"}';
    const partial = () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(
        `POST /cgi-bin/stable_token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`,
      );
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      return { socket, closed, answer: () => answer };
    };
    const [stuck, slow] = [partial(), partial()];
    const calls = async () =>
      ((await (await fetch(`${url}/sim/stats`)).json()) as { calls: Record<string, number> }).calls;
    await expect.poll(async () => (await calls())['/cgi-bin/stable_token']).toBe(2);
    const first = s.stop();
    expect(s.stop()).toBe(first);
    expect(s.state).toBe('closing');
    // Draining: a request in flight may still finish, and is answered.
    slow.socket.write(body.slice(1));
    await slow.closed;
    expect(slow.answer()).toMatch(/^HTTP\/1\.1 200 /);
    // One that never finishes is cut after the grace period: stop() resolves, and only then.
    await first;
    await stuck.closed;
    expect(stuck.answer()).toBe('');
    expect(s.state).toBe('closed');
    await expect(fetch(`${url}/sim/stats`)).rejects.toThrow();
  });

  it('callback() serves on a server the caller owns', async () => {
    const { createServer } = await import('node:http');
    const own = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
    const server = createServer(own.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as net.AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/sns/auth`);
    expect(JSON.parse(await res.text())).toMatchObject({ errcode: 40014 });
    await new Promise<void>((r) => server.close(() => r()));
  });
});

describe('public URL for links handed to browsers', () => {
  it('headimgurl uses the configured public URL, not the host a server called it by (docker: sim:3002)', async () => {
    const pub = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET, publicUrl: 'http://localhost:3002' });
    const { url } = await pub.start({ port: 0, host: '127.0.0.1' });
    try {
      const page = await (await fetch(`${url}/connect/oauth2/authorize?${authorizeQuery()}`)).text();
      const openid = /name="openid" value="([^"]+)"/.exec(page)![1]!;
      const approved = await fetch(`${url}/sim/oauth2/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          appid: DEV_APPID,
          redirect_uri: CALLBACK,
          scope: 'snsapi_userinfo',
          state: 'x',
          openid,
          action: 'allow',
        }).toString(),
        redirect: 'manual',
      });
      const code = new URL(approved.headers.get('location')!).searchParams.get('code')!;
      const q = new URLSearchParams({ appid: DEV_APPID, secret: DEV_SECRET, code, grant_type: 'authorization_code' });
      const tok = JSON.parse(await (await fetch(`${url}/sns/oauth2/access_token?${q}`)).text()) as {
        access_token: string;
      };
      const info = JSON.parse(
        await (
          await fetch(`${url}/sns/userinfo?${new URLSearchParams({ access_token: tok.access_token, openid })}`)
        ).text(),
      ) as {
        headimgurl: string;
      };
      expect(info.headimgurl).toBe(`http://localhost:3002/sim/avatar/${openid}.svg`);
    } finally {
      await pub.stop();
    }
  });
});
