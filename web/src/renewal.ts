/** What the page does when its login expired or vanished: the renewal budget (the widget's loginLost). */
import type { MessageKey } from './messages.js';

/**
 * Automatic QR renewals allowed per page load.
 *
 * This is the bug scanlogin exists to end: login pages that, on every expiry, silently created a new login,
 * whose expiry created another, forever — in every forgotten background tab — filling Redis and burning
 * the WeChat quota while nobody was looking. One renewal covers the common "it expired while I reached for
 * my phone" case; after that the page stops and waits for a human to click #refresh. User clicks do not
 * refill this budget.
 */
const MAX_AUTO_RENEWALS = 1;

/** A new QR code (with this note), the expired code (`scanned`: a person had scanned it), or an error. */
export type AfterLoss = { renew: MessageKey } | { expired: { scanned: boolean } } | { error: MessageKey };

export class RenewalBudget {
  private left = MAX_AUTO_RENEWALS;

  /**
   * Never renewed under a person who scanned it: the phone is on its confirm step, so the page says the code
   * expired. A login lost to an outage of the service (`outage`: it lived through one) is renewed without spending
   * the budget: the service lost it, not the person who left the page open; each such renewal needs an outage of
   * its own, so this never loops.
   */
  after(kind: 'expired' | 'unknown_login', was: { scanned: boolean; outage: boolean }): AfterLoss {
    if (was.scanned && kind === 'expired' && !was.outage) return { expired: { scanned: true } };
    if (was.outage) return { renew: 'renewedAfterOutage' };
    if (this.left > 0) {
      this.left--;
      return { renew: 'renewed' };
    }
    return kind === 'expired' ? { expired: { scanned: false } } : { error: 'errorUnknownLogin' };
  }
}
