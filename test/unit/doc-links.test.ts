import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { marked, type Token } from 'marked';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every relative link in README.md and docs/*.md resolves: the file exists and a `#anchor` is a heading of the
 * target, slugged as GitHub does (github-slugger, per file, duplicates numbered). marked parses the Markdown, so
 * links inside code blocks and spans are not links, and reference-style links are resolved like GitHub does.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A heading's text as GitHub slugs it: the rendered text, without Markdown syntax or HTML tags. */
function plainText(tokens: Token[]): string {
  return tokens
    .map((t) => {
      if ('tokens' in t && t.tokens?.length) return plainText(t.tokens);
      if (t.type === 'html') return '';
      return 'text' in t ? String(t.text) : '';
    })
    .join('');
}

interface Parsed {
  links: string[];
  anchors: Set<string>;
}

function parse(markdown: string): Parsed {
  const links: string[] = [];
  const anchors = new Set<string>();
  const slugger = new GithubSlugger();
  marked.walkTokens(marked.lexer(markdown), (t) => {
    if (t.type === 'heading') anchors.add(slugger.slug(plainText(t.tokens ?? [])));
    if (t.type === 'link' || t.type === 'image') links.push(t.href);
  });
  return { links, anchors };
}

const EXTERNAL = /^([a-z][a-z0-9+.-]*:|\/\/)/i;

function decode(anchor: string): string {
  try {
    return decodeURIComponent(anchor);
  } catch {
    return anchor;
  }
}

/** The broken relative links of `files` (paths relative to `root`), as "file: link (why)". */
function brokenLinks(root: string, files: string[]): string[] {
  const cache = new Map<string, Parsed>();
  const parsed = (abs: string) => {
    let p = cache.get(abs);
    if (!p) cache.set(abs, (p = parse(readFileSync(abs, 'utf8'))));
    return p;
  };
  const broken: string[] = [];
  for (const file of files) {
    const abs = path.join(root, file);
    for (const link of parsed(abs).links) {
      if (EXTERNAL.test(link)) continue;
      const hash = link.indexOf('#');
      const target = hash === -1 ? link : link.slice(0, hash);
      const anchor = hash === -1 ? undefined : decode(link.slice(hash + 1));
      const targetAbs = target === '' ? abs : path.resolve(path.dirname(abs), decode(target));
      if (!existsSync(targetAbs)) {
        broken.push(`${file}: ${link} (no such file)`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      if (!targetAbs.endsWith('.md')) {
        broken.push(`${file}: ${link} (an anchor into a file that is not Markdown)`);
        continue;
      }
      if (!parsed(targetAbs).anchors.has(anchor)) broken.push(`${file}: ${link} (no heading #${anchor})`);
    }
  }
  return broken;
}

const DOCS = readdirSync(path.join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`);

describe('documentation links', () => {
  it('every relative link in README.md and docs/*.md names an existing file and heading', () => {
    const files = ['README.md', ...DOCS];
    const links = files.flatMap((f) => parse(readFileSync(path.join(ROOT, f), 'utf8')).links);
    expect(links.filter((l) => !EXTERNAL.test(l)).length).toBeGreaterThan(50);
    expect(brokenLinks(ROOT, files)).toEqual([]);
  });

  it('the README links every docs/*.md file', () => {
    const linked = new Set(
      parse(readFileSync(path.join(ROOT, 'README.md'), 'utf8'))
        .links.filter((l) => !EXTERNAL.test(l))
        .map((l) => l.split('#')[0]),
    );
    expect(DOCS.filter((d) => !linked.has(d))).toEqual([]);
  });

  describe('the checker', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'doc-links-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);

    it('finds missing files and headings, and accepts GitHub slugs', () => {
      write(
        'a.md',
        [
          '# Title',
          '## §2 Web OAuth authorization (Official Account, 网页授权)',
          '## `scanlogin doctor`',
          '## Notes',
          '## Notes',
          '### The embeddable QR (`scanlogin.js`)',
          '',
          '[ok](#title) [ok](#2-web-oauth-authorization-official-account-网页授权) [ok](#scanlogin-doctor)',
          '[ok](#notes-1) [ok](b.md#the-end) [ok](#the-embeddable-qr-scanloginjs) [ok](https://example.com/x.md#y)',
          '[missing anchor](#nope) [missing file](c.md) [missing anchor there](b.md#start) [dup](#notes-2)',
          '',
          '```',
          '[inside a code block](nowhere.md)',
          '```',
          'and `[in a code span](nowhere.md)`',
        ].join('\n'),
      );
      write('b.md', '# B\n\n## The end\n');
      expect(brokenLinks(dir, ['a.md'])).toEqual([
        'a.md: #nope (no heading #nope)',
        'a.md: c.md (no such file)',
        'a.md: b.md#start (no heading #start)',
        'a.md: #notes-2 (no heading #notes-2)',
      ]);
    });
  });
});
