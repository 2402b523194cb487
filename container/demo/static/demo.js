// tagwire demo site: consent banner, page_view and lead hits.
//
// Rules this file keeps (the browser tests check them):
// - Before the visitor accepts, nothing is sent to /collect and nothing is written to
//   cookies, localStorage or sessionStorage.
// - Contact details are hashed (SHA-256, lowercase hex) in the browser; plaintext never
//   leaves the page. The lead form is never submitted natively.
// - The DOM is built with createElement/textContent only (the page enforces Trusted Types
//   and a nonce-based CSP: no innerHTML, no inline styles, no inline handlers).
(function () {
  'use strict';

  var CONSENT_KEY = 'tw_demo_consent';
  var CLICK_KEY = 'tw_demo_click';
  var CLICK_PARAMS = ['fbclid', 'gclid', 'ttclid', 'li_fat_id'];
  var COLLECT_URL = '/collect?id=demo';
  var THANKS_URL = '/demo/thanks';

  // ---- storage (every access guarded: storage may be disabled) -------------------------

  function hasConsent() {
    try {
      return window.localStorage.getItem(CONSENT_KEY) === 'granted';
    } catch (e) {
      return false;
    }
  }

  function storeConsent() {
    try {
      window.localStorage.setItem(CONSENT_KEY, 'granted');
    } catch (e) {
      // Consent then lasts for this page view only.
    }
  }

  function forgetConsent() {
    try {
      window.localStorage.removeItem(CONSENT_KEY);
      window.sessionStorage.removeItem(CLICK_KEY);
    } catch (e) {
      // nothing stored, nothing to forget
    }
  }

  // ---- click ids ------------------------------------------------------------------------

  function clickIdsFromUrl() {
    var out = {};
    var params = new URLSearchParams(window.location.search);
    CLICK_PARAMS.forEach(function (name) {
      var value = (params.get(name) || '').trim();
      if (value) out[name] = value.slice(0, 500);
    });
    return out;
  }

  function storedClickIds() {
    try {
      var parsed = JSON.parse(window.sessionStorage.getItem(CLICK_KEY) || '{}');
      var out = {};
      CLICK_PARAMS.forEach(function (name) {
        if (parsed && typeof parsed[name] === 'string' && parsed[name]) out[name] = parsed[name];
      });
      return out;
    } catch (e) {
      return {};
    }
  }

  // Click ids seen on the landing URL are kept for the session so the lead hit carries
  // them too. Only ever called once consent is granted.
  function rememberClickIds() {
    var fromUrl = clickIdsFromUrl();
    if (Object.keys(fromUrl).length === 0) return;
    try {
      var merged = Object.assign(storedClickIds(), fromUrl);
      window.sessionStorage.setItem(CLICK_KEY, JSON.stringify(merged));
    } catch (e) {
      // session storage unavailable: the current page still sends its own click ids
    }
  }

  function currentClickIds() {
    return Object.assign(storedClickIds(), clickIdsFromUrl());
  }

  // ---- ids and hashing ------------------------------------------------------------------

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20);
  }

  // Lowercase hex SHA-256, or null when WebCrypto is unavailable (insecure origin):
  // then the field is left out rather than ever sent in plain text.
  async function sha256Hex(text) {
    if (!text) return null;
    if (!(window.crypto && window.crypto.subtle)) return null;
    var digest = await window.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return Array.prototype.map.call(new Uint8Array(digest), function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join('');
  }

  function normalizeText(value) {
    return (value || '').trim().toLowerCase();
  }

  // Google's email rule: for gmail.com and googlemail.com only, dots and a "+tag" in the
  // local part do not count. Returns null when the Google form equals the common one.
  function googleEmail(email) {
    var at = email.lastIndexOf('@');
    var domain = email.slice(at + 1);
    if (at < 1 || (domain !== 'gmail.com' && domain !== 'googlemail.com')) return null;
    var local = email.slice(0, at).split('+')[0].split('.').join('');
    var google = local + '@' + domain;
    return google === email ? null : google;
  }

  // E.164 digits (country code included) of a number typed in international form
  // ("+49 30 1234567" or "0049 30 1234567"); a number without its country code gives null
  // rather than a guess. TikTok and Google hash it with "+", Meta as digits only.
  function phoneDigits(value) {
    var text = (value || '').trim();
    if (!/^(\+|00)/.test(text)) return null;
    var digits = text.replace(/\D+/g, '').replace(/^00/, '');
    return digits.length >= 8 && digits.length <= 15 ? digits : null;
  }

  // ---- hits -----------------------------------------------------------------------------

  function baseHit(eventName) {
    var hit = buildHit(eventName);
    // The schema refuses an empty locale: only send one the browser actually reports.
    if (navigator.language) hit.page.locale = navigator.language;
    return hit;
  }

  function buildHit(eventName) {
    var hit = {
      v: 1,
      event: eventName,
      event_id: uuid4(),
      ts: Date.now(),
      page: {
        url: window.location.href,
        referrer: document.referrer,
        title: document.title
      },
      consent: {
        ad_storage: 'granted',
        analytics_storage: 'granted',
        ad_user_data: 'granted',
        ad_personalization: 'granted',
        source: 'api'
      }
    };
    var click = currentClickIds();
    if (Object.keys(click).length > 0) hit.click = click;
    return hit;
  }

  async function sendHit(hit) {
    var response = await fetch(COLLECT_URL, {
      method: 'POST',
      body: JSON.stringify(hit),
      keepalive: true,
      headers: { 'Content-Type': 'text/plain' },
      credentials: 'same-origin'
    });
    if (response.status === 204) {
      showLastHit(hit.event + ' sent');
    } else {
      showLastHit(hit.event + ' not accepted (HTTP ' + response.status + ')');
      var detail = '';
      try {
        detail = JSON.stringify(await response.json());
      } catch (e) {
        detail = '';
      }
      console.warn('tagwire demo: /collect answered ' + response.status + ' ' + detail);
    }
    return response;
  }

  function sendPageView() {
    sendHit(baseHit('page_view')).catch(function (err) {
      console.warn('tagwire demo: page_view not sent: ' + err);
    });
  }

  // ---- small DOM helpers ----------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Footer line: consent state, last hit, and a way to withdraw consent.
  var footerState = null;
  var footerLastHit = null;

  function renderFooterState() {
    var footer = document.getElementById('site-footer-inner');
    if (!footer) return;
    if (!footerState) {
      footerState = el('p', { class: 'consent-state', id: 'consent-state' });
      footer.appendChild(footerState);
    }
    footerState.replaceChildren();
    if (hasConsent()) {
      footerLastHit = el('span', { class: 'last-hit', id: 'last-hit', role: 'status' });
      var withdraw = el('button', {
        type: 'button', class: 'link-button', id: 'consent-withdraw', text: 'Withdraw consent'
      });
      withdraw.addEventListener('click', function () {
        forgetConsent();
        renderFooterState();
        showBanner();
      });
      footerState.append('Consent: granted. ', footerLastHit, ' ', withdraw);
    } else {
      footerLastHit = null;
      footerState.append('Consent: not given. Nothing is sent or stored.');
    }
  }

  function showLastHit(text) {
    if (footerLastHit) footerLastHit.textContent = 'Last hit: ' + text + '.';
  }

  // ---- consent banner -------------------------------------------------------------------

  var banner = null;

  function showBanner() {
    if (banner) {
      banner.hidden = false;
      return;
    }
    var accept = el('button', {
      type: 'button', class: 'btn', id: 'consent-accept', text: 'Accept'
    });
    var decline = el('button', {
      type: 'button', class: 'btn btn-secondary', id: 'consent-decline', text: 'Decline'
    });
    banner = el('section', {
      id: 'consent-banner', class: 'consent-banner', 'aria-labelledby': 'consent-title'
    }, [
      el('div', { class: 'consent-inner' }, [
        el('div', { class: 'consent-text' }, [
          el('h2', { id: 'consent-title', text: 'Your privacy choices' }),
          el('p', {
            text: 'With your consent, this demo site sends page views and quote requests ' +
              '(contact details SHA-256 hashed in your browser) to its own tagwire ' +
              'container, which forwards them to advertising and analytics tags. ' +
              'Until you accept, nothing is sent and nothing is stored.'
          })
        ]),
        el('div', { class: 'consent-actions' }, [decline, accept])
      ])
    ]);
    accept.addEventListener('click', function () {
      storeConsent();
      rememberClickIds();
      banner.hidden = true;
      renderFooterState();
      sendPageView();
    });
    decline.addEventListener('click', function () {
      // For this page view only: nothing is stored, so the banner returns next page.
      banner.hidden = true;
    });
    document.body.insertBefore(banner, document.body.firstChild);
  }

  // ---- lead form ------------------------------------------------------------------------

  function wireLeadForm() {
    var form = document.getElementById('lead-form');
    if (!form) return;
    var submitting = false;
    var status = document.getElementById('form-status');
    var button = form.querySelector('button[type="submit"]');

    form.addEventListener('submit', async function (event) {
      // Never a native submit: the inputs carry no names, and the hit holds hashes only.
      event.preventDefault();
      if (submitting) return;
      if (!hasConsent()) {
        window.location.assign(THANKS_URL);
        return;
      }
      submitting = true;
      if (button) button.disabled = true;
      if (status) status.textContent = 'Sending your request…';
      try {
        var user = {};
        var email = normalizeText(document.getElementById('email').value);
        var digits = phoneDigits((document.getElementById('phone') || {}).value);
        var hashes = await Promise.all([
          sha256Hex(email),
          sha256Hex(googleEmail(email)),
          sha256Hex(normalizeText(document.getElementById('first_name').value)),
          sha256Hex(digits && '+' + digits),
          sha256Hex(digits)
        ]);
        ['em', 'em_g', 'fn', 'ph', 'ph_d'].forEach(function (key, i) {
          if (hashes[i]) user[key] = hashes[i];
        });
        var hit = baseHit('lead');
        if (Object.keys(user).length > 0) hit.user = user;
        hit.data = { value: 50, currency: 'EUR', lead_id: uuid4() };
        await sendHit(hit);
      } catch (err) {
        console.warn('tagwire demo: lead not sent: ' + err);
      }
      window.location.assign(THANKS_URL);
    });
  }

  // ---- start ----------------------------------------------------------------------------

  function start() {
    wireLeadForm();
    renderFooterState();
    if (hasConsent()) {
      rememberClickIds();
      sendPageView();
    } else {
      showBanner();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
