// tagwire loader: the one script a site puts in its head.
//
// Promises this file keeps (the browser tests check each one):
// - Nothing leaves the page and nothing is stored before a consent signal allows it:
//   no request to /collect, no vendor library, no cookie, no storage key.
// - Withdrawn consent deletes what was stored: the session keys here, and the cookies the
//   node set (tw_id is HttpOnly) through POST /forget.
// - Contact details are normalised and SHA-256 hashed here; plaintext never leaves.
// - Every script it inserts carries the nonce it was loaded with and goes through the
//   Trusted Types policy "tagwire", which allows the configured vendor libraries only.
// - No eval, no new Function, no document.write, no innerHTML, no inline handlers.
// The server inserts the container's settings in place of TAGWIRE_CONFIG and minifies
// the file when it serves it.
(function (w, d, C) {
  'use strict';
  // A second copy of the snippet on the page must not start a second loader.
  if (w.tagwire && w.tagwire.loaded) return;
  var me = d.currentScript;
  var nonce = (me && me.nonce) || '';
  var base = me && me.src ? new URL(me.src, location.href).origin : location.origin;
  var endpoint = base + '/collect?' + C.q;
  var SIGNALS = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];
  var CLICKS = ['fbclid', 'ttclid', 'gclid', 'gbraid', 'wbraid', 'li_fat_id', 'msclkid'];
  var DATA = ['value', 'currency', 'transaction_id', 'content_ids', 'contents', 'content_name',
    'content_type', 'content_category', 'num_items', 'search_string', 'status', 'lead_id'];
  var gpc = navigator.globalPrivacyControl === true;
  // null until a source has spoken; then {signals..., source, tcf?, gdpr_applies?}
  var consent = null;
  var waited = false;
  var waiting = [];
  var outbox = [];
  var timer = 0;
  var chain = Promise.resolve();
  var fired = {};
  var user = {};
  var raw = {};
  var clicks = {};
  var own = false;
  var loaded = {};
  var policy = null;

  function warn(text) {
    if (w.console) w.console.warn('tagwire: ' + text);
  }

  // ---- storage: only touched once consent allows it ------------------------------------

  function mayStore() {
    return !!consent && (consent.analytics_storage === 'granted' ||
      consent.ad_storage === 'granted');
  }

  // Session storage only: it ends with the tab, and Safari would cap anything longer.
  function stored(key) {
    try {
      return JSON.parse(w.sessionStorage.getItem(key) || '{}') || {};
    } catch (e) {
      return {};
    }
  }

  function store(key, value) {
    try {
      if (value) {
        if (mayStore()) w.sessionStorage.setItem(key, JSON.stringify(value));
      } else w.sessionStorage.removeItem(key);
    } catch (e) {
      // storage disabled or full: this page keeps the value in memory
    }
  }

  // ---- consent ------------------------------------------------------------------------

  function allows(state) {
    if (!state) return C.policy === 'basic' && waited;
    return SIGNALS.some(function (s) { return state[s] === 'granted'; });
  }

  // A Consent Mode default is the page's starting point, not the visitor's decision:
  // hits made before the decision wait for it instead of being dropped.
  // Withdrawing consent returns a promise: whether the node deleted its cookies.
  function setConsent(values, source, extra, tentative) {
    var before = allows(consent);
    var next = { source: source };
    SIGNALS.forEach(function (s) {
      var v = values[s];
      if (v !== undefined && v !== 'granted' && v !== 'denied') {
        warn('consent.' + s + " must be 'granted' or 'denied'");
        v = undefined;
      }
      next[s] = v || (consent && consent[s]) || 'denied';
    });
    if (gpc) {
      next.gpc = true;
      next.ad_storage = next.ad_user_data = next.ad_personalization = 'denied';
    }
    var keep = extra || (consent && consent.tcf ? consent : {});
    if (keep.tcf) next.tcf = keep.tcf;
    if (typeof keep.gdpr_applies === 'boolean') next.gdpr_applies = keep.gdpr_applies;
    if (tentative) next.tentative = true;
    consent = next;
    if (T.sync) T.sync(); // the vendor libraries hear the new state too
    if (allows(consent)) {
      var clk = stored('tw_click');
      CLICKS.forEach(function (k) { if (!clicks[k] && clk[k]) clicks[k] = clk[k]; });
      store('tw_click', clicks);
      var u = stored('tw_user');
      Object.keys(u).forEach(function (k) { if (!user[k]) user[k] = u[k]; });
      setUser({});
      waiting.splice(0).forEach(queue);
    } else if (!tentative) {
      waiting.splice(0).forEach(function (h) { if (h.done) h.done(false); });
      if (before) {
        outbox = [];
        user = {};
        raw = {};
        ['tw_click', 'tw_user', 'tw_fired'].forEach(function (k) { store(k); });
        // tw_id is HttpOnly: only the node can delete it, and the cookies tags set.
        return fetch(base + '/forget?' + C.q, { method: 'POST', mode: 'no-cors',
          credentials: 'include', keepalive: true }).then(function () { return true; },
          function () { return false; });
      }
    }
  }

  function tcfWatch() {
    if (typeof w.__tcfapi !== 'function' || tcfWatch.on) return;
    tcfWatch.on = 1;
    w.__tcfapi('addEventListener', 2, function (tc, ok) {
      if (!ok || !tc || (tc.eventStatus !== 'tcloaded' &&
        tc.eventStatus !== 'useractioncomplete')) return;
      if (tc.gdprApplies === false) {
        if (consent) consent.gdpr_applies = false;
        return;
      }
      var p = (tc.purpose && tc.purpose.consents) || {};
      var g = function (x) { return x ? 'granted' : 'denied'; };
      setConsent({
        ad_storage: g(p[1]),
        analytics_storage: g(p[1] && p[9]),
        ad_user_data: g(p[1] && p[7]),
        ad_personalization: g(p[3] && p[4])
      }, 'tcf', { tcf: tc.tcString, gdpr_applies: true });
    });
  }

  // Google Consent Mode: gtag('consent', 'default'|'update', {...}) lands in dataLayer.
  var seen = 0;
  function gcmScan() {
    var dl = w.dataLayer;
    if (own || !dl || !dl.length) return;
    for (; seen < dl.length; seen++) {
      var e = dl[seen];
      if (e && e[0] === 'consent' && (e[1] === 'default' || e[1] === 'update') &&
        e[2] && typeof e[2] === 'object' && !e.tw) {
        setConsent(e[2], 'gcm', null, e[1] === 'default');
      }
    }
  }

  function gcmWatch() {
    var dl = w.dataLayer = w.dataLayer || [];
    gcmScan();
    if (dl.push.tw) return;
    var push = dl.push;
    dl.push = function () {
      var r = push.apply(dl, arguments);
      gcmScan();
      return r;
    };
    dl.push.tw = 1;
  }

  // ---- hits ---------------------------------------------------------------------------

  function uuid() {
    if (w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = w.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); })
      .join('').replace(/(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  }

  // An email typed into a URL or title is never sent, whatever the page does.
  function scrub(text) {
    return String(text || '').replace(/[^\s"&'/:<=>?#]+(@|%40)[^\s"&'/<=>?#%]+\.[a-z]{2,}/gi,
      'redacted');
  }

  function page() {
    var p = { url: scrub(location.href), referrer: scrub(d.referrer) };
    if (d.title) p.title = scrub(d.title).slice(0, 512);
    if (navigator.language) p.locale = navigator.language;
    return p;
  }

  function track(name, data, opts) {
    opts = opts || {};
    if (typeof name !== 'string' || !/^[a-z0-9_]{1,40}$/.test(name)) {
      return warn('event name must match [a-z0-9_]{1,40}: ' + name);
    }
    data = data && typeof data === 'object' ? data : {};
    var once = opts.once || (data.transaction_id && name + ':t:' + data.transaction_id) ||
      (data.lead_id && name + ':l:' + data.lead_id);
    var hit = { v: 1, event: name, event_id: opts.event_id || uuid(), ts: Date.now(),
      page: page() };
    Object.keys(data).forEach(function (k) {
      var part = DATA.indexOf(k) >= 0 ? 'data' : 'custom';
      (hit[part] = hit[part] || {})[k] = data[k];
    });
    hit.raw = opts.user;
    hit.once = once;
    hit.done = typeof opts.callback === 'function' ? opts.callback : null;
    if (allows(consent)) queue(hit);
    else if (!consent || consent.tentative) waiting.push(hit);
    else if (hit.done) hit.done(false);
    if (waiting.length > 50) waiting.shift();
  }

  // Plaintext user data stays in memory until consent; then the second file hashes it.
  function hashed(fields) {
    if (!fields || typeof fields !== 'object' || !Object.keys(fields).length) {
      return Promise.resolve({});
    }
    return more().then(function () {
      return T.hash(fields);
    }).catch(function (e) {
      warn('user data dropped: ' + e);
      return {};
    });
  }

  function setUser(fields, done) {
    Object.keys(fields || {}).forEach(function (k) { raw[k] = fields[k]; });
    if (!allows(consent)) return done && done(false);
    chain = chain.then(function () {
      return hashed(raw);
    }).then(function (u) {
      Object.keys(u).forEach(function (k) { user[k] = u[k]; });
      store('tw_user', user);
      if (done) done(true);
    });
  }

  function queue(hit) {
    var f = stored('tw_fired');
    var now = Date.now();
    if (hit.once && (fired[hit.once] || f[hit.once] > now)) {
      if (hit.done) hit.done(false);
      return;
    }
    if (hit.once) {
      fired[hit.once] = 1;
      Object.keys(f).forEach(function (k) { if (!(f[k] > now)) delete f[k]; });
      f[hit.once] = now + 7 * 864e5;
      store('tw_fired', f);
    }
    chain = chain.then(function () {
      return hashed(hit.raw);
    }).then(function (u) {
      hit.user = u;
      outbox.push(hit);
      clearTimeout(timer);
      timer = setTimeout(flush, 20);
    });
  }

  function wire(hit) {
    var c = {};
    var u = {};
    SIGNALS.concat('tcf', 'gdpr_applies', 'source').forEach(function (k) {
      if (consent && consent[k] !== undefined) c[k] = consent[k];
    });
    if (gpc) c.gpc = true;
    var out = { v: 1, event: hit.event, event_id: hit.event_id, ts: hit.ts, page: hit.page };
    if (Object.keys(c).length) out.consent = c;
    Object.keys(user).concat(Object.keys(hit.user)).forEach(function (k) {
      u[k] = hit.user[k] || user[k];
    });
    if (Object.keys(u).length) out.user = u;
    if (Object.keys(clicks).length) out.click = clicks;
    if (hit.data) out.data = hit.data;
    if (hit.custom) out.custom = hit.custom;
    return out;
  }

  function flush(unloading) {
    clearTimeout(timer);
    if (!outbox.length || !allows(consent)) return;
    var batch = outbox.splice(0, 50);
    var body = JSON.stringify(batch.map(wire));
    var done = function (ok) {
      batch.forEach(function (h) { if (h.done) h.done(ok); });
    };
    if (unloading === true && navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) {
      done(true);
    } else {
      fetch(endpoint, { method: 'POST', body: body, credentials: 'include',
        keepalive: body.length < 60000, headers: { 'content-type': 'text/plain' } })
        .then(function (r) {
          if (r.status === 204) return null;
          return r.json().then(function (a) {
            if (r.status >= 300) warn('/collect answered ' + r.status + ' ' + JSON.stringify(a.errors));
            return a;
          });
        })
        .then(function (a) {
          done(true);
          if (a && a.pixels) a.pixels.forEach(pixel);
        })
        .catch(function (e) {
          done(false);
          warn('/collect not reached: ' + e);
        });
    }
    if (outbox.length) flush(unloading);
  }

  // ---- vendor libraries ---------------------------------------------------------------

  if (w.trustedTypes && w.trustedTypes.createPolicy) {
    try {
      policy = w.trustedTypes.createPolicy('tagwire', {
        createScriptURL: function (u) {
          var ok = u === base + C.module || Object.keys(C.scripts).some(function (k) {
            var s = C.scripts[k];
            return u === s || u.indexOf(s + '?') === 0;
          });
          if (!ok) throw new TypeError('tagwire: script not allowed: ' + u);
          return u;
        }
      });
    } catch (e) {
      warn('Trusted Types policy "tagwire" not allowed by this page\'s CSP');
    }
  }

  function load(src, fail) {
    if (loaded[src]) return;
    loaded[src] = 1;
    var s = d.createElement('script');
    s.async = true;
    s.nonce = nonce;
    try {
      s.src = policy ? policy.createScriptURL(src) : src;
    } catch (e) {
      warn('cannot load ' + src + ': ' + e.message);
      return fail && fail(e);
    }
    s.onload = gcmWatch;
    s.onerror = function () { if (fail) fail(new Error('cannot load ' + src)); };
    (d.head || d.documentElement).appendChild(s);
  }

  // Hashing, vendor stubs and pixel commands live in a second file, fetched after consent
  // when a hit carries user data or a tag returns a browser command: a visitor who never
  // consents never downloads it.
  var px = [];
  var T = {
    C: C,
    load: load,
    consent: function () { return consent; },
    allows: function () { return allows(consent); },
    own: function (on) { own = on; },
    take: function () { return px.splice(0); }
  };

  var ready = null;
  function more() {
    return ready || (ready = new Promise(function (ok, fail) {
      T.ready = ok;
      load(base + C.module, fail);
    }));
  }

  function pixel(p) {
    if (!allows(consent)) return;
    if (T.pixel) return T.pixel(p);
    px.push(p);
    more();
  }

  // ---- the public API -----------------------------------------------------------------

  function api(cmd, a, b, c) {
    if (cmd === 'event') track(a, b, c);
    else if (cmd === 'consent') {
      if (a === 'revoke') {
        a = {};
        SIGNALS.forEach(function (s) { a[s] = 'denied'; });
      }
      if (a && typeof a === 'object') {
        Promise.resolve(setConsent(a, 'api') || true).then(b && b.callback);
      } else warn("consent needs an object such as {analytics_storage: 'granted'}");
    } else if (cmd === 'user') {
      if (a && typeof a === 'object') setUser(a, b && typeof b.callback === 'function' && b.callback);
      else warn('user needs an object such as {email: ...}');
    } else if (cmd === 'config') {
      if (a && typeof a.endpoint === 'string') endpoint = a.endpoint;
      if (a && a.page_view === false) C.page_view = false;
    } else warn('unknown command ' + cmd);
  }

  var early = (w.tagwire && w.tagwire.q) || [];
  w.tagwire = function () { api.apply(null, arguments); };
  w.tagwire.loaded = true;
  w.tagwire._ = T;
  var params = new URLSearchParams(location.search);
  CLICKS.forEach(function (k) {
    var v = (params.get(k) || '').trim();
    if (/^[\x21-\x7e]{1,512}$/.test(v)) clicks[k] = v;
  });
  early.forEach(function (args) { if (args[0] === 'config') api.apply(null, args); });
  gcmWatch();
  tcfWatch();
  if (C.page_view !== false) track('page_view');
  early.forEach(function (args) { if (args[0] !== 'config') api.apply(null, args); });
  if (C.policy === 'basic') {
    setTimeout(function () {
      waited = true;
      if (!consent) waiting.splice(0).forEach(queue);
    }, C.wait);
  }
  w.addEventListener('load', tcfWatch);
  w.addEventListener('pagehide', function () { flush(true); });
  d.addEventListener('visibilitychange', function () {
    if (d.visibilityState === 'hidden') flush(true);
  });
})(window, document, TAGWIRE_CONFIG);
