import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { createLogger } from '../../server/log.js';
import { type RedisServerHandle, rawClient, startRedisServer } from '../helpers/redis.js';

/** A pino destination that keeps every line, so the test can grep the whole log. */
function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('logs never carry command arguments', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  it('a real Redis OOM error (and one wrapped as a cause) loses its args, keeps its message', async () => {
    const client = rawClient(redis.url);
    const secretTicket = 'TICKETsecret0123456789abcdefABCDEF';
    const secretSession = 'SESSIONsecret0123456789abcdefABCD';
    try {
      await client.config('SET', 'maxmemory', '1');
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      const err = await client
        .eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, `session:${secretSession}`, secretTicket)
        .then(
          () => null,
          (e: unknown) => e as Error & { command?: { args: unknown[] } },
        );
      expect(err?.message).toMatch(/OOM/);
      // What makes the scrub necessary: ioredis keeps the arguments on the error.
      expect(JSON.stringify(err?.command?.args)).toContain(secretTicket);

      const out = capture();
      const logger = createLogger('test', 'info', out.stream);
      logger.error({ err }, 'redeem failed');
      logger.error({ err: new AppError('internal', 'wrapped', undefined, { cause: err }) }, 'wrapped failure');
      logger.warn(
        { err: new Error(`GET https://api.weixin.qq.com/cgi-bin/x?access_token=${secretTicket}&appid=wx1 failed`) },
        'upstream failed',
      );
      const log = out.text();
      expect(log).toContain('OOM command not allowed');
      expect(log).toContain('access_token=[redacted]');
      expect(log).not.toContain(secretTicket);
      expect(log).not.toContain(secretSession);
    } finally {
      await client.config('SET', 'maxmemory', '0');
      client.disconnect();
    }
  });
});
