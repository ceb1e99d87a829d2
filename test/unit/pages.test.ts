/** The phone's pages as HTML (server/http/pages.ts): what a person reads, and markup that holds together. */
import { describe, expect, it } from 'vitest';
import { confirmPage } from '../../server/http/pages.js';

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
