import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cspDirective } from '../helpers/oidc.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';

// Every answer of the http role — the page, the API, the phone's pages — carries the same protective headers; the
// phone's confirm page in particular can never be framed (clickjacking the Confirm button).
describe('security headers', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it('page, API and phone pages: script-src self, frame-ancestors none, nosniff, no-referrer', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const answers = [
      await fetch(`${stack.httpUrl}/`),
      await fetch(`${stack.httpUrl}/api/me`),
      await phone.get(login.scanUrl), // 302 to WeChat's consent
      await phone.get(`${stack.httpUrl}/l/${'U'.repeat(24)}`), // an error page
    ];
    for (const res of answers) {
      const csp = res.headers.get('content-security-policy');
      expect(cspDirective(csp, 'script-src')).toBe("'self'");
      expect(cspDirective(csp, 'frame-ancestors')).toBe("'none'");
      expect(cspDirective(csp, 'object-src')).toBe("'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      // HSTS only when PUBLIC_URL is https (this stack is plain http on loopback).
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('HSTS when PUBLIC_URL is https', async () => {
    const tls = await startStack({ PUBLIC_URL: 'https://login.example.test' });
    try {
      // The roles listen on loopback; only the URLs they hand out are https.
      const res = await fetch(`http://127.0.0.1:${tls.config.httpPort}/api/me`);
      expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000');
    } finally {
      await tls.stop();
    }
  });
});
