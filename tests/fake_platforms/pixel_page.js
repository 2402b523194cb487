/* The test page's one script: the vendors' global stubs exactly as the loader builds them
 * (docs/fake-platforms.md), one command per vendor queued before its library loads, then
 * each library inserted with this script's nonce through the "tagwire" Trusted Types
 * policy. The server replaces __URLS__ with pixel_script_urls(<origin>/fake). */
(function () {
  'use strict';

  var URLS = __URLS__;
  var EVENT_ID = 'lead-0001';
  var META_PIXEL = '1234567890123456';
  var TIKTOK_CODE = 'CDEMO1234567890ABCDE';
  var nonce = document.currentScript.nonce;
  var policy = trustedTypes.createPolicy('tagwire', {
    createScriptURL: function (url) {
      if (new URL(url, location.href).origin !== location.origin) {
        throw new TypeError('not a first-party script: ' + url);
      }
      return url;
    }
  });

  function insert(url) {
    var script = document.createElement('script');
    script.async = true;
    script.nonce = nonce;
    script.src = policy.createScriptURL(url);
    document.head.appendChild(script);
  }

  // Meta
  var fbq = window.fbq = function () {
    fbq.callMethod ? fbq.callMethod.apply(fbq, arguments) : fbq.queue.push(arguments);
  };
  fbq.push = fbq;
  fbq.loaded = true;
  fbq.version = '2.0';
  fbq.queue = [];
  window._fbq = fbq;
  fbq.disablePushState = true;
  fbq('set', 'autoConfig', false, META_PIXEL);
  fbq('init', META_PIXEL);
  fbq('trackSingle', META_PIXEL, 'Lead', {value: 50, currency: 'EUR'}, {eventID: EVENT_ID});
  insert(URLS.meta_pixel_script_url);

  // TikTok
  var ttq = window.ttq = [];
  ttq.methods = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once',
    'ready', 'alias', 'group', 'enableCookie', 'disableCookie', 'holdConsent',
    'revokeConsent', 'grantConsent'];
  ttq.setAndDefer = function (target, method) {
    target[method] = function () {
      target.push([method].concat(Array.prototype.slice.call(arguments, 0)));
    };
  };
  ttq.methods.forEach(function (method) { ttq.setAndDefer(ttq, method); });
  ttq.instance = function (code) {
    var queue = ttq._i[code] || [];
    ttq.methods.forEach(function (method) { ttq.setAndDefer(queue, method); });
    return queue;
  };
  ttq._i = {};
  ttq._t = {};
  ttq._o = {};
  ttq.load = function (code) {
    ttq._i[code] = [];
    ttq._i[code]._u = URLS.tiktok_pixel_script_url;
    ttq._t[code] = Date.now();
    ttq._o[code] = {};
    insert(URLS.tiktok_pixel_script_url + '?sdkid=' + encodeURIComponent(code) + '&lib=ttq');
  };
  ttq.load(TIKTOK_CODE);
  ttq.track('SubmitForm', {value: 50, currency: 'EUR'}, {event_id: EVENT_ID});

  // LinkedIn
  window._linkedin_partner_id = '1234567';
  window._linkedin_data_partner_ids = ['1234567'];
  window.lintrk = function (a, b) { window.lintrk.q.push([a, b]); };
  window.lintrk.q = [];
  window.lintrk('track', {conversion_id: 23456789, event_id: EVENT_ID});
  insert(URLS.linkedin_pixel_script_url);

  // Google (Google Ads and GA4 through one gtag.js)
  window.dataLayer = window.dataLayer || [];
  window.gtag = function () { window.dataLayer.push(arguments); };
  window.gtag('consent', 'default', {
    ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted',
    ad_personalization: 'granted'
  });
  window.gtag('js', new Date());
  window.gtag('config', 'AW-123456789', {send_page_view: false});
  window.gtag('config', 'G-DEMO12345', {send_page_view: false});
  window.gtag('event', 'conversion', {
    send_to: 'AW-123456789/DemoLeadLabel', transaction_id: EVENT_ID, value: 50, currency: 'EUR'
  });
  window.gtag('event', 'generate_lead', {
    send_to: 'G-DEMO12345', event_id: EVENT_ID, value: 50, currency: 'EUR'
  });
  insert(URLS.gtag_script_url + '?id=AW-123456789');
})();
