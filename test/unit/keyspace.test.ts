import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { newLoginId } from '../../server/logins/ids.js';
import { authorizerTokenKeys } from '../../server/platform/authorizer-token.js';
import { componentTokenKeys } from '../../server/platform/component-token.js';
import { channels, keys, publishCommand } from '../../server/redis/keys.js';
import { slotOf } from '../../server/redis/slot.js';
import { parseConfigFile } from '../../server/reload/config-file.js';
import { newSessionId, sessionKey } from '../../server/sessions/session-id.js';
import { tokenKeys } from '../../server/wechat/token/cache.js';

const PREFIX = 'scanlogin:';
/**
 * The slot Redis Cluster puts a key or a shard channel in (CRC16 of the first non-empty {…}, mod 16384): the link's
 * own calculator, checked against the server's CLUSTER KEYSLOT in test/integration/cluster-keys.test.ts.
 */
const slot = slotOf;

describe('keyspace on a cluster: what one script touches shares one slot', () => {
  it("every key of one login, its session and its channel (as the link subscribes it) are in the login's slot", () => {
    for (let i = 0; i < 50; i++) {
      const id = newLoginId();
      const own = slot(keys.login(PREFIX, id));
      const related = [
        PREFIX + channels.loginEvents(id),
        keys.loginCode(PREFIX, id),
        keys.mpCodeTries(PREFIX, id),
        keys.loginQr(PREFIX, id, 'svg'),
        keys.loginQr(PREFIX, id, 'png'),
        sessionKey(PREFIX, newSessionId(id))!,
      ];
      for (const key of related) expect({ key, slot: slot(key) }).toEqual({ key, slot: own });
    }
  });

  it('logins spread over the slots (the tag is the random id, not a fixed partition)', () => {
    const slots = new Set(Array.from({ length: 200 }, () => slot(keys.login(PREFIX, newLoginId()))));
    expect(slots.size).toBeGreaterThan(190);
  });

  it("an appid's token, its fleet lock, failure marker and recovery gates share a slot (one per appid)", () => {
    for (const k of [
      tokenKeys(PREFIX, 'wx0123456789abcdef'),
      componentTokenKeys(PREFIX, 'wxc'),
      authorizerTokenKeys(PREFIX, 'wxa'),
    ]) {
      const all = [k.token, k.lock, k.failure, k.recovery, k.forceDay(20261207)];
      expect(new Set(all.map(slot)).size).toBe(1);
    }
    expect(slot(tokenKeys(PREFIX, 'wxA').token)).not.toBe(slot(tokenKeys(PREFIX, 'wxB').token));
  });

  it("an OIDC grant's index and tombstone share its slot", () => {
    expect(slot(keys.oidcGrant(PREFIX, 'g1'))).toBe(slot(keys.oidcGrantRevoked(PREFIX, 'g1')));
  });

  it('the third-party platform keys of one component share a slot', () => {
    const c = 'wxcomponent';
    const all = [
      keys.platformTicket(PREFIX, c),
      keys.platformToken(PREFIX, c),
      keys.platformStatus(PREFIX, c),
      keys.platformAccounts(PREFIX, c),
      keys.platformRefresh(PREFIX, c),
      keys.platformAccountStatus(PREFIX, c),
    ];
    expect(new Set(all.map(slot)).size).toBe(1);
  });

  it('scripts publish with SPUBLISH while the link serves a cluster, PUBLISH elsewhere', () => {
    expect(publishCommand({ sharded: true })).toBe('spublish');
    expect(publishCommand({ sharded: false })).toBe('publish');
  });
});

describe('sessions', () => {
  it('a new id names its login; a bare 32-character id is an older session, read under its old key', () => {
    const id = newLoginId();
    const sid = newSessionId(id);
    expect(sid.startsWith(`${id}.`)).toBe(true);
    expect(sessionKey('p:', sid)).toBe(`p:session:{${id}}:${sid.slice(id.length + 1)}`);
    const legacy = 'a'.repeat(32);
    expect(sessionKey('p:', legacy)).toBe(`p:session:${legacy}`);
    for (const bad of [
      undefined,
      '',
      'a'.repeat(31),
      `${id}.${'a'.repeat(31)}`,
      `${id}.${'a'.repeat(32)}}`,
      `{${id}}`,
    ]) {
      expect(sessionKey('p:', bad)).toBeUndefined();
    }
  });
});

describe('key prefix', () => {
  const RULE = /keyPrefix must not contain \{ or \}: Redis Cluster hashes the first \{…\} of a key/;

  it('REDIS_KEY_PREFIX with a brace is refused at start-up, naming the rule', () => {
    for (const prefix of ['app{1}:', 'a{', 'b}']) {
      let err: unknown;
      try {
        loadConfig({ DEV_MODE: '1', REDIS_KEY_PREFIX: prefix });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([expect.stringMatching(RULE)]);
      expect((err as ConfigError).problems[0]).toMatch(/^REDIS_KEY_PREFIX: /);
    }
    expect(loadConfig({ DEV_MODE: '1', REDIS_KEY_PREFIX: 'shop-1:' }).redis.keyPrefix).toBe('shop-1:');
  });

  it("a CONFIG_FILE's keyPrefix with a brace is refused, for every target", () => {
    const sections = [
      { url: 'redis://127.0.0.1:1', keyPrefix: 'x{y}:' },
      { sentinels: [{ host: 's', port: 26379 }], name: 'm', keyPrefix: 'x{y}:' },
      { cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }], keyPrefix: 'x{y}:' } },
    ];
    for (const redis of sections) {
      expect(() => parseConfigFile(JSON.stringify({ redis }), 'c.json', 'p:')).toThrow(RULE);
    }
    expect(
      parseConfigFile(JSON.stringify({ redis: { url: 'redis://127.0.0.1:1', keyPrefix: 'ok:' } }), 'c.json', 'p:')
        .keyPrefix,
    ).toBe('ok:');
  });
});
