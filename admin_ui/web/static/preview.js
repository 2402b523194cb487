// The preview live view: new hits from the server's event stream go on top, the filters
// hide lines in place, and a click shows one hit in full (re-read while it waits for the
// platforms' answers). Lines and details are HTML rendered (and escaped) by our server.
(function () {
  'use strict';
  var live = document.getElementById('live');
  if (!live) { return; }
  var list = document.getElementById('traces');
  var empty = document.getElementById('no-traces');
  var status = document.getElementById('stream-state');
  var filters = document.getElementById('trace-filters');
  var eventBox = document.getElementById('filter-event');
  var outcomeBox = document.getElementById('filter-outcome');
  var open = null;
  var timer = null;
  var REFRESH_MS = 2000;

  function element(html) {
    var holder = document.createElement('template');
    holder.innerHTML = html;  // server-rendered, autoescaped; a template runs no script
    return holder.content.firstElementChild;
  }

  function shown(line) {
    var event = eventBox.value.trim().toLowerCase();
    var outcome = outcomeBox.value;
    var outcomes = (line.getAttribute('data-outcomes') || '').split(' ');
    var name = (line.getAttribute('data-event') || '').toLowerCase();
    return (!event || name.indexOf(event) !== -1) && (!outcome || outcomes.indexOf(outcome) !== -1);
  }

  function applyFilters() {
    list.querySelectorAll('li.trace').forEach(function (line) { line.hidden = !shown(line); });
  }

  function collapse() {
    clearTimeout(timer);
    if (open) {
      open.classList.remove('open');
      open.querySelector('.trace-slot').replaceChildren();
      open.querySelector('a.trace-line').setAttribute('aria-expanded', 'false');
    }
    open = null;
  }

  function load(line, url) {
    var slot = line.querySelector('.trace-slot');
    fetch(url, { headers: { 'X-Fragment': '1' }, credentials: 'same-origin' })
      .then(function (answer) {
        if (!answer.ok) { throw new Error('HTTP ' + answer.status); }
        return answer.text();
      })
      .then(function (html) {
        if (open !== line) { return; }
        var detail = element(html);
        slot.replaceChildren(detail);
        if (detail && detail.hasAttribute('data-pending')) {
          timer = setTimeout(function () { load(line, url); }, REFRESH_MS);
        }
      })
      .catch(function (error) {
        if (open === line) { slot.textContent = 'Could not load this hit (' + error.message + '); click it again.'; }
      });
  }

  list.addEventListener('click', function (click) {
    var link = click.target.closest('a.trace-line');
    if (!link) { return; }
    click.preventDefault();
    var line = link.parentElement;
    var again = open === line;
    collapse();
    if (again) { return; }
    open = line;
    line.classList.add('open');
    link.setAttribute('aria-expanded', 'true');
    load(line, link.href);
  });

  filters.addEventListener('submit', function (submit) { submit.preventDefault(); applyFilters(); });
  eventBox.addEventListener('input', applyFilters);
  outcomeBox.addEventListener('change', applyFilters);

  var stream = new EventSource(live.getAttribute('data-stream'));
  stream.onopen = function () { status.textContent = 'Live: new hits appear at the top.'; };
  stream.onerror = function () {
    if (stream.readyState !== EventSource.CLOSED) { status.textContent = 'Connection lost: reconnecting…'; }
  };
  stream.onmessage = function (message) {
    if (document.getElementById('trace-' + message.lastEventId)) { return; }
    var line = element(message.data);
    if (!line) { return; }
    line.hidden = !shown(line);
    list.insertBefore(line, list.firstElementChild);
    empty.hidden = true;
  };
  stream.addEventListener('ended', function () {
    stream.close();
    status.textContent = 'This preview has ended: its link runs the live version. Start a new one for more hits.';
  });
}());
