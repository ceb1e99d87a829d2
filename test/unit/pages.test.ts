/** The phone's pages as HTML (server/http/pages.ts): what a person reads, and markup that holds together. */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { errorAnswer } from '../../server/http/errors.js';
import { confirmPage } from '../../server/http/pages.js';
import { silentLogger } from '../../server/log.js';

/** The ids in `html` that name more than one element. */
function duplicateIds(html: string): string[] {
  const ids = [...html.matchAll(/\sid="([^"]*)"/g)].map((m) => m[1]!);
  return ids.filter((id, i) => ids.indexOf(id) !== i);
}

describe('confirm page', () => {
  const full = {
    loginId: 'A'.repeat(24),
    basePath: '/login',
    hidden: { csrf: 'c'.repeat(32) },
    device: 'Chrome on Windows',
    ip: '203.0.113.7',
    requestedAt: Date.UTC(2026, 10, 22, 3, 15, 36),
    nickname: 'Alice',
    avatar: 'https://wx.qlogo.cn/mmopen/a/132',
    client: 'Example Shop <&>',
  };

  it('names the client in both languages, with one element per id', () => {
    const html = confirmPage(full);
    expect(duplicateIds(html)).toEqual([]);
    expect(html.match(/Example Shop &lt;&amp;&gt;/g)).toHaveLength(2);
    expect(html.match(/id="client"/g)).toHaveLength(1);
    expect(html).toMatch(/Log in to <strong id="client">Example Shop &lt;&amp;&gt;<\/strong> on Chrome on Windows/);
  });

  it('holds together without the optional parts too', () => {
    const html = confirmPage({ loginId: full.loginId, basePath: '', hidden: {}, device: 'Safari', ip: '::1' });
    expect(duplicateIds(html)).toEqual([]);
    expect(html).not.toContain('id="client"');
  });
});

describe('error pages a phone can meet with the platform', () => {
  // What a phone meets when the site's account cannot sign it in (docs/errors.md): each says what happened and what
  // the person can do, in both languages, never the generic "something went wrong".
  const PLATFORM_CODES = [
    'account_revoked',
    'permission_missing',
    'unknown_account',
    'authorization_lost',
    'platform_ticket_missing',
    'platform_ticket_invalid',
  ] as const;
  const generic = errorAnswer(new AppError('internal', 'x'), '/l/x', silentLogger());

  for (const code of PLATFORM_CODES) {
    it(`${code}: its own sentence in Chinese and English, the code underneath`, () => {
      const answer = errorAnswer(new AppError(code, 'detail for the log'), `/l/${'A'.repeat(24)}`, silentLogger());
      expect(answer.type).toBe('html');
      const html = String(answer.body);
      expect(html).toContain(`error-${code}`);
      expect(html).toMatch(new RegExp(`<code id="error-code">${code}</code>`));
      const [zh, en] = sentences(html);
      expect(zh).toMatch(/[\u4e00-\u9fff]/);
      expect(en).toMatch(/[a-z]/);
      expect([zh, en]).not.toEqual(sentences(String(generic.body)));
      expect(html).not.toContain('detail for the log');
    });
  }
});

/** The page's two sentences: its heading (Chinese) and the English line under it. */
function sentences(html: string): [string, string] {
  const h1 = /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1] ?? '';
  const en = /<p class="en"[^>]*>([^<]*)<\/p>/.exec(html)?.[1] ?? '';
  return [h1, en];
}
