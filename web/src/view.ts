/**
 * DOM rendering of the login widget. It decides nothing: widget.ts hands it a Screen (derived from the phase,
 * phase.ts) and it makes the static skeleton in index.html match it (text in the current language,
 * visibility, data-state). It re-renders itself when the language changes, and reports clicks to the handlers.
 */
import { LOGIN_MODES, type LoginMode } from './api.js';
import type { I18n } from './i18n.js';
import type { Person, Screen } from './phase.js';
import type { View } from './widget-deps.js';

/** What the visitor's clicks ask for (the language toggle is the view's own business). */
export interface ViewActions {
  refresh(): void;
  logout(): void;
  notYou(): void;
  switchMode(mode: LoginMode): void;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html is missing #${id}`);
  return el as T;
}

/** Formats a remaining duration as m:ss (rounded up, so "0:00" appears only at the deadline). */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

export class WidgetView implements View {
  readonly root = byId<HTMLElement>('login-widget');
  readonly refreshButton = byId<HTMLButtonElement>('refresh');
  readonly logoutButton = byId<HTMLButtonElement>('logout');
  readonly notYouButton = byId<HTMLButtonElement>('not-you');
  readonly langToggle = byId<HTMLButtonElement>('lang-toggle');
  /** The mode switch: one button per login mode, `#mode-<name>`. */
  readonly modeButtons: ReadonlyMap<LoginMode, HTMLButtonElement> = new Map(
    LOGIN_MODES.map((m) => [m, byId<HTMLButtonElement>(`mode-${m}`)]),
  );
  private readonly el = {
    title: byId('title'),
    modes: byId('modes'),
    subtitle: byId('subtitle'),
    qrArea: byId('qr-area'),
    qr: byId<HTMLImageElement>('qr'),
    qrFrame: byId<HTMLIFrameElement>('qr-wechat'),
    countdown: byId('countdown'),
    person: byId('person'),
    avatar: byId<HTMLImageElement>('user-avatar'),
    initial: byId('user-initial'),
    name: byId('user-name'),
    openidRow: byId('user-openid-row'),
    openidLabel: byId('user-openid-label'),
    openid: byId('user-openid'),
    status: byId('status-text'),
    note: byId('note'),
    simulate: byId<HTMLAnchorElement>('simulate-phone'),
    devHint: byId<HTMLElement>('dev-hint'),
    devCommand: byId<HTMLElement>('dev-command'),
    devHintText: byId<HTMLElement>('dev-hint-text'),
    transport: byId('transport'),
    scannedPanel: byId('scanned-panel'),
    scannedTitle: byId('scanned-title'),
    otherDevice: byId('other-device'),
    otherDeviceText: byId('other-device-text'),
    copyLink: byId<HTMLButtonElement>('copy-link'),
    saveQr: byId<HTMLAnchorElement>('save-qr'),
    copyNote: byId('copy-note'),
  };
  private vm: Screen | null = null;
  /** The last countdown value, so a language switch can redraw it at once. */
  private remainingMs: number | null = null;

  constructor(private readonly i18n: I18n) {
    // A WeChat avatar URL that fails (hotlink rules, offline) falls back to the nickname's initial.
    this.el.avatar.addEventListener('error', () => {
      this.el.avatar.hidden = true;
      this.el.initial.hidden = false;
    });
    this.langToggle.addEventListener('click', () => i18n.toggle());
    this.el.copyLink.addEventListener('click', () => void this.copyScanLink());
    i18n.onChange(() => {
      if (this.vm) this.render(this.vm);
    });
  }

  /** Routes the buttons' clicks to `actions`. */
  bind(actions: ViewActions): void {
    this.refreshButton.addEventListener('click', () => actions.refresh());
    this.logoutButton.addEventListener('click', () => actions.logout());
    this.notYouButton.addEventListener('click', () => actions.notYou());
    for (const [mode, button] of this.modeButtons) button.addEventListener('click', () => actions.switchMode(mode));
  }

