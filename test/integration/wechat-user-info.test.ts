/**
 * `cgi-bin/user/info` (docs/wechat.md §11) as the `mp-qrcode` mode uses it: against the simulator (the unionid of a
 * bound follower, none for an unbound one, 40003 for another app's openid), and against a stand-in WeChat that
 * misbehaves (an answer about someone else, no answer in time). Whatever fails, `withUnionid` hands the user back
 * unchanged and logs why: the unionid is an enrichment and never fails a login.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_MP_APPID, DEV_SECRET } from '../../server/config.js';
import { createLogger } from '../../server/log.js';
import type { LoginUser } from '../../server/logins/model.js';
import { followerUnionid, USER_INFO_TIMEOUT_MS, withUnionid } from '../../server/modes/mp-qrcode/unionid.js';
import { SimServer } from '../../server/sim/server.js';
import { SimUsers } from '../../server/sim/state/users.js';
import type { TokenSource } from '../../server/wechat/api-call.js';
import { WechatApiError } from '../../server/wechat/errors.js';
import { getFollowerInfo } from '../../server/wechat/user-info.js';

let sim: SimServer;
let simUrl: string;
/** The account's global token from the simulator, handed to every call (the token manager has its own tests). */
let tokens: TokenSource;
let fake: http.Server;
let fakeUrl: string;
/** What the stand-in WeChat does with the next request. */
let fakeAnswer: (res: http.ServerResponse, openid: string) => void = () => undefined;

beforeAll(async () => {
  sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
  ({ url: simUrl } = await sim.start({ port: 0, host: '127.0.0.1' }));
  const res = await fetch(`${simUrl}/cgi-bin/stable_token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credential', appid: DEV_APPID, secret: DEV_SECRET }),
  });
  const token = ((await res.json()) as { access_token: string }).access_token;
  tokens = { withToken: (call) => call(token) };
  fake = http.createServer((req, res) => fakeAnswer(res, new URL(req.url!, 'http://x').searchParams.get('openid')!));
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});

afterAll(async () => {
  fake?.closeAllConnections();
  await new Promise((resolve) => fake?.close(resolve));
  await sim?.stop();
});

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('test', 'info', stream), lines };
}

const [zhangsan, , lisi] = new SimUsers(DEV_APPID).list();
const userOf = (openid: string): LoginUser => ({ openid, appid: DEV_APPID, mode: 'mp-qrcode' });

describe('cgi-bin/user/info against the simulator', () => {
  it('a bound follower: subscribe 1 and the unionid; an unbound one: none', async () => {
    const info = await getFollowerInfo({ apiBase: simUrl }, tokens, zhangsan!.openid);
    expect(info).toEqual({ openid: zhangsan!.openid, subscribe: 1, unionid: zhangsan!.unionid });
    expect(await getFollowerInfo({ apiBase: simUrl }, tokens, lisi!.openid)).toEqual({
      openid: lisi!.openid,
      subscribe: 1,
    });
  });

  it("another app's openid is WeChat's 40003; withUnionid goes on without one and says why", async () => {
    const miniOpenid = new SimUsers(DEV_MP_APPID).list()[0]!.openid;
    const err = await getFollowerInfo({ apiBase: simUrl }, tokens, miniOpenid).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WechatApiError);
    expect((err as WechatApiError).errcode).toBe(40003);
    const { logger, lines } = capture();
    const lookup = followerUnionid({ apiBase: simUrl }, tokens);
    expect(await withUnionid(userOf(miniOpenid), lookup, logger)).toEqual(userOf(miniOpenid));
    expect(lines).toEqual([
      expect.objectContaining({ errcode: 40003, msg: 'cgi-bin/user/info failed: the login goes on without a unionid' }),
    ]);
    // The bound follower gets theirs; a user who already has one is not looked up again.
    expect(await withUnionid(userOf(zhangsan!.openid), lookup, logger)).toEqual({
      ...userOf(zhangsan!.openid),
      unionid: zhangsan!.unionid,
    });
    const known = { ...userOf(zhangsan!.openid), unionid: 'oKnown' };
    expect(await withUnionid(known, () => Promise.reject(new Error('not called')), logger)).toBe(known);
  });
});

describe('cgi-bin/user/info when WeChat misbehaves', () => {
  it("an answer about another openid is refused: nobody gets someone else's unionid", async () => {
    fakeAnswer = (res) => res.end(JSON.stringify({ subscribe: 1, openid: 'oSomeoneElse', unionid: 'oTheirUnionid' }));
    const err = await getFollowerInfo({ apiBase: fakeUrl }, tokens, 'oAsked').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'wechat_error' });
    const { logger } = capture();
    expect(await withUnionid(userOf('oAsked'), followerUnionid({ apiBase: fakeUrl }, tokens), logger)).toEqual(
      userOf('oAsked'),
    );
  });

  it(`no answer in time (at most ${USER_INFO_TIMEOUT_MS} ms, here the endpoint's 300): the login goes on`, async () => {
    fakeAnswer = () => undefined; // never answers
    const { logger, lines } = capture();
    const lookup = followerUnionid({ apiBase: fakeUrl, timeoutMs: 300 }, tokens);
    expect(await withUnionid(userOf('oSlow'), lookup, logger)).toEqual(userOf('oSlow'));
    expect(String(lines[0]?.err)).toMatch(/timed out after 300 ms/);
  });
});
