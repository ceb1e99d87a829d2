// scanlogin sample mini program (docs/miniprogram.md).
// apiBase: scanlogin's PUBLIC_URL + BASE_PATH. Its domain must be listed as a request domain (request 合法域名,
// https only) in the mini program's console, or wx.request refuses to call it.
App({
  globalData: {
    apiBase: 'https://login.example.com',
  },
});
