// tagwire demo site: what a site's own code does with the tagwire loader.
//
// The loader (/loader.js, loaded by the head snippet) sends nothing until it hears a
// consent signal. This file plays the site's consent banner, which tells the loader the
// visitor's choice through the JS API, and the site's lead form:
// - the form hands the typed contact details to tagwire('user', ...); the loader hashes
//   them in the browser and never sends plaintext;
// - the thank-you page reports the lead with its lead id, so reloading it does not count
//   the lead twice.
// The DOM is built with createElement/textContent only (the page enforces Trusted Types
// and a nonce-based CSP: no innerHTML, no inline styles, no inline handlers).
(function () {
  'use strict';

  var CHOICE_KEY = 'demo_consent_choice';
  var THANKS_URL = '/demo/thanks';
  var ALL = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];

  function tagwire() {
    window.tagwire.apply(null, arguments);
  }

  // ---- the banner's own memory: written only when the visitor accepts -------------------

  function savedChoice() {
    try {
      return window.localStorage.getItem(CHOICE_KEY) === 'granted';
    } catch (e) {
      return false;
    }
  }

  function saveChoice(granted) {
    try {
      if (granted) window.localStorage.setItem(CHOICE_KEY, 'granted');
      else window.localStorage.removeItem(CHOICE_KEY);
    } catch (e) {
      // storage disabled: the choice lasts for this page view
    }
  }

  function consent(value) {
    var signals = {};
    ALL.forEach(function (name) { signals[name] = value; });
    tagwire('consent', signals);
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

  var footerState = null;

  function renderFooterState() {
    var footer = document.getElementById('site-footer-inner');
    if (!footer) return;
    if (!footerState) {
      footerState = el('p', { class: 'consent-state', id: 'consent-state' });
      footer.appendChild(footerState);
    }
    footerState.replaceChildren();
    if (savedChoice()) {
      var withdraw = el('button', {
        type: 'button', class: 'link-button', id: 'consent-withdraw', text: 'Withdraw consent'
      });
      withdraw.addEventListener('click', function () {
        saveChoice(false);
        consent('denied');
        renderFooterState();
        showBanner();
      });
      footerState.append('Consent: granted. ', withdraw);
    } else {
      footerState.append('Consent: not given. Nothing is sent or stored.');
    }
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
              'container, and its Meta, TikTok, LinkedIn and Google tags run. ' +
              'Until you accept, nothing is sent and nothing is stored.'
          })
        ]),
        el('div', { class: 'consent-actions' }, [decline, accept])
      ])
    ]);
    accept.addEventListener('click', function () {
      saveChoice(true);
      banner.hidden = true;
      consent('granted');
      renderFooterState();
    });
    decline.addEventListener('click', function () {
      banner.hidden = true;
      consent('denied');
    });
    document.body.insertBefore(banner, document.body.firstChild);
  }

  // ---- lead form and confirmation -----------------------------------------------------

  function newLeadId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return 'lead-' + Array.prototype.map.call(bytes, function (x) {
      return (x + 256).toString(16).slice(1);
    }).join('');
  }

  function value(id) {
    var input = document.getElementById(id);
    return input ? input.value : '';
  }

  function wireLeadForm() {
    var form = document.getElementById('lead-form');
    if (!form) return;
    var status = document.getElementById('form-status');
    var button = form.querySelector('button[type="submit"]');
    form.addEventListener('submit', function (event) {
      // Never a native submit: the inputs carry no names, and only hashes leave the page.
      event.preventDefault();
      if (button) button.disabled = true;
      if (status) status.textContent = 'Sending your request…';
      var next = THANKS_URL + '?lead_id=' + newLeadId();
      var gone = false;
      var go = function () {
        if (!gone) window.location.assign(next);
        gone = true;
      };
      tagwire('user', {
        email: value('email'), phone: value('phone'), first_name: value('first_name')
      }, { callback: go });
      setTimeout(go, 1500);
    });
  }

  function reportLead() {
    if (window.location.pathname !== THANKS_URL) return;
    var leadId = new URLSearchParams(window.location.search).get('lead_id');
    if (leadId) tagwire('event', 'lead', { value: 50, currency: 'EUR', lead_id: leadId });
  }

  // ---- start ----------------------------------------------------------------------------

  function start() {
    wireLeadForm();
    reportLead();
    renderFooterState();
    if (savedChoice()) consent('granted');
    else showBanner();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
