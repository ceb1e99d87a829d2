/** Page bootstrap: pick the language, wire the widget to the DOM view, the browser's fetch and WebSocket. */
import { createApi } from './api.js';
import { appRoot, appUrl } from './base.js';
import { deviceOf, sessionSameDevice } from './device.js';
import { reportHeight } from './embed-size.js';
import { detectLang, I18n } from './i18n.js';
import { pageInteraction, requestedLang } from './interaction.js';
import { MODES_META, pageModes } from './page-modes.js';
import { WidgetView } from './view.js';
import { LoginWidget } from './widget.js';

// The API's paths (`/api/…`) are the app's; they live under BASE_PATH.
const root = appRoot(document);
const view = new WidgetView(new I18n(requestedLang(location.search) ?? detectLang()));
const interaction = pageInteraction(window);
// The embedded QR (a cross-site frame) keeps no cookies, so it cannot take the same-device path.
const embedded = window.top !== window;
if (embedded) reportHeight(window);
const widget = new LoginWidget({
  api: createApi((path, init) => fetch(appUrl(root, path), init)),
  view,
  openSocket: (url) => new WebSocket(url),
  interaction,
  modes: pageModes(document.querySelector<HTMLMetaElement>(MODES_META)?.content),
  device: embedded ? 'desktop' : deviceOf(navigator.userAgent),
  sameDevice: embedded ? undefined : sessionSameDevice(window),
});
view.bind({
  refresh: () => void widget.refresh(),
  notYou: () => void widget.notYou(),
  logout: () => void widget.logout(),
  switchMode: (mode) => void widget.switchMode(mode),
});
addEventListener('pagehide', (ev) => {
  // A page kept in the back/forward cache comes back via pageshow; only a real unload ends the watch.
  if (!ev.persisted) widget.dispose();
});
void widget.start();
