/* tagwire fake platforms: a test stand-in for Google's gtag.js, not the real library.
 *
 * Reads ?id= from its own src, runs the gtag() commands already in dataLayer (Arguments
 * objects; other entries are GTM events and are skipped), then wraps dataLayer.push for
 * later ones. Consent Mode is honoured: without ad_storage no Google Ads conversion is sent,
 * without analytics_storage no GA4 event, without ad_user_data no user_data. Conversions
 * (send_to AW-<id>/<label>) are POSTed as JSON to <base>/gtag/pagead/conversion, GA4 events
 * (G-<id>) to <base>/gtag/g/collect, where <base> is this script's URL minus /gtag/js.
 * No cookies, no storage, no other scripts, no DOM sinks. */
(function () {
  'use strict';

  var LIBRARY = '/gtag/js';
  var CONSENT_KEYS = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];
  var NOT_PARAMS = ['send_to', 'event_callback', 'event_timeout'];
  var script = document.currentScript;
  var src = new URL(script && script.src ? script.src : location.href, location.href);
  var at = src.pathname.lastIndexOf(LIBRARY);
  var base = src.origin + (at >= 0 ? src.pathname.slice(0, at) : '');

  function warn(message) {
    console.warn('[fake gtag] ' + message);
  }

  var dataLayer = window.dataLayer = window.dataLayer || [];
  if (dataLayer._fake) return; // loaded before: that copy runs every command
  if (!/^(AW-[0-9]+|G-[A-Z0-9]+)$/.test(src.searchParams.get('id') || '')) {
    warn('the script URL needs ?id=AW-... or ?id=G-...');
  }

  var consent = {}; // no Consent Mode command: everything granted, as gtag.js does
  CONSENT_KEYS.forEach(function (name) { consent[name] = 'granted'; });
  var configured = [];
  var userData = null;
  var clientId = String(crypto.getRandomValues(new Uint32Array(1))[0]) + '.' +
    String(Math.floor(Date.now() / 1000));

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  function granted(name) {
    return consent[name] === 'granted';
  }

  function gcs() {
    return 'G1' + (granted('ad_storage') ? '1' : '0') + (granted('analytics_storage') ? '1' : '0');
  }

  function send(path, body) {
    if (userData && granted('ad_user_data')) body.user_data = userData;
    fetch(base + path, {
      method: 'POST',
      keepalive: true,
      credentials: 'omit',
      body: JSON.stringify(body)
    }).catch(function () {});
  }

  function setConsent(kind, values) {
    if ((kind !== 'default' && kind !== 'update') || !isObject(values)) {
      warn('consent takes "default" or "update" and an object');
      return;
    }
    CONSENT_KEYS.forEach(function (name) {
      var value = values[name];
      if (value === 'granted' || value === 'denied') consent[name] = value;
      else if (value !== undefined) warn('consent ' + name + ' must be "granted" or "denied"');
    });
  }

  function config(id, params) {
    if (typeof id !== 'string' || !/^(AW-[0-9]+|G-[A-Z0-9]+)$/.test(id)) {
      warn('config needs an AW-... or G-... id');
      return;
    }
    if (configured.indexOf(id) < 0) configured.push(id);
    if (id.indexOf('G-') === 0 && !(isObject(params) && params.send_page_view === false)) {
      event('page_view', {send_to: id});
    }
  }

  function set(name, value) {
    var values = typeof name === 'string' ? {} : name;
    if (typeof name === 'string') values[name] = value;
    if (isObject(values) && 'user_data' in values) {
      userData = isObject(values.user_data) ? values.user_data : null;
    }
  }

  function targets(sendTo) {
    if (sendTo === undefined) return configured.slice();
    var list = Array.isArray(sendTo) ? sendTo : String(sendTo).split(',');
    return list.map(function (item) { return String(item).trim(); }).filter(Boolean);
  }

  function conversion(sendTo, name, params) {
    if (!granted('ad_storage')) return;
    var body = {
      en: name, send_to: sendTo, gcs: gcs(), npa: granted('ad_personalization') ? 0 : 1,
      url: location.href, ref: document.referrer, ts: Date.now()
    };
    if (params.transaction_id !== undefined && params.transaction_id !== null) {
      body.transaction_id = String(params.transaction_id);
    }
    if (params.value !== undefined) {
      var number = typeof params.value === 'string' ? Number(params.value) : params.value;
      body.value = typeof number === 'number' && isFinite(number) ? number : params.value;
    }
    if (params.currency !== undefined) body.currency = params.currency;
    send('/gtag/pagead/conversion', body);
  }

  function analytics(id, name, params) {
    if (!granted('analytics_storage')) return;
    var ep = {};
    Object.keys(params).forEach(function (key) {
      if (NOT_PARAMS.indexOf(key) < 0) ep[key] = params[key];
    });
    send('/gtag/g/collect', {
      v: 2, tid: id, en: name, cid: clientId, ep: ep, gcs: gcs(), dl: location.href,
      dr: document.referrer, ts: Date.now()
    });
  }

  function event(name, params) {
    if (typeof name !== 'string' || !name) {
      warn('event needs a name');
      return;
    }
    params = isObject(params) ? params : {};
    targets(params.send_to).forEach(function (target) {
      var ads = /^(AW-[0-9]+)\/(.+)$/.exec(target);
      var id = ads ? ads[1] : target;
      if (configured.indexOf(id) < 0) {
        warn(id + ' is not configured: call gtag("config", "' + id + '") first');
      } else if (ads) {
        conversion(target, name, params);
      } else if (id.indexOf('G-') === 0) {
        analytics(id, name, params);
      } // AW-<id> without a label is a remarketing hit, which this stand-in does not send
    });
    if (typeof params.event_callback === 'function') Promise.resolve().then(params.event_callback);
  }

  function handle(entry) {
    if (Object.prototype.toString.call(entry) !== '[object Arguments]') return;
    var args = Array.prototype.slice.call(entry);
    switch (args[0]) {
      case 'js':
        return;
      case 'consent':
        setConsent(args[1], args[2]);
        return;
      case 'config':
        config(args[1], args[2]);
        return;
      case 'set':
        set(args[1], args[2]);
        return;
      case 'event':
        event(args[1], args[2]);
        return;
      default:
        warn('unknown command ' + String(args[0]));
    }
  }

  var existing = dataLayer.slice();
  var push = dataLayer.push;
  dataLayer.push = function () {
    var result = push.apply(dataLayer, arguments);
    Array.prototype.forEach.call(arguments, handle);
    return result;
  };
  // Markers another wrapper left on push (tagwire's loader checks one) stay visible.
  Object.keys(push).forEach(function (key) { dataLayer.push[key] = push[key]; });
  dataLayer._fake = true;
  existing.forEach(handle);
})();
