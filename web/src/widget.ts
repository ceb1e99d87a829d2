/**
 * The login widget's controller: it moves the page through its phases (phase.ts) — create a login, watch it,
 * redeem the ticket, show the user — and hands the derived screen to the view. No DOM here: the view, the
 * API (over fetch) and the socket are passed in.
 *
 * Every login attempt gets a generation number; results of an older attempt (a late create, a status from its
 * watch, a redeem that resolves after the user moved on) are dropped, so they never render over the current one.
 */
import type { CreatedLogin, LoginMode, LoginSnapshot, SignedIn } from './api.js';
import { Attempt, LOCAL_EXPIRY_GRACE_MS } from './attempt.js';
import { endedMessage, type WatchFatalCode } from './codes.js';
import { createLogin } from './create-login.js';
import { leaveForWechat, type SameDevice } from './device.js';
import type { MessageKey } from './messages.js';
import { fetchOffered, firstMode } from './page-modes.js';
import { isWatching, type Phase, qrOf, screenOf } from './phase.js';
import { signIn } from './sign-in.js';
import { type AfterLoss, RenewalBudget } from './renewal.js';
import type { WidgetDeps } from './widget-deps.js';

export type { Interaction, View, WidgetDeps } from './widget-deps.js';

export class LoginWidget {
  private phase: Phase = { kind: 'loading' };
  private generation = 0;
  /** The login on screen, while there is one. */
  private attempt: Attempt | null = null;
  private readonly renewals = new RenewalBudget();
  /** The sign-in method chosen with the mode switch; renewals keep it. Only oauth signs in a WeChat browser itself. */
  private mode: LoginMode = 'oauth';
  /** The modes this page's logins can run (written into the page, else GET /api/config), once known. */
  private offered: readonly LoginMode[] | undefined;

  constructor(private readonly deps: WidgetDeps) {
    this.offered = deps.modes;
    this.mode = firstMode(deps.modes ?? ['oauth']);
  }

  /** On load: show the signed-in user if there is one, otherwise start a login. */
  async start(): Promise<void> {
    this.render();
    if (!this.offered) void this.askModes();
    // Back from WeChat's OAuth in this very browser: redeem the login it confirmed.
    const back = this.sameDevice()?.take();
    if (back) return this.returned(back);
    await this.resume(this.generation);
  }

  /** Stops the watch and the countdown (page unload). */
  dispose(): void {
    this.generation++;
    this.endAttempt();
  }

  /** A click on #refresh: a new QR code. */
  refresh(): Promise<void> {
    return this.newLogin();
  }

  /** A click on the mode switch: a human asking, so a new login in that mode (never automatic, never a loop). */
  async switchMode(mode: LoginMode): Promise<void> {
    const { kind } = this.phase;
    if (kind === 'confirmed' || (mode === this.mode && (kind === 'pending' || kind === 'loading'))) return;
    this.mode = mode;
    await this.newLogin();
  }

  /**
   * A click on #not-you: the person shown as having scanned is not the one here (a bystander who opened the QR
   * first, or a relayed QR). The login is cancelled on the server; the watch then shows it cancelled *here*, with a
   * new QR code on offer — also in a site's interaction, which stays on the page for the right person to scan (only
   * a refusal on the phone ends it with `access_denied`). A failure leaves the phase as it is: the phone can still
   * cancel.
   */
  async notYou(): Promise<void> {
    const { phase: p, attempt } = this;
    if (p.kind !== 'scanned' || !attempt) return;
    // Before the request: the watch may report the cancellation before its answer does.
    attempt.cancelledHere = true;
    await this.deps.api.cancel(p.login.id, p.login.watchToken).catch(() => (attempt.cancelledHere = false));
  }

  /** A click on #logout: end the session, then offer a new QR code. */
  async logout(): Promise<void> {
    const gen = this.beginAttempt();
    this.enter({ kind: 'loading' });
    try {
      await this.deps.api.logout();
    } catch {
      // Whatever happened, show the truth: still signed in, or not (then a new QR code).
      if (gen === this.generation) await this.resume(gen);
      return;
    }
    if (gen === this.generation) await this.newLogin();
  }

  // ---- Transitions ---------------------------------------------------------------------------------------

