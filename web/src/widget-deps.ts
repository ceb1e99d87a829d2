/** What the login widget (widget.ts) is given: where it shows itself, the page's interaction, the API, the socket. */
import type { Api, CreatedLogin, LoginMode } from './api.js';
import type { Device, SameDevice } from './device.js';
import type { Screen } from './phase.js';
import type { WatchDeps } from './transport.js';

/** Where the widget shows itself (view.ts in the page). */
export interface View {
  render(screen: Screen): void;
  /** Updates only the countdown line (called every second while it is shown). */
  renderCountdown(remainingMs: number): void;
}

/**
 * The page as an OpenID Connect interaction (interaction.ts): a site is waiting for this login. Absent on the
 * plain login page.
 */
export interface Interaction {
  /** Extra fields of `POST /api/logins`, so the login names the site (the phone's confirm page shows it). */
  readonly loginFields: Readonly<Record<string, string>>;
  /** The site's name, when the server told the page (the heading says "Sign in to <site>"). */
  readonly site?: string | undefined;
  /** After a sign-in: hand the login to the site. True when the page is leaving (it shows nothing more). */
  finish(login: CreatedLogin): boolean;
  /** After the phone refused: `access_denied` at the site. True when the page is leaving. */
  abort(): boolean;
}

export interface WidgetDeps {
  api: Api;
  view: View;
  openSocket: WatchDeps['openSocket'];
  interaction?: Interaction | undefined;
  /** The modes the server wrote into the page (page-modes.ts); absent: the page asks GET /api/config. */
  modes?: readonly LoginMode[] | undefined;
  /** Where the page runs (device.ts); default a computer. */
  device?: Device | undefined;
  /** Inside WeChat: the memory of the OAuth round trip that signs this browser in without a QR code. */
  sameDevice?: SameDevice | undefined;
}
