// tagwire loader, part two: PII hashing, vendor pixel libraries and the commands tags
// return.
//
// The loader fetches this file (with its nonce, through its Trusted Types policy) after
// consent, when a hit carries user data or a tag first returns a browser command. Each vendor gets the same global
// stub its official base code defines, so the real library drains the queued calls when
// it arrives; the library itself is inserted by the loader's `load`, which only allows
// the configured vendor URLs.
(function (w, T) {
  'use strict';
  var inited = {};
  var SIGNALS = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];

  var USER = { email: ['em', 'em_g'], phone: ['ph', 'ph_d'], first_name: ['fn'],
    last_name: ['ln'], city: ['ct'], state: ['st'], zip: ['zp'], country: ['country'],
    external_id: ['external_id'] };

  var C_RE = /\p{C}/u;
  var KEEP = /[^\p{L}\p{M}]/gu;
  var LETTER = /\p{L}/u;

  function email(v, google) {
    v = v.toLowerCase();
    if (google) v = v.replace(/\s/g, '');
    else if (/\s/.test(v)) return null;
    var p = v.split('@');
    if (C_RE.test(v) || p.length !== 2 || !p[0]) return null;
    var labels = p[1].split('.');
    if (labels.length < 2 || labels.indexOf('') >= 0) return null;
    if (google && (p[1] === 'gmail.com' || p[1] === 'googlemail.com')) {
      p[0] = p[0].split('+')[0].replace(/\./g, '');
      if (!p[0]) return null;
      v = p[0] + '@' + p[1];
    }
    return v.length > 254 ? null : v;
  }

  // Digits with country code, or null. A national number (no + or 00) takes the
  // container's default country (T.C.country: calling code, national prefix); with none
  // set, Meta (ph_d) gets its own rule: the digits without leading zeros.
  function phone(v, meta) {
    v = v.replace(/\s*(?:ext\.?|x|#)\s*\d{1,7}$/i, '').replace(/\(0\)/g, '');
    if (!/^[+0-9\s().\-/]+$/.test(v)) return null;
    var m = /^[\s(]*(\+|00)/.exec(v);
    var digits = v.slice(m ? m[0].length : 0).replace(/\D/g, '');
    var c = T.C.country;
    if (!m && !c) {
      digits = digits.replace(/^0+/, '');
      return meta && digits.length >= 7 && digits.length <= 15 ? digits : null;
    }
    if (!m) {
      if (!c.dial) return null;
      if (c.prefix && digits.indexOf(c.prefix) === 0) digits = digits.slice(c.prefix.length);
      digits = c.dial + digits;
    }
    return digits.length >= 8 && digits.length <= 15 ? digits : null;
  }

  function letters(v, keep) {
    v = v.toLowerCase().replace(keep || KEEP, '');
    return LETTER.test(v) ? v : null;
  }

  // Normalised plaintext per hit field, following variables/pii.py (docs/loader.md lists
  // where the browser drops a value the server could still normalise).
  var NORM = {
    em: function (v) { return email(v, false); },
    em_g: function (v) { return email(v, true); },
    ph: function (v) { var x = phone(v, false); return x && '+' + x; },
    ph_d: function (v) { return phone(v, true); },
    fn: function (v) { return letters(v, /[^\p{L}\p{M}\p{Nd}]/gu); },
    ln: function (v) { return letters(v, /[^\p{L}\p{M}\p{Nd}]/gu); },
    ct: letters,
    st: function (v) { v = letters(v); return /^[a-z]{2}$/.test(v) ? v : null; },
    zp: function (v) {
      v = v.toLowerCase().replace(/\s/g, '');
      var us = /^([0-9]{5})(?:-?[0-9]{4})?$/.exec(v);
      if (us) return us[1];
      return /^[a-z0-9][a-z0-9-]{1,8}[a-z0-9]$/.test(v) ? v : null;
    },
    country: function (v) {
      v = (letters(v) || '').normalize('NFKD').replace(/[^a-z]/g, '');
      return v.length === 2 ? (v === 'uk' ? 'gb' : v) : null;
    },
    external_id: function (v) {
      return C_RE.test(v) ? null : v.toLowerCase().replace(/\s/g, '');
    }
  };

  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (x) {
      return (x + 256).toString(16).slice(1);
    }).join('');
  }

  function sha256(text) {
    return w.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)).then(hex);
  }

  // {email, phone, ...} -> Promise of {em, em_g, ph, ...}; without WebCrypto (plain http)
  // the fields are dropped, never sent as plaintext.
  T.hash = function (fields) {
    var out = {};
    var jobs = [];
    if (!fields || typeof fields !== 'object') return Promise.resolve(out);
    if (!(w.crypto && w.crypto.subtle)) {
      warn('user data dropped: hashing needs a secure context (https)');
      return Promise.resolve(out);
    }
    Object.keys(fields).forEach(function (name) {
      var raw = fields[name];
      if (!USER[name]) return warn('user.' + name + ' is not a known field');
      if (typeof raw === 'number' && Number.isInteger(raw)) raw = String(raw);
      if (typeof raw !== 'string' || raw.length > 1024 || !(raw = raw.trim())) return;
      var hashed = /^[0-9a-fA-F]{64}$/.test(raw);
      USER[name].forEach(function (key) {
        var norm = hashed ? raw.toLowerCase() : NORM[key](raw);
        if (!norm || (key === 'em_g' && (hashed || norm === NORM.em(raw)))) return;
        if (hashed) out[key] = norm;
        else jobs.push(sha256(norm).then(function (h) { out[key] = h; }));
      });
    });
    return Promise.all(jobs).then(function () { return out; });
  };

  function warn(text) {
    if (w.console) w.console.warn('tagwire: ' + text);
  }

  function fbq() {
    if (!w.fbq) {
      var f = w.fbq = function () {
        if (f.callMethod) f.callMethod.apply(f, arguments);
        else f.queue.push(arguments);
      };
      if (!w._fbq) w._fbq = f;
      f.push = f;
      f.loaded = true;
      f.version = '2.0';
      f.queue = [];
      f.disablePushState = true;
      T.load(T.C.scripts.meta);
    }
    return w.fbq;
  }

  var TT = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once', 'ready',
    'alias', 'group', 'enableCookie', 'disableCookie', 'holdConsent', 'revokeConsent',
    'grantConsent'];

  function ttq(code) {
    var t = w.ttq;
    if (!t) {
      t = w.ttq = [];
      t.methods = TT;
      t.setAndDefer = function (o, m) {
        o[m] = function () { o.push([m].concat([].slice.call(arguments))); };
      };
      TT.forEach(function (m) { t.setAndDefer(t, m); });
      t.instance = function (id) {
        var e = t._i[id] || [];
        TT.forEach(function (m) { t.setAndDefer(e, m); });
        return e;
      };
      t._i = {};
      t._t = {};
      t._o = {};
      t.load = function (id) {
        t._i[id] = [];
        t._i[id]._u = T.C.scripts.tiktok;
        t._t[id] = Date.now();
        t._o[id] = {};
        T.load(T.C.scripts.tiktok + '?sdkid=' + encodeURIComponent(id) + '&lib=ttq');
      };
    }
    if (!inited['t' + code]) {
      inited['t' + code] = 1;
      t.load(code);
    }
    return Object.keys(t._i || {}).length > 1 ? t.instance(code) : t;
  }

  function lintrk(pid) {
    var ids = w._linkedin_data_partner_ids = w._linkedin_data_partner_ids || [];
    if (ids.indexOf(pid) < 0) ids.push(pid);
    if (!w.lintrk) {
      w._linkedin_partner_id = pid;
      var l = w.lintrk = function (a, b) { l.q.push([a, b]); };
      l.q = [];
      T.load(T.C.scripts.linkedin);
    }
    return w.lintrk;
  }

  function gcm() {
    var g = {};
    SIGNALS.forEach(function (s) { g[s] = (T.consent() || {})[s] || 'denied'; });
    return g;
  }

  function gtag(id) {
    var dl = w.dataLayer = w.dataLayer || [];
    if (!w.gtag) {
      w.gtag = function () { dl.push(arguments); };
    }
    if (!inited.g) {
      inited.g = 1;
      ownCall('consent', 'default', gcm());
      ownCall('js', new Date());
    }
    if (id && !inited['g' + id]) {
      inited['g' + id] = 1;
      ownCall('config', id, { send_page_view: false });
      T.load(T.C.scripts.gtag + '?id=' + encodeURIComponent(id));
    }
  }

  // gtag calls the loader makes itself are marked so the Consent Mode watcher skips them.
  function ownCall() {
    var dl = w.dataLayer;
    var n = dl.length;
    T.own(true);
    try {
      w.gtag.apply(null, arguments);
    } finally {
      T.own(false);
    }
    for (; n < dl.length; n++) if (dl[n] && dl[n][0] === arguments[0]) dl[n].tw = 1;
  }

  function pixel(p) {
    if (!T.allows() || !p || !Array.isArray(p.args)) return;
    var a = p.args;
    var c = p.command;
    try {
      if (p.vendor === 'meta') {
        var f = fbq();
        if (c !== 'dataProcessingOptions' && !inited['m' + a[0]]) {
          inited['m' + a[0]] = 1;
          f('set', 'autoConfig', false, a[0]);
          f('init', a[0]);
        }
        f.apply(null, [c].concat(a));
      } else if (p.vendor === 'tiktok') {
        var t = ttq(a[0]);
        t[c].apply(t, a.slice(1));
      } else if (p.vendor === 'linkedin') {
        lintrk(String(a[0]))(c, a[1]);
      } else if (p.vendor === 'gtag') {
        var to = a[1] && a[1].send_to;
        gtag(typeof to === 'string' ? to.split('/')[0] : '');
        ownCall.apply(null, [c].concat(a));
      } else {
        warn('unknown pixel vendor ' + p.vendor);
      }
    } catch (e) {
      warn(p.vendor + ' ' + c + ' failed: ' + e.message);
    }
  }

  function vendorsConsent() {
    var ok = T.allows();
    var ads = (T.consent() || {}).ad_storage === 'granted';
    if (inited.g) ownCall('consent', 'update', gcm());
    if (w.fbq && w.fbq === w._fbq) w.fbq('consent', ok && ads ? 'grant' : 'revoke');
    if (w.ttq && w.ttq.load) w.ttq[ok && ads ? 'grantConsent' : 'revokeConsent']();
  }

  T.pixel = pixel;
  T.sync = vendorsConsent;
  T.take().forEach(pixel);
  if (T.ready) T.ready();
})(window, window.tagwire._);