  private async newLogin(note?: MessageKey): Promise<void> {
    const gen = this.beginAttempt();
    // A platform-only deployment's plain page (a site's page with no mode still asks: the refusal says why).
    if (this.offered?.length === 0 && !this.deps.interaction) return this.showError('errorNoModes', false);
    this.enter({ kind: 'loading', note });
    const outcome = await createLogin(this.deps.api, this.mode, this.deps.interaction?.loginFields, {
      wanted: () => gen === this.generation,
      busy: () => this.enter({ kind: 'loading', note, message: 'busy' }),
    });
    if (!outcome) return;
    if ('error' in outcome) return this.showError(outcome.error);
    const login = outcome.login.data;
    const same = this.sameDevice();
    if (same) return this.goDirect(gen, login, same);
    const attempt = new Attempt(login, outcome.login.serverDate, () => this.tick());
    this.attempt = attempt;
    this.enter({ kind: 'pending', login, expiresAt: login.expiresAt, note });
    // Stopped with the attempt (endAttempt): nothing of an older login reaches the page.
    attempt.start(
      {
        status: (s) => this.onStatus(s),
        fatal: (code) => this.onFatal(code),
        transport: () => this.render(),
        service: (available) => this.onService(available),
      },
      { openSocket: this.deps.openSocket, getLogin: this.deps.api.getLogin },
    );
  }

  private onStatus(s: LoginSnapshot): void {
    const { phase: p, attempt } = this;
    if (!isWatching(p) || !attempt) return;
    // A status is the service answering again.
    attempt.serviceDown = false;
    const shown = { login: p.login, expiresAt: s.expiresAt };
    switch (s.status) {
      case 'pending':
        return this.enter({ kind: 'pending', ...shown, note: p.kind === 'pending' ? p.note : undefined });
      case 'scanned':
        return this.enter({ kind: 'scanned', ...shown, user: s.user && { ...s.user } });
      case 'confirmed':
        attempt.stopCountdown();
        return void this.finish({ ...shown, user: p.kind === 'scanned' ? p.user : undefined }, s.ticket);
      case 'cancelled': {
        attempt.stopCountdown();
        const here = attempt.cancelledHere;
        // Ended by the server, not refused on the phone: the site is not told access_denied; the page says why.
        const ended = endedMessage(s.reason);
        if (!here && !ended && this.deps.interaction?.abort()) return;
        const user = p.kind === 'scanned' ? p.user : undefined;
        return this.enter({ kind: 'cancelled', qrSrc: qrOf(p), user, here, ...(ended && { ended }) });
      }
      case 'expired':
        return this.loginLost('expired');
    }
  }

  /**
   * confirmed → redeeming → signed in: the one path from a login the phone confirmed to a signed-in page.
   * `ticket` is absent when the confirmation was redeemed elsewhere (signIn() then asks /api/session).
   */
  private async finish(shown: Omit<Extract<Phase, { kind: 'redeeming' }>, 'kind'>, ticket?: string): Promise<void> {
    const gen = this.generation;
    this.enter({ kind: 'redeeming', ...shown });
    const signedIn = await signIn(this.deps.api, shown.login, ticket, () => gen === this.generation);
    if (gen !== this.generation) return;
    if (signedIn && this.deps.interaction?.finish(shown.login)) return; // the site takes over
    if (signedIn) this.signedIn(signedIn);
    else this.showError('errorRedeem');
  }

  private onFatal(code: WatchFatalCode): void {
    if (code === 'login_expired') return this.loginLost('expired');
    if (code === 'unknown_login') return this.loginLost('unknown_login');
    this.showError('errorForbidden');
  }

  /**
   * The service says whether it can serve the login now. Down: the QR is shown as unusable (a phone scanning it
   * would only learn on the phone) until a status comes — which tells what is left of the login once the service
   * is back (nothing, after a Redis restarted without its data: a new QR code then, see loginLost).
   */
  private onService(available: boolean): void {
    const attempt = this.attempt;
    if (available || !attempt || !isWatching(this.phase)) return;
    attempt.outage = true;
    if (attempt.serviceDown) return;
    attempt.serviceDown = true;
    this.render();
  }

  /** Inside WeChat: no QR code, off to WeChat's OAuth in this browser (device.ts), back to returned(). */
  private async goDirect(gen: number, login: CreatedLogin, same: SameDevice): Promise<void> {
    this.enter({ kind: 'loading', message: 'direct' });
    const left = await leaveForWechat(this.deps.api, login, same, () => gen === this.generation);
    if (!left && gen === this.generation) this.showError('errorGeneric');
  }

