// tagwire demo: which events the five fake platform servers accepted, per event id.
// Polls the fakes' /_fake/events API every second; the DOM is built with createElement and
// textContent only (Trusted Types are enforced on this page).
(function () {
  'use strict';

  var PLATFORMS = ['meta', 'tiktok', 'linkedin', 'google_ads', 'ga4'];
  var SOURCE_URL = '/fake/_fake/events?view=live&platform=';
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

  // event id -> {platform: event name}, in the order the ids were first received
  function byEventId(lists) {
    var rows = new Map();
    PLATFORMS.forEach(function (platform, i) {
      lists[i].forEach(function (record) {
        var id = String(record.event_id || '');
        if (!id) return;
        if (!rows.has(id)) rows.set(id, { received: record.received_ms || 0, names: {} });
        var row = rows.get(id);
        row.names[platform] = String(record.event_name || '✓');
        row.received = Math.max(row.received, record.received_ms || 0);
      });
    });
    return Array.from(rows.entries()).sort(function (a, b) {
      return b[1].received - a[1].received; // newest first
    });
  }

  function render(lists) {
    var rows = byEventId(lists);
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

  async function poll() {
    try {
      render(await Promise.all(PLATFORMS.map(fetchEvents)));
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