  render(vm: Screen): void {
    this.vm = vm;
    const { el, i18n } = this;
    const t = i18n.t.bind(i18n);
    document.documentElement.lang = i18n.lang === 'zh' ? 'zh-CN' : 'en';
    const title = t(vm.title, { site: vm.site ?? '' });
    document.title = `${title} · scanlogin`;
    this.root.dataset.state = vm.state;
    this.root.setAttribute('aria-busy', String(vm.state === 'loading' || vm.state === 'busy'));
    el.title.textContent = title;
    const mode = vm.mode;
    el.subtitle.textContent = t(mode === 'oauth' ? 'subtitle' : `subtitle.${mode}`);
    // Switching is offered while signing in, between the modes the server has; a signed-in page shows the user.
    el.modes.hidden = !vm.signingIn || vm.modes.length < 2;
    el.modes.setAttribute('aria-label', t('modesLabel'));
    for (const [m, button] of this.modeButtons) {
      button.textContent = t(`mode.${m}`);
      // The whole name on hover, should a label ever be cut (style.css).
      button.title = t(`mode.${m}`);
      button.hidden = !vm.modes.includes(m);
      button.setAttribute('aria-pressed', String(m === mode));
    }
    el.subtitle.hidden = !vm.signingIn;
    this.langToggle.textContent = t('langToggle');
    this.langToggle.setAttribute('aria-label', t('langToggleLabel'));

    el.qrArea.hidden = !vm.signingIn;
    if (vm.qrSrc) {
      if (el.qr.getAttribute('src') !== vm.qrSrc) el.qr.src = vm.qrSrc;
      el.qr.alt = t('qrAlt');
      el.qr.hidden = false;
    } else {
      el.qr.removeAttribute('src');
      el.qr.hidden = true;
    }
    this.renderFrame(vm);

    el.scannedPanel.hidden = vm.state !== 'scanned';
    el.scannedTitle.textContent = t('scannedTitle');
    this.renderOtherDevice(vm);
    this.renderPerson(vm.person);
    el.status.textContent = t(vm.message);
    el.note.hidden = !vm.note;
    el.note.textContent = vm.note ? t(vm.note) : '';

    this.refreshButton.hidden = !vm.refresh;
    this.refreshButton.textContent = t('refresh');
    this.logoutButton.hidden = !vm.logout;
    this.logoutButton.textContent = t('logout');
    this.notYouButton.hidden = !vm.notYou;
    this.notYouButton.textContent = t('notYou');

    el.simulate.hidden = !vm.simulateUrl;
    if (vm.simulateUrl) el.simulate.href = vm.simulateUrl;
    else el.simulate.removeAttribute('href');
    el.simulate.textContent = t('simulate');
    el.devHint.hidden = !vm.devPhoneCommand;
    el.devHintText.textContent = t('devPhoneHint');
    el.devCommand.textContent = vm.devPhoneCommand ?? '';

    el.transport.hidden = !vm.polling;
    el.transport.textContent = t('polling');
    if (vm.expiresAt === undefined) this.remainingMs = null;
    this.drawCountdown();
  }

  renderCountdown(remainingMs: number): void {
    this.remainingMs = remainingMs;
    this.drawCountdown();
  }

  private drawCountdown(): void {
    const el = this.el.countdown;
    const remainingMs = this.remainingMs;
    if (this.vm?.expiresAt === undefined) {
      el.hidden = true;
      el.textContent = '';
      return;
    }
    el.hidden = false;
    if (remainingMs !== null) {
      el.textContent = this.i18n.t('countdown', { time: formatRemaining(remainingMs) });
      el.classList.toggle('soon', remainingMs <= 15_000);
    }
  }

  /** WeChat's own QR page (qrconnect), framed as WxLogin does; its src is set once per login (a reset reloads it). */
  private renderFrame(vm: Screen): void {
    const frame = this.el.qrFrame;
    this.el.qrArea.classList.toggle('wechat-frame', !!vm.frameSrc);
    frame.title = this.i18n.t('frameTitle');
    if (vm.frameSrc) {
      if (frame.getAttribute('src') !== vm.frameSrc) frame.src = vm.frameSrc;
      frame.hidden = false;
    } else if (frame.hasAttribute('src')) {
      frame.removeAttribute('src');
      frame.hidden = true;
    }
  }

  /** A phone's ordinary browser: it cannot scan its own screen, so offer the link and the image instead. */
  private renderOtherDevice(vm: Screen): void {
    const { el, i18n } = this;
    el.otherDevice.hidden = !vm.otherDevice;
    if (!vm.otherDevice) {
      el.copyNote.hidden = true;
      return;
    }
    el.otherDeviceText.textContent = i18n.t('otherDevice');
    el.copyLink.textContent = i18n.t('copyLink');
    el.saveQr.textContent = i18n.t('saveQr');
    el.saveQr.href = vm.otherDevice.pngSrc;
  }

  /** Copies the scan URL; where the clipboard is refused, shows the URL to copy by hand. */
  private async copyScanLink(): Promise<void> {
    const url = this.vm?.otherDevice?.scanUrl;
    if (!url) return;
    const note = this.el.copyNote;
    try {
      await navigator.clipboard.writeText(url);
      note.textContent = this.i18n.t('copied');
    } catch {
      note.textContent = url;
    }
    note.hidden = false;
  }

  private renderPerson(p: Person | undefined): void {
    const { el } = this;
    el.person.hidden = !p;
    if (!p) return;
    // mp-qrcode and miniprogram know only the OpenID: a name, not the OpenID twice.
    const name = p.nickname || this.i18n.t('wechatUser');
    el.name.textContent = name;
    el.initial.textContent = name.slice(0, 1).toUpperCase();
    if (p.avatar) {
      if (el.avatar.getAttribute('src') !== p.avatar) {
        el.avatar.hidden = false;
        el.initial.hidden = true;
        el.avatar.src = p.avatar;
      }
    } else {
      el.avatar.removeAttribute('src');
      el.avatar.hidden = true;
      el.initial.hidden = false;
    }
    el.openidRow.hidden = !p.openid;
    el.openidLabel.textContent = this.i18n.t('openid');
    el.openid.textContent = p.openid ?? '';
  }
}
