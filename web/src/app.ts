/** Page bootstrap: pick the language, mount the widget, stop watching when the page goes away. */
import { detectLang, I18n } from './i18n.js';
import { LoginWidget } from './widget.js';
import { requestedLang } from './interaction.js';

const widget = new LoginWidget(new I18n(requestedLang() ?? detectLang()));
addEventListener('pagehide', (ev) => {
  // A page kept in the back/forward cache comes back via pageshow; only a real unload ends the watch.
  if (!ev.persisted) widget.dispose();
});
void widget.start();
