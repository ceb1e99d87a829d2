import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_DEFAULTS } from '../../server/config.js';
import { createLogger } from '../../server/log.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { rawClient } from '../helpers/redis.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';

// A whole login with the stack's log captured at debug level, under a fault that makes Redis refuse the redeem
// (OOM: ioredis then keeps the EVALSHA's arguments — a live ticket and a new session id — on the error). Every
// secret the flow handled is then searched for in the whole log.
describe('no secret reaches the logs, even under faults', () => {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ LOG_LEVEL: 'debug' }, { logger: createLogger('test', 'debug', sink) });
  });
  afterAll(() => stack?.stop());

  it('a login, a redeem refused by a Redis OOM, then the redeem: the log holds none of their secrets', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    await phone.login(login.scanUrl, stack.httpUrl);
    const view = await fetch(`${stack.httpUrl}/api/logins/${login.id}`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    const { ticket } = (await view.json()) as { ticket: string };
    expect(ticket).toMatch(/^[0-9A-Za-z]{32}$/);

    const redeem = () =>
      fetch(`${stack.httpUrl}/api/logins/${login.id}/redeem`, {
        method: 'POST',
        headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ticket }),
      });
    const raw = rawClient(stack.redis.url);
    try {
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await raw.config('SET', 'maxmemory', '1');
      const refused = await redeem();
      expect(refused.status).toBeGreaterThanOrEqual(500);
    } finally {
      await raw.config('SET', 'maxmemory', '0');
    }
    const ok = await redeem();
    expect(ok.status).toBe(200);
    // The session id is `<login id>.<secret>`: the login id is in every request path; the secret must be nowhere.
    const sessionId = /sl_session=\w{24}\.(\w+)/.exec(ok.headers.getSetCookie().join())?.[1];
    expect(sessionId).toMatch(/^\w{32}$/);
    // The Official Account's shared access_token, fetched in the background by the http role.
    const stored = await raw.get(`scanlogin:wechat:token:{${DEV_DEFAULTS.WECHAT_APPID}}`);
    raw.disconnect();
    const accessToken = stored ? (JSON.parse(stored) as { token: string }).token : undefined;

    const log = chunks.join('');
    expect(log).toMatch(/OOM command not allowed/); // the fault was logged…
    // …and so was every request (the access log is part of what is searched): the OAuth callback, whose query
    // holds the code and state, and both redeems, with their request ids.
    expect(log).toMatch(/"msg":"GET \/wechat\/oauth\/callback 200"/);
    expect(
      log.match(
        /"msg":"POST \/api\/logins\/\w+\/redeem \d+","reqId"|"reqId":"[\w-]+".*"msg":"POST \/api\/logins\/\w+\/redeem \d+"/g,
      ),
    ).toHaveLength(2);
    expect(log).toMatch(/"audit":"login".*"outcome":"confirmed"/);
    const secrets = {
      ticket,
      watchToken: login.watchToken,
      phoneCookie: phone.cookies.get('sl_phone'),
      sessionId,
      accessToken,
      sessionSecret: stack.config.sessionSecret,
      appSecret: stack.config.wechat.secret,
    };
    for (const [name, value] of Object.entries(secrets)) {
      if (value) expect(log.includes(value), `${name} appears in the log`).toBe(false);
    }
    expect(accessToken).toBeTruthy();
  });
});
