// tagwire demo: which events the five fake platform servers accepted, per event id.
// Polls the fakes' /_fake/events API every second; the DOM is built with createElement and
// textContent only (Trusted Types are enforced on this page). Google Ads keys an upload by
// its order id (the hit's transaction or lead id), so those rows are joined to event ids
// through the events the demo receiver got.
(function () {
  'use strict';

  var PLATFORMS = ['meta', 'tiktok', 'linkedin', 'google_ads', 'ga4'];
  var SOURCE_URL = '/fake/_fake/events?view=live&platform=';
  var RECEIVER_URL = '/demo/receiver/events';
  var INTERVAL_MS = 1000;

  var table = document.getElementById('platforms');
  var tbody = table ? table.tBodies[0] : null;
  var statusLine = document.getElementById('platforms-status');
  var lastSignature = null;
  var lastFailed = false;

  if (!tbody) return;

  function cell(text, className) {
    var td = document.createElement('td');
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  // LinkedIn and Google Ads name a conversion rule or action, not an event: show its id.
  function label(platform, name) {
    if (platform !== 'linkedin' && platform !== 'google_ads') return name;
    var parts = name.split(/[/:]/);
    return 'conversion ' + parts[parts.length - 1];
  }

  // order ids (transaction or lead id) -> event id, from what the receiver got
  function orderIds(received) {
    var map = new Map();
    received.forEach(function (ev) {
      var data = ev && ev.data && typeof ev.data === 'object' ? ev.data : {};
      [data.transaction_id, data.lead_id].forEach(function (id) {
        if (id) map.set(String(id), String(ev.event_id || ''));
      });
    });
    return map;
  }

  // event id -> {platform: event name}, newest first
  function byEventId(lists, orders) {
    var rows = new Map();
    PLATFORMS.forEach(function (platform, i) {
      lists[i].forEach(function (record) {
        var id = String(record.event_id || '');
        if (platform === 'google_ads' && orders.has(id)) id = orders.get(id);
        if (!id) return;
        if (!rows.has(id)) rows.set(id, { received: record.received_ms || 0, names: {} });
        var row = rows.get(id);
        row.names[platform] = label(platform, String(record.event_name || '✓'));
        row.received = Math.max(row.received, record.received_ms || 0);
      });
    });
    return Array.from(rows.entries()).sort(function (a, b) {
      return b[1].received - a[1].received; // newest first
    });
  }

  function render(lists, received) {
    var rows = byEventId(lists, orderIds(received));
    var signature = JSON.stringify(rows);
    if (signature === lastSignature) return;
    lastSignature = signature;
    var trs = rows.map(function (entry) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-event-id', entry[0]);
      var id = document.createElement('td');
      id.className = 'mono';
      var code = document.createElement('code');
      code.textContent = entry[0];
      id.appendChild(code);
      tr.appendChild(id);
      PLATFORMS.forEach(function (platform) {
        var name = entry[1].names[platform];
        var td = cell(name || '—', name ? 'at-platform' : 'not-at-platform');
        td.setAttribute('data-platform', platform);
        tr.appendChild(td);
      });
      return tr;
    });
    if (trs.length === 0) {
      var tr = document.createElement('tr');
      tr.className = 'empty-row';
      var td = cell('No events at the platforms yet');
      td.colSpan = PLATFORMS.length + 1;
      tr.appendChild(td);
      trs.push(tr);
    }
    tbody.replaceChildren.apply(tbody, trs);
  }

  async function fetchEvents(platform) {
    var response = await fetch(SOURCE_URL + platform, {
      cache: 'no-store',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    });
    if (!response.ok) throw new Error(platform + ': HTTP ' + response.status);
    var answer = await response.json();
    if (!answer || !Array.isArray(answer.events)) throw new Error(platform + ': unexpected answer');
    return answer.events.filter(function (e) { return e && typeof e === 'object'; });
  }

  async function fetchReceived() {
    var response = await fetch(RECEIVER_URL, { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) throw new Error('receiver: HTTP ' + response.status);
    var events = await response.json();
    return Array.isArray(events) ? events : [];
  }

  async function poll() {
    try {
      var answers = await Promise.all(PLATFORMS.map(fetchEvents).concat([fetchReceived()]));
      render(answers.slice(0, PLATFORMS.length), answers[PLATFORMS.length]);
      if (statusLine) {
        statusLine.textContent = 'Last checked ' + new Date().toLocaleTimeString() + '.';
        statusLine.classList.remove('is-error');
      }
      lastFailed = false;
    } catch (err) {
      if (!lastFailed) console.warn('tagwire demo: cannot read the fake platforms: ' + err);
      lastFailed = true;
      if (statusLine) {
        statusLine.textContent = 'Cannot reach the fake platforms (' + err.message + '). Retrying…';
        statusLine.classList.add('is-error');
      }
    } finally {
      window.setTimeout(poll, INTERVAL_MS);
    }
  }

  poll();
})();
