/**
 * End-to-end: expiry and the one automatic renewal, in a real Chromium against a dev stack with a 2 s LOGIN_TTL
 * (test/helpers/browser.ts). The renewal budget's logic is unit-tested in web-widget.test.ts; this is the journey.
 */
import { describe, expect, it } from 'vitest';
import { browserSuite, countLoginCreates, screenshot, state, waitState } from '../helpers/browser.js';

describe('expiry with a short LOGIN_TTL', () => {
  const TTL_S = 2;
  const suite = browserSuite({ LOGIN_TTL: String(TTL_S) });

  it('renews at most once automatically, then waits for the user (never a QR loop)', { timeout: 60_000 }, async () => {
    const page = await suite.freshPage();
    const creates = countLoginCreates(page);
    const started = Date.now();
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');

    // First login expires → one automatic renewal → that one expires → #refresh and a stop.
    await waitState(page, 'expired', 30_000);
    expect(await page.isVisible('#refresh')).toBe(true);
    expect(creates()).toBe(2);

    // Keep watching until at least three TTLs have passed: nothing else may be created. (A check that nothing
    // happens can only watch for a while; a busy machine makes it weaker, never wrong.)
    const observeUntil = started + 3 * TTL_S * 1000 + 2000;
    await page.waitForTimeout(Math.max(0, observeUntil - Date.now()));
    expect(await state(page)).toBe('expired');
    expect(creates()).toBeLessThanOrEqual(2);
    await screenshot(page, 'page-expired');

    // A click is a human asking: exactly one more login, then (the renewal being spent) expired again.
    await page.click('#refresh');
    await waitState(page, 'pending');
    expect(creates()).toBe(3);
    await waitState(page, 'expired', 30_000);
    expect(creates()).toBe(3);
  });
});
