// tagwire demo: live table of the events the demo receiver got from the webhook tag.
// Polls /demo/receiver/events every second; the DOM is built with createElement and
// textContent only (Trusted Types are enforced on this page).
(function () {
  'use strict';

  var SOURCE_URL = '/demo/receiver/events';
  var INTERVAL_MS = 1000;
  var COLUMNS = 6;

  var table = document.getElementById('events');
  var tbody = table ? table.tBodies[0] : null;
  var statusLine = document.getElementById('events-status');
  var lastSignature = null;
  var lastFailed = false;

  if (!tbody) return;

  function cell(content, className, title) {
    var td = document.createElement('td');
    if (className) td.className = className;
    if (title) td.title = title;
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content;
    return td;
  }

  function code(text) {
    var c = document.createElement('code');
    c.textContent = text;
    return c;
  }

  function str(value) {
    return value === null || value === undefined ? '' : String(value);
  }

  function formatTime(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return null;
    var d = new Date(ms);
    var t = document.createElement('time');
    t.dateTime = d.toISOString();
    var pad = function (n, w) { return String(n).padStart(w || 2, '0'); };
    t.textContent = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) +
      '.' + pad(d.getMilliseconds(), 3);
    t.title = d.toString();
    return t;
  }

  function formatValue(data) {
    if (!data || data.value === undefined || data.value === null || data.value === '') return '—';
    var value = Number(data.value);
    var currency = str(data.currency);
    if (isFinite(value) && currency) {
      try {
        return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency })
          .format(value);
      } catch (e) {
        // unknown currency code: fall through to the plain form
      }
    }
    return (str(data.value) + ' ' + currency).trim();
  }

  function badge(name) {
    var span = document.createElement('span');
    span.className = 'event-badge event-' + name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    span.textContent = name || '?';
    return span;
  }

  function row(ev) {
    var tr = document.createElement('tr');
    var eventId = str(ev.event_id);
    tr.setAttribute('data-event-id', eventId);
    var data = ev.data && typeof ev.data === 'object' ? ev.data : {};
    var user = ev.user && typeof ev.user === 'object' ? ev.user : {};
    var em = str(user.em);
    var when = formatTime(ev.event_time_ms) || formatTime(ev.received_at_ms) || '—';

    tr.appendChild(cell(badge(str(ev.event))));
    tr.appendChild(cell(code(eventId), 'mono'));
    tr.appendChild(cell(when, 'nowrap'));
    tr.appendChild(cell(formatValue(data), 'num'));
    tr.appendChild(cell(data.lead_id ? code(str(data.lead_id)) : '—', 'mono'));
    tr.appendChild(cell(em ? code(em.slice(0, 12) + '…') : '—', 'mono hash', em || null));
    return tr;
  }

  function emptyRow() {
    var tr = document.createElement('tr');
    tr.className = 'empty-row';
    var td = cell('No events delivered yet');
    td.colSpan = COLUMNS;
    tr.appendChild(td);
    return tr;
  }

  function render(events) {
    var last = events.length ? events[events.length - 1] : null;
    var signature = events.length + '|' + (last ? str(last.event_id) + '|' +
      str(last.received_at_ms) : '');
    if (signature === lastSignature) return;
    lastSignature = signature;
    var rows = events.slice().reverse().map(row); // newest first
    if (rows.length === 0) rows.push(emptyRow());
    tbody.replaceChildren.apply(tbody, rows);
  }

  function setStatus(text, failed) {
    if (!statusLine) return;
    statusLine.textContent = text;
    statusLine.classList.toggle('is-error', !!failed);
  }

  async function poll() {
    try {
      var response = await fetch(SOURCE_URL, {
        cache: 'no-store',
        credentials: 'same-origin',
        headers: { Accept: 'application/json' }
      });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      var events = await response.json();
      if (!Array.isArray(events)) throw new Error('unexpected answer');
      render(events.filter(function (ev) { return ev && typeof ev === 'object'; }));
      var n = events.length;
      setStatus(n + (n === 1 ? ' event' : ' events') + ' delivered. Last checked ' +
        new Date().toLocaleTimeString() + '.', false);
      lastFailed = false;
    } catch (err) {
      if (!lastFailed) console.warn('tagwire demo: cannot read delivered events: ' + err);
      lastFailed = true;
      setStatus('Cannot reach the demo receiver (' + err.message + '). Retrying…', true);
    } finally {
      window.setTimeout(poll, INTERVAL_MS);
    }
  }

  poll();
})();