  /** Back from the same-device OAuth round trip: redeem what it confirmed, or say how it ended. */
  private async returned(login: CreatedLogin): Promise<void> {
    const gen = this.beginAttempt();
    const shown = { login, expiresAt: login.expiresAt };
    this.enter({ kind: 'redeeming', ...shown });
    const snap = await this.deps.api.getLogin(login.id, login.watchToken).catch(() => null);
    if (gen !== this.generation) return;
    // The login is gone or unreadable: whatever happened, a session may exist (or a new login starts).
    if (!snap) return this.resume(gen);
    if (snap.status === 'confirmed') return this.finish({ ...shown, user: snap.user }, snap.ticket);
    const ended = endedMessage(snap.reason);
    if (snap.status === 'cancelled' && !ended && this.deps.interaction?.abort()) return;
    // Refused at WeChat, or back from the consent page without deciding: a click starts again.
    if (snap.status === 'expired') return this.enter({ kind: 'expired' });
    this.enter({ kind: 'cancelled', user: snap.user, ...(ended && { ended }) });
  }

  private sameDevice(): SameDevice | undefined {
    return this.deps.device === 'wechat' && this.mode === 'oauth' ? this.deps.sameDevice : undefined;
  }

  /** A page that names no modes asks GET /api/config; a failure keeps only the current mode on show (it works). */
  private async askModes(): Promise<void> {
    this.offered = await fetchOffered(this.deps.api);
    this.render();
  }

  /** The login expired or vanished: renewed or not as the budget says (renewal.ts). */
  private loginLost(kind: 'expired' | 'unknown_login'): void {
    const p = this.phase;
    const scanned = p.kind === 'scanned' ? p : undefined;
    const next: AfterLoss = this.renewals.after(kind, { scanned: !!scanned, outage: !!this.attempt?.outage });
    this.endAttempt();
    if ('renew' in next) void this.newLogin(next.renew);
    else if ('error' in next) this.showError(next.error);
    else if (scanned && next.expired.scanned)
      this.enter({ kind: 'expired', qrSrc: qrOf(p), scanned: true, user: scanned.user });
    else this.enter({ kind: 'expired', qrSrc: qrOf(p) });
  }

  /** Shows the session's user if the cookie is valid, otherwise starts a login. */
  private async resume(gen: number): Promise<void> {
    let session: SignedIn | null = null;
    try {
      // An interaction always asks the phone: the site is owed a fresh confirmation naming it.
      if (!this.deps.interaction) session = await this.deps.api.fetchSession();
    } catch {
      // /api/session failing is no reason not to offer a QR code; creating the login reports real outages.
    }
    if (gen !== this.generation) return;
    if (session) this.signedIn(session);
    else await this.newLogin();
  }

  private signedIn(session: SignedIn): void {
    this.endAttempt();
    this.enter({ kind: 'confirmed', user: session.user });
  }

  private showError(message: MessageKey, retry = true): void {
    this.endAttempt();
    this.enter({ kind: 'error', message, ...(!retry && { retry: false as const }) });
  }

  /** Abandons whatever the current attempt was doing and returns the new generation. */
  private beginAttempt(): number {
    this.endAttempt();
    return ++this.generation;
  }

  private endAttempt(): void {
    this.attempt?.stop();
    this.attempt = null;
  }

  // ---- Rendering and countdown --------------------------------------------------------------------------

  private enter(phase: Phase): void {
    this.phase = phase;
    this.render();
  }

  private render(): void {
    const ctx = {
      mode: this.mode,
      transport: this.attempt?.transport ?? null,
      offered: this.offered,
      device: this.deps.device,
      serviceDown: this.attempt?.serviceDown ?? false,
      site: this.deps.interaction?.site,
    };
    this.deps.view.render(screenOf(this.phase, ctx));
    this.tick();
  }

  private tick(): void {
    const p = this.phase;
    if (!isWatching(p) && p.kind !== 'redeeming') return;
    const remaining = this.attempt?.remaining(p.expiresAt) ?? p.expiresAt - Date.now();
    this.deps.view.renderCountdown(remaining);
    // The server normally reports the expiry itself; this guards against a transport that went quiet.
    if (isWatching(p) && remaining < -LOCAL_EXPIRY_GRACE_MS) this.loginLost('expired');
  }
}
