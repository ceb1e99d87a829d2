/**
 * The embedded QR (the frame scanlogin.js draws in a site's page) is as tall as what it shows: it tells the site's
 * page its height on every change (`{type: "scanlogin:resize", height}`), and scanlogin.js sizes the frame. A fixed
 * frame cut the buttons off ("Not you? Cancel", "New QR code") in some states and languages.
 */
export function reportHeight(win: Window): void {
  const doc = win.document;
  // style.css lays the page out for a frame: no centring in a full-height body, whose height is then its content's.
  doc.documentElement.classList.add('embedded');
  let last = -1;
  const send = () => {
    const height = Math.ceil(doc.body.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    // The height says nothing secret; the frame's parent can only be one of the client's embed_origins (CSP).
    win.parent.postMessage({ type: 'scanlogin:resize', height }, '*');
  };
  new ResizeObserver(send).observe(doc.body);
  send();
}
