/**
 * DOM rendering of the login widget. It owns no state: widget.ts hands it a ViewModel and it makes the
 * static skeleton in index.html match it (text in the current language, visibility, data-state).
 */
import type { I18n, MessageKey } from './i18n.js';
import { LOGIN_MODES, type LoginMode } from './api.js';
import type { TransportKind } from './transport.js';

export type WidgetState = 'loading' | 'pending' | 'scanned' | 'confirmed' | 'cancelled' | 'expired' | 'error';

export interface Person {
  nickname?: string;
  avatar?: string;
  /** Only for the signed-in user (not shown for the scanner before redeem). */
  openid?: string;
}

export interface ViewModel {
  state: WidgetState;
  /** The sign-in method of the QR code shown (the mode switch highlights it). */
  mode?: LoginMode;
  message: MessageKey;
  /** A secondary line, e.g. "a new QR code was generated". */
  note?: MessageKey;
  qrSrc?: string;
  /** Server epoch ms of the login's deadline, for the countdown (pending/scanned only). */
  expiresAt?: number;
  person?: Person;
  simulateUrl?: string;
  transport?: TransportKind;
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

export class WidgetView {
  readonly root = byId<HTMLElement>('login-widget');
  readonly refreshButton = byId<HTMLButtonElement>('refresh');
  readonly logoutButton = byId<HTMLButtonElement>('logout');
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
    transport: byId('transport'),
  };
  private vm: ViewModel = { state: 'loading', message: 'loading' };

  constructor(private readonly i18n: I18n) {
    // A WeChat avatar URL that fails (hotlink rules, offline) falls back to the nickname's initial.
    this.el.avatar.addEventListener('error', () => {
      this.el.avatar.hidden = true;
      this.el.initial.hidden = false;
    });
  }

  render(vm: ViewModel): void {
    this.vm = vm;
    const { el, i18n } = this;
    const t = i18n.t.bind(i18n);
    document.documentElement.lang = i18n.lang === 'zh' ? 'zh-CN' : 'en';
    document.title = `${t('title')} · scanlogin`;
    this.root.dataset.state = vm.state;
    this.root.setAttribute('aria-busy', String(vm.state === 'loading'));
    el.title.textContent = t('title');
    const mode = vm.mode ?? 'oauth';
    el.subtitle.textContent = t(mode === 'oauth' ? 'subtitle' : `subtitle.${mode}`);
    // Switching is offered while signing in; a signed-in page shows only the user.
    el.modes.hidden = vm.state === 'confirmed';
    el.modes.setAttribute('aria-label', t('modesLabel'));
    for (const [m, button] of this.modeButtons) {
      button.textContent = t(`mode.${m}`);
      button.setAttribute('aria-pressed', String(m === mode));
    }
    el.subtitle.hidden = vm.state === 'confirmed';
    this.langToggle.textContent = t('langToggle');
    this.langToggle.setAttribute('aria-label', t('langToggleLabel'));

    el.qrArea.hidden = vm.state === 'confirmed';
    if (vm.qrSrc) {
      if (el.qr.getAttribute('src') !== vm.qrSrc) el.qr.src = vm.qrSrc;
      el.qr.alt = t('qrAlt');
      el.qr.hidden = false;
    } else {
      el.qr.removeAttribute('src');
      el.qr.hidden = true;
    }

    this.renderPerson(vm.person);
    el.status.textContent = t(vm.message);
    el.note.hidden = !vm.note;
    el.note.textContent = vm.note ? t(vm.note) : '';

    this.refreshButton.hidden = !(vm.state === 'cancelled' || vm.state === 'expired' || vm.state === 'error');
    this.refreshButton.textContent = t('refresh');
    this.logoutButton.hidden = vm.state !== 'confirmed';
    this.logoutButton.textContent = t('logout');

    const showSim = !!vm.simulateUrl && (vm.state === 'pending' || vm.state === 'scanned');
    el.simulate.hidden = !showSim;
    if (showSim && vm.simulateUrl) el.simulate.href = vm.simulateUrl;
    else el.simulate.removeAttribute('href');
    el.simulate.textContent = t('simulate');

    el.transport.hidden = vm.transport !== 'poll' || !(vm.state === 'pending' || vm.state === 'scanned');
    el.transport.textContent = t('polling');
    this.renderCountdown(null);
  }

  /** Updates only the countdown line; `remainingMs` null means "compute nothing, hide unless live". */
  renderCountdown(remainingMs: number | null): void {
    const live = (this.vm.state === 'pending' || this.vm.state === 'scanned') && this.vm.expiresAt !== undefined;
    const el = this.el.countdown;
    if (!live) {
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

  private renderPerson(p: Person | undefined): void {
    const { el } = this;
    el.person.hidden = !p;
    if (!p) return;
    el.name.textContent = p.nickname ?? p.openid ?? '';
    el.initial.textContent = (p.nickname ?? '?').slice(0, 1).toUpperCase();
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
