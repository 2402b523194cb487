// tagwire demo site: what a site's own code does with the tagwire loader.
//
// The loader (/loader.js, loaded by the head snippet) sends nothing until it hears a
// consent signal. This file plays the site's consent banner, which tells the loader the
// visitor's choice through the JS API, and the site's lead form:
// - the form hands the typed contact details to tagwire('user', ...); the loader hashes
//   them in the browser and never sends plaintext;
// - the thank-you page reports the lead with its lead id, so reloading it does not count
//   the lead twice, and says whether it did;
// - withdrawing consent asks the loader to delete what tagwire stored, and the footer says
//   so only once the node has answered.
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

  function consent(value, callback) {
    var signals = {};
    ALL.forEach(function (name) { signals[name] = value; });
    tagwire('consent', signals, { callback: callback });
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

  // What the footer says: the consent state and what that means for this browser.
  function renderFooterState(text) {
    var footer = document.getElementById('site-footer-inner');
    if (!footer) return;
    if (!footerState) {
      footerState = el('p', { class: 'consent-state', id: 'consent-state' });
      footer.appendChild(footerState);
    }
    footerState.replaceChildren();
    if (text) {
      footerState.append(text);
    } else if (savedChoice()) {
      var withdraw = el('button', {
        type: 'button', class: 'link-button', id: 'consent-withdraw', text: 'Withdraw consent'
      });
      withdraw.addEventListener('click', withdrawConsent);
      footerState.append('Consent: granted. ', withdraw);
    } else {
      footerState.append('Consent: not given. Nothing is sent or stored.');
    }
  }

  // The loader stops sending at once and asks the node to delete its cookies (tw_id is
  // HttpOnly, so this page cannot); the footer waits for that answer.
  function withdrawConsent() {
    saveChoice(false);
    renderFooterState('Consent: withdrawn. Deleting the cookies tagwire set…');
    consent('denied', function (deleted) {
      renderFooterState(deleted
        ? 'Consent: withdrawn. Nothing is sent; the cookies and storage keys tagwire set ' +
          'are deleted.'
        : 'Consent: withdrawn. Nothing is sent, but the cookies tagwire set could not be ' +
          'deleted: the tagwire node was not reached.');
    });
    showBanner();
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
      renderThanks();
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

  // The thank-you page says the lead was reported only with consent: without it the loader
  // holds the lead until the visitor accepts, and drops it when they decline.
  var leadReported = false;

  function renderThanks() {
    var sent = document.getElementById('thanks-sent');
    var notSent = document.getElementById('thanks-not-sent');
    if (!sent || !notSent) return;
    leadReported = leadReported || savedChoice();
    sent.hidden = !leadReported;
    notSent.hidden = leadReported;
  }

  // ---- start ----------------------------------------------------------------------------

  function start() {
    wireLeadForm();
    reportLead();
    renderFooterState();
    renderThanks();
    if (savedChoice()) consent('granted');
    else showBanner();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
