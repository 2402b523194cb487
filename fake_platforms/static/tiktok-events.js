/* tagwire fake platforms: a test stand-in for TikTok's events.js, not the real library.
 *
 * Reads sdkid (the pixel code) and lib (the global's name, default ttq) from its own src.
 * The first copy to run drains the ttq array and each ttq._i[code] queue, then replaces the
 * stub methods; later copies only add their code. ttq.instance(code) talks to one pixel.
 * Each event is POSTed as JSON to <base>/tiktok/pixel, where <base> is this script's URL
 * minus /tiktok/events.js. No cookies, no storage, no other scripts, no DOM sinks. */
(function () {
  'use strict';

  var LIBRARY = '/tiktok/events.js';
  var METHODS = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once', 'ready',
    'alias', 'group', 'enableCookie', 'disableCookie', 'holdConsent', 'revokeConsent',
    'grantConsent'];
  var USER_KEYS = ['email', 'phone_number', 'external_id'];
  var script = document.currentScript;
  var src = new URL(script && script.src ? script.src : location.href, location.href);
  var at = src.pathname.lastIndexOf(LIBRARY);
  var base = src.origin + (at >= 0 ? src.pathname.slice(0, at) : '');
  var sdkid = src.searchParams.get('sdkid');
  var lib = src.searchParams.get('lib') || 'ttq';
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(lib)) lib = 'ttq';

  function warn(message) {
    console.warn('[fake ttq] ' + message);
  }

  var ttq = window[lib];
  if (ttq && ttq._fake) { // loaded before: that copy takes this pixel too
    ttq._fake.register(sdkid);
    return;
  }
  if (!Array.isArray(ttq)) ttq = window[lib] = [];
  if (!isObject(ttq._i)) ttq._i = {};

  var codes = [];
  var user = {};
  var consent = 'granted'; // or 'held' (until grant) or 'revoked'
  var held = [];

  function send(body) {
    fetch(base + '/tiktok/pixel', {
      method: 'POST',
      keepalive: true,
      credentials: 'omit',
      body: JSON.stringify(body)
    }).catch(function () {});
  }

  function messageId() {
    var bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return 'messageId-' + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join('');
  }

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  function fire(code, name, properties, options) {
    if (typeof name !== 'string' || !name) {
      warn('track needs an event name');
      return;
    }
    var context = {
      pixel: {code: code},
      page: {url: location.href, referrer: document.referrer},
      library: {name: 'pixel.js', version: 'fake'}
    };
    if (Object.keys(user).length) context.user = Object.assign({}, user);
    var body = {
      event: name, message_id: messageId(), timestamp: new Date().toISOString(),
      context: context, properties: isObject(properties) ? properties : {}
    };
    if (isObject(options) && options.event_id !== undefined && options.event_id !== null) {
      body.event_id = String(options.event_id);
    }
    if (consent === 'held') held.push(body);
    else if (consent === 'granted') send(body);
  }

  function run(method, args, targets) {
    switch (method) {
      case 'page':
        // the page view's properties: Limited Data Use, as tagwire passes it to ttq.page
        targets.forEach(function (code) { fire(code, 'Pageview', args[0], null); });
        return;
      case 'track':
        targets.forEach(function (code) { fire(code, args[0], args[1], args[2]); });
        return;
      case 'identify':
        if (!isObject(args[0])) {
          warn('identify takes an object');
          return;
        }
        USER_KEYS.forEach(function (name) {
          if (typeof args[0][name] === 'string' && args[0][name]) user[name] = args[0][name];
        });
        return;
      case 'holdConsent':
        if (consent === 'granted') consent = 'held';
        return;
      case 'grantConsent':
        consent = 'granted';
        held.splice(0).forEach(send);
        return;
      case 'revokeConsent':
        consent = 'revoked';
        held.length = 0;
        return;
      case 'ready':
        if (typeof args[0] === 'function') args[0]();
        return;
      default:
        if (METHODS.indexOf(method) < 0) warn('unknown method ' + String(method));
    }
  }

  function bind(target, targets) {
    METHODS.forEach(function (method) {
      target[method] = function () {
        run(method, Array.prototype.slice.call(arguments), targets());
        return target;
      };
    });
    return target;
  }

  function drain(queue, targets) {
    var entries = Array.prototype.splice.call(queue, 0, queue.length);
    entries.forEach(function (entry) {
      if (Array.isArray(entry)) run(entry[0], entry.slice(1), targets());
    });
  }

  function adopt(code) { // the pixel's own queue first, then live methods on it
    var queue = ttq._i[code];
    if (!Array.isArray(queue)) queue = ttq._i[code] = [];
    var only = function () { return [code]; };
    drain(queue, only);
    bind(queue, only);
  }

  function register(code) {
    if (typeof code !== 'string' || !code) {
      warn('no pixel code (sdkid) in the script URL');
      return;
    }
    if (codes.indexOf(code) >= 0) return;
    codes.push(code);
    adopt(code);
  }

  var all = function () { return codes.slice(); };
  if (!sdkid) warn('no pixel code (sdkid) in the script URL');
  Object.keys(ttq._i).concat(sdkid ? [sdkid] : []).forEach(function (code) {
    if (codes.indexOf(code) < 0) codes.push(code);
  });
  bind(ttq, all);
  ttq.instance = function (code) {
    if (codes.indexOf(code) < 0) {
      if (!Object.prototype.hasOwnProperty.call(ttq._i, code)) {
        warn('pixel ' + String(code) + ' was not loaded; call ttq.load(code) first');
        return bind({}, function () { return []; });
      }
      register(code);
    }
    return ttq._i[code];
  };
  ttq._fake = {register: register};
  // Global commands first (consent and identify apply to every pixel), then each pixel's.
  drain(ttq, all);
  codes.forEach(adopt);
})();
