// The page a scanlogin mini-program code opens (WECHAT_MP_PAGE, default pages/login/index; docs/miniprogram.md).
// The code carries the login id as `scene`. The page signs the person in with wx.login(), tells scanlogin
// (POST /api/mp/scan), shows which computer asked, and confirms or cancels with the mpToken it was given.
// test/miniprogram-sample.test.ts reads the post('/api/…', {…}) calls below and replays them against the
// server: keep each call in that form, its fields named in the object.

const { apiBase } = getApp().globalData;

/** What to tell the person for each of scanlogin's error codes (docs/errors.md); anything else: generic. */
const MESSAGES = {
  login_expired: '二维码已过期，请在电脑上刷新 / The code expired: refresh it on the computer',
  unknown_login: '二维码无效，请在电脑上刷新 / Unknown code: refresh it on the computer',
  invalid_transition: '该二维码已被使用 / This code was already used',
  forbidden: '请重新扫码 / Please scan the code again',
  invalid_code: '微信登录失败，请重试 / WeChat sign-in failed, try again',
  code_used: '微信登录失败，请重试 / WeChat sign-in failed, try again',
  code_blocked: '微信暂时无法登录此账号 / WeChat refused this sign-in',
  rate_limited: '操作太频繁，请稍后再试 / Too many attempts, try again shortly',
  too_many_codes: '尝试次数过多，请在电脑上刷新二维码 / Too many attempts: refresh the code on the computer',
};

/** POST JSON to scanlogin; resolves with the answer, rejects with its `{error, message}` for anything but 2xx. */
function post(path, data) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: apiBase + path,
      method: 'POST',
      header: { 'content-type': 'application/json' },
      data,
      success(res) {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(res.data);
        else reject(res.data && res.data.error ? res.data : { error: `http_${res.statusCode}` });
      },
      fail(err) {
        reject({ error: 'network', message: err.errMsg });
      },
    });
  });
}

/** wx.login(): a code valid 5 minutes, once, which scanlogin exchanges for this person's openid. */
function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({
      success(res) {
        if (res.code) resolve(res.code);
        else reject({ error: 'wx_login', message: res.errMsg });
      },
      fail(err) {
        reject({ error: 'wx_login', message: err.errMsg });
      },
    });
  });
}

function formatTime(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

Page({
  data: { state: 'loading', requester: null, when: '', error: '' },

  onLoad(options) {
    // WeChat hands the code's scene to the page URL-encoded: decode it (a login id is plain letters and digits).
    const scene = decodeURIComponent(options.scene || '');
    if (!scene) {
      this.setData({ state: 'error', error: '请扫描电脑上的小程序码 / Scan the code shown on the computer' });
      return;
    }
    this.scene = scene;
    this.scan();
  },

  async scan() {
    try {
      const code = await wxLogin();
      const answer = await post('/api/mp/scan', { scene: this.scene, code });
      this.mpToken = answer.mpToken;
      this.setData({ state: 'confirm', requester: answer.requester, when: formatTime(answer.requester.requestedAt) });
    } catch (err) {
      this.fail(err);
    }
  },

  async onConfirm() {
    this.setData({ state: 'busy' });
    try {
      await post('/api/mp/confirm', { scene: this.scene, mpToken: this.mpToken });
      this.setData({ state: 'confirmed' });
    } catch (err) {
      this.fail(err);
    }
  },

  async onCancel() {
    this.setData({ state: 'busy' });
    try {
      await post('/api/mp/cancel', { scene: this.scene, mpToken: this.mpToken });
      this.setData({ state: 'cancelled' });
    } catch (err) {
      this.fail(err);
    }
  },

  fail(err) {
    const code = (err && err.error) || 'unknown';
    this.setData({ state: 'error', error: MESSAGES[code] || `登录失败 / Login failed (${code})` });
  },
});
