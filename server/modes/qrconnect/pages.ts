import { messagePage } from '../../http/pages.js';

/**
 * What the widget's frame shows after WeChat's callback: the page around it does the rest (it learns the outcome
 * over its watch and redeems), so the frame only says so.
 */
export function frameSignedInPage(): string {
  return messagePage(
    'qrconnect-confirmed',
    { zh: '已登录', en: 'Signed in' },
    { zh: '请在页面中继续。', en: 'Continue in the page.' },
  );
}

export function frameCancelledPage(): string {
  return messagePage(
    'qrconnect-cancelled',
    { zh: '已取消登录', en: 'Login cancelled' },
    { zh: '可在页面中刷新二维码。', en: 'Refresh the QR code in the page to try again.' },
  );
}
