/**
 * WeChat's full-release check (全网发布, docs/wechat.md §12.11), played by the simulator against the real roles: the
 * ticket push, the test account's `TESTCOMPONENT_MSG_TYPE_TEXT` answered with its `_callback` reply, and
 * `QUERY_AUTH_CODE:<code>` answered empty, the code exchanged and `<code>_from_api` sent by the customer-service API.
 * The check fails when the last step does not happen. Real redis-server, real roles.
 */
import { describe, expect, it } from 'vitest';
import { RELEASE_TEST_ACCOUNT } from '../../server/sim/state/merchants.js';
import { COMPONENT_APPID, simCalls, simControl, suiteRoles, untilTicket } from '../helpers/platform.js';
import { rawClient } from '../helpers/redis.js';
import { keys } from '../../server/redis/keys.js';

interface CheckResult {
  passed: boolean;
  steps: { step: string; ok: boolean; detail: string }[];
}

describe('the full-release check', () => {
  const stack = suiteRoles(600);

  it('passes: every step answered as WeChat expects, the test account not kept as an account', async () => {
    const s = stack();
    await untilTicket(s.httpUrl);
    const before = await simCalls(s.simUrl);
    const result = await simControl<CheckResult>(s.simUrl, '/sim/platform/release-check', {});
    expect(result.steps.map((st) => [st.step, st.ok])).toEqual([
      ['ticket', true],
      ['text', true],
      ['api', true],
    ]);
    expect(result.passed).toBe(true);
    const after = await simCalls(s.simUrl);
    const delta = (api: string) => (after[api] ?? 0) - (before[api] ?? 0);
    expect(delta('/cgi-bin/component/api_query_auth')).toBe(1);
    expect(delta('/cgi-bin/message/custom/send')).toBe(1);
    // It signs nobody in: no account record, no refresh token kept for it.
    const redis = rawClient(s.redis.url);
    try {
      expect(
        await redis.hget(keys.platformAccounts('scanlogin:', COMPONENT_APPID), RELEASE_TEST_ACCOUNT.appid),
      ).toBeNull();
      expect(
        await redis.hget(keys.platformRefresh('scanlogin:', COMPONENT_APPID), RELEASE_TEST_ACCOUNT.appid),
      ).toBeNull();
    } finally {
      redis.disconnect();
    }
  });

  it('fails, naming the step, when the customer-service message does not arrive', async () => {
    const s = stack();
    await untilTicket(s.httpUrl);
    await simControl(s.simUrl, '/sim/faults', { api: 'cgi-bin/message/custom/send', errcode: -1, count: 5 });
    const result = await simControl<CheckResult>(s.simUrl, '/sim/platform/release-check', { waitMs: 1500 });
    expect(result.passed).toBe(false);
    expect(result.steps.find((st) => st.step === 'text')?.ok).toBe(true);
    expect(result.steps.find((st) => st.step === 'api')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('no customer-service message'),
    });
    await fetch(`${s.simUrl}/sim/faults`, { method: 'DELETE' });
  });
});
