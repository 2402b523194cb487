/* tagwire fake platforms: a test stand-in for Meta's fbevents.js, not the real library.
 *
 * Drains the queue of the official fbq stub, then takes commands through fbq.callMethod.
 * Each event is POSTed as JSON to <base>/meta/tr, where <base> is this script's URL minus
 * /meta/fbevents.js. No cookies, no storage, no other scripts, no DOM sinks. */
(function () {
  'use strict';

  var LIBRARY = '/meta/fbevents.js';
  var VERSION = 'fake-2.0';
  var script = document.currentScript;
  var base = baseOf(script && script.src ? script.src : location.href);

  function baseOf(src) {
    var url = new URL(src, location.href);
    var at = url.pathname.lastIndexOf(LIBRARY);
    return url.origin + (at >= 0 ? url.pathname.slice(0, at) : '');
  }

  function warn(message) {
    console.warn('[fake fbevents] ' + message);
  }

  function send(body) {
    fetch(base + '/meta/tr', {
      method: 'POST',
      keepalive: true,
      credentials: 'omit',
      body: JSON.stringify(body)
    }).catch(function () {});
  }

  var fbq = window.fbq;
  if (typeof fbq !== 'function') {
    fbq = window.fbq = function () {
      fbq.callMethod ? fbq.callMethod.apply(fbq, arguments) : fbq.queue.push(arguments);
    };
    fbq.push = fbq;
    fbq.loaded = true;
    fbq.version = '2.0';
    fbq.queue = [];
  }
  if (!window._fbq) window._fbq = fbq;
  if (fbq.callMethod) return; // loaded before: that copy takes the commands

  var pixels = []; // init order
  var userData = {}; // pixel id -> hashed advanced-matching fields
  var processing = null;
  var revoked = false;
  var counter = 0;
  var initMs = Date.now();

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  function fire(id, name, params, options) {
    if (revoked) return;
    if (typeof name !== 'string' || !name) {
      warn('an event needs a name');
      return;
    }
    var body = {
      id: id, ev: name, dl: location.href, rl: document.referrer, ts: Date.now(), it: initMs,
      v: VERSION, r: 'stable', ec: counter++
    };
    if (isObject(options) && options.eventID !== undefined && options.eventID !== null) {
      body.eid = String(options.eventID);
    }
    if (isObject(params)) body.cd = params;
    if (userData[id]) body.ud = userData[id];
    if (processing) {
      body.dpo = processing.options;
      body.dpoco = processing.country;
      body.dpost = processing.state;
    }
    send(body);
  }

  function known(id) {
    if (pixels.indexOf(id) >= 0) return true;
    warn('pixel ' + id + ' was not initialised; call fbq("init", id) first');
    return false;
  }

  var methods = {
    init: function (id, data) {
      id = String(id);
      if (pixels.indexOf(id) >= 0) return;
      pixels.push(id);
      if (isObject(data)) userData[id] = data;
    },
    set: function () {}, // autoConfig, agent, ...: nothing to configure in a stand-in
    dataProcessingOptions: function (options, country, state) {
      processing = Array.isArray(options) && options.length
        ? {options: options, country: country || 0, state: state || 0}
        : null;
    },
    consent: function (action) {
      if (action === 'revoke') revoked = true;
      else if (action === 'grant') revoked = false;
      else warn('consent takes "grant" or "revoke"');
    },
    track: function (name, params, options) {
      pixels.forEach(function (id) { fire(id, name, params, options); });
    },
    trackCustom: function (name, params, options) {
      pixels.forEach(function (id) { fire(id, name, params, options); });
    },
    trackSingle: function (id, name, params, options) {
      if (known(String(id))) fire(String(id), name, params, options);
    },
    trackSingleCustom: function (id, name, params, options) {
      if (known(String(id))) fire(String(id), name, params, options);
    }
  };

  fbq.callMethod = function () {
    var args = Array.prototype.slice.call(arguments);
    var command = args[0];
    if (typeof command !== 'string' || !Object.prototype.hasOwnProperty.call(methods, command)) {
      warn('unknown command ' + String(command));
      return;
    }
    methods[command].apply(null, args.slice(1));
  };

  var queued = fbq.queue || [];
  fbq.queue = [];
  for (var i = 0; i < queued.length; i++) fbq.callMethod.apply(fbq, queued[i]);
})();
