/** The current language (navigator.language unless the visitor toggled it, remembered) and message lookup. */

import { type Lang, MESSAGES, type MessageKey } from './messages.js';

export type { Lang, MessageKey };

const STORAGE_KEY = 'scanlogin.lang';

/** Picks the initial language: the visitor's saved choice, else zh for any zh-* browser language, else en. */
export function detectLang(nav: Pick<Navigator, 'language' | 'languages'> = navigator): Lang {
  const saved = readSaved();
  if (saved) return saved;
  const first = nav.languages?.[0] ?? nav.language ?? '';
  return first.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export class I18n {
  private listeners = new Set<() => void>();

  constructor(private current: Lang) {}

  get lang(): Lang {
    return this.current;
  }

  /** The message for `key` in the current language, with `{name}` placeholders filled from `vars`. */
  t(key: MessageKey, vars: Record<string, string> = {}): string {
    return MESSAGES[this.current][key].replace(/\{(\w+)\}/g, (m, name: string) => vars[name] ?? m);
  }

  /** Switches language, remembers the choice, and notifies listeners so they re-render. */
  set(lang: Lang): void {
    if (lang === this.current) return;
    this.current = lang;
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      /* storage disabled (private mode): the choice lasts for this page only */
    }
    for (const fn of this.listeners) fn();
  }

  toggle(): void {
    this.set(this.current === 'zh' ? 'en' : 'zh');
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

function readSaved(): Lang | null {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'zh' || v === 'en' ? v : null;
  } catch {
    return null;
  }
}
