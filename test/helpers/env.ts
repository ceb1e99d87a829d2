/** A complete, valid production environment: real-looking secrets, an https origin behind proxies in 10/8. */
export const PRODUCTION_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  WECHAT_APPID: 'wx0123456789abcdef',
  SESSION_SECRET: 's'.repeat(32),
  WECHAT_SECRET: 'a'.repeat(32),
  PUBLIC_URL: 'https://login.example.com',
  WS_PUBLIC_URL: 'wss://login.example.com/ws',
  TRUST_PROXY: '10.0.0.0/8',
};
