/*
 * Work-item dashboard: live refresh of the overview and entrances, confirmation dialogs for actions, and replay
 * progress. Pages are rendered by the service; this script only enhances them. Served from /ui/static (no CDN);
 * the page's Content-Security-Policy allows no inline script, so everything lives here.
 */
(() => {
  'use strict';

  const body = document.body;
  const page = body.dataset.page;
  const refreshMs = Math.max(200, Number(body.dataset.refreshMs) || 5000);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';

  const PALETTE = ['#2563eb', '#16a34a', '#f59e0b', '#db2777', '#7c3aed', '#0891b2', '#dc2626', '#65a30d', '#ea580c', '#475569'];
  const colors = new Map();
  const colorFor = (name) => {
    if (!colors.has(name)) colors.set(name, PALETTE[colors.size % PALETTE.length]);
    return colors.get(name);
  };

  // ---- formatting ---------------------------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, '0');

  function formatTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return d.toDateString() === new Date().toDateString() ? t : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
  }

  function formatAge(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
  }

  function ago(iso) {
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    return Number.isNaN(s) ? '' : `${formatAge(Math.max(0, s))} ago`;
  }

  function timeElement(iso) {
    if (!iso) {
      const span = document.createElement('span');
      span.className = 'muted';
      span.textContent = '–';
      return span;
    }
    const t = document.createElement('time');
    t.dateTime = iso;
    localizeTime(t);
    return t;
  }

  function localizeTime(t) {
    t.textContent = formatTime(t.dateTime);
    t.title = `${t.dateTime} (${ago(t.dateTime)})`;
  }

  function localizeTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(localizeTime);
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------
  async function api(path, options) {
    const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...options });
    if (res.status === 401) {
      location.assign(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      throw new Error('signed out');
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    return data;
  }

  function post(path, payload) {
    return api(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(payload || {}),
    });
  }

  /** Calls fn now and every `ms`, never overlapping; pauses while the tab is hidden. Returns "refresh now". */
  function every(ms, fn) {
    let timer = null;
    let running = false;
    const tick = async () => {
      clearTimeout(timer);
      timer = null;
      if (running) return;
      running = true;
      try {
        await fn();
        body.classList.remove('stale');
      } catch (err) {
        body.classList.add('stale');
        console.warn('refresh failed', err);
      } finally {
        running = false;
      }
      if (!document.hidden) timer = setTimeout(tick, ms);
    };
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && timer === null && !running) tick();
    });
    tick();
    return tick;
  }

  // ---- toast and confirmation ---------------------------------------------------------------------------------
  const toastEl = document.getElementById('toast');
  let toastTimer = null;
  function toast(message, kind) {
    toastEl.textContent = message;
    toastEl.className = `toast ${kind || 'info'}`;
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (toastEl.hidden = true), 5000);
  }

  const dialog = document.getElementById('confirm');
  /** The confirmation step of every action: resolves true only when the operator confirmed. */
  function confirmAction({ title, text, ok, danger }) {
    document.getElementById('confirm-title').textContent = title;
    document.getElementById('confirm-text').textContent = text;
    const okButton = document.getElementById('confirm-ok');
    okButton.textContent = ok;
    okButton.className = `btn ${danger ? 'danger' : 'primary'}`;
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
    });
  }

  // ---- entrances ----------------------------------------------------------------------------------------------
  function updateEntrances(list) {
    for (const e of list) {
      const row = document.querySelector(`tr[data-entrance="${CSS.escape(e.name)}"]`);
      if (!row) continue;
      const state = row.querySelector('[data-cell="state"]');
      const badge = document.createElement('span');
      badge.className = `badge state-${e.state}`;
      badge.textContent = e.state;
      state.replaceChildren(badge);
      row.querySelector('[data-cell="parked"]').textContent = String(e.parked);
      row.querySelector('[data-cell="since"]').replaceChildren(timeElement(e.since));
      row.querySelector('[data-cell="by"]').textContent = e.by || '–';
      const button = row.querySelector('button[data-action="entrance"]');
      if (button && !button.classList.contains('busy')) {
        const verb = e.state === 'open' ? 'close' : 'open';
        button.dataset.verb = verb;
        button.textContent = verb === 'close' ? 'Close' : 'Open';
        button.classList.toggle('danger', verb === 'close');
        button.classList.toggle('primary', verb === 'open');
      }
    }
  }

  function wireEntranceButtons(refreshNow) {
    document.addEventListener('click', async (ev) => {
      const button = ev.target.closest('button[data-action="entrance"]');
      if (!button || button.disabled) return;
      const { entrance, verb, displayName } = button.dataset;
      const closing = verb === 'close';
      const confirmed = await confirmAction({
        title: `${closing ? 'Close' : 'Open'} entrance “${displayName}”?`,
        text: closing
          ? `New items for ${entrance} will be parked (receipt "buffered") until it is opened again. Publishes entrance.closed to the control exchange.`
          : `Parked items of ${entrance} are routed now, oldest first. Publishes entrance.opened to the control exchange.`,
        ok: closing ? 'Close entrance' : 'Open entrance',
        danger: closing,
      });
      if (!confirmed) return;
      button.disabled = true;
      button.classList.add('busy');
      try {
        await post(`/ui/api/entrances/${encodeURIComponent(entrance)}/${verb}`);
        toast(`${closing ? 'entrance.closed' : 'entrance.opened'} published for ${entrance}`, 'ok');
      } catch (err) {
        toast(`Could not ${verb} ${entrance}: ${err.message}`, 'error');
      } finally {
        button.disabled = false;
        button.classList.remove('busy');
        // The service applies the event in a moment: look again soon.
        setTimeout(refreshNow, 300);
      }
    });
  }

  // ---- overview -----------------------------------------------------------------------------------------------
  let chart = null;

  function renderTypeTotals(series) {
    const list = document.getElementById('chart-types');
    if (!list) return;
    list.replaceChildren(
      ...series.map((s) => {
        const li = document.createElement('li');
        li.dataset.taskType = s.taskType;
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.backgroundColor = colorFor(s.taskType);
        const name = document.createElement('span');
        name.className = 'type-name';
        name.textContent = s.taskType;
        const total = document.createElement('b');
        total.textContent = String(s.total);
        li.append(swatch, name, total);
        return li;
      }),
    );
  }

  function renderChart(o) {
    const canvas = document.getElementById('chart');
    if (!canvas || typeof window.Chart !== 'function') return;
    const labels = o.chart.minutes.map((m) => {
      const d = new Date(m);
      return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    });
    const datasets = o.chart.series.map((s) => ({
      label: s.taskType,
      data: s.data,
      backgroundColor: colorFor(s.taskType),
      borderRadius: 2,
      barPercentage: 0.9,
      categoryPercentage: 0.9,
      stack: 'items',
    }));
    canvas.closest('.chart-wrap').classList.toggle('is-empty', datasets.length === 0);
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets = datasets;
      chart.update('none');
      return;
    }
    const Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(body).fontFamily;
    Chart.defaults.color = '#64748b';
    chart = new Chart(canvas, {
      type: 'bar',
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: {
          legend: { display: false },
          tooltip: {
            filter: (item) => item.parsed.y > 0,
            callbacks: { footer: (items) => `total ${items.reduce((a, i) => a + i.parsed.y, 0)}` },
          },
        },
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 16 } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { precision: 0 },
            grid: { color: '#eef2f7' },
            title: { display: true, text: 'items / min' },
          },
        },
      },
    });
  }

  /** As timeToEnd in pages.ts: approximate (~), a lower bound (≥) in the last bucket. */
  function formatTimeToEnd(ms, maxMs) {
    if (ms === null || ms === undefined) return '–';
    const text = ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : formatAge(Math.round(ms / 1000));
    return ms >= maxMs ? `≥ ${text}` : `~${text}`;
  }

  function serviceLevelRow(r, cls, byEntrance, maxMs) {
    const tr = document.createElement('tr');
    tr.className = cls;
    tr.dataset.slTaskType = r.taskType;
    const cell = (text, name) => {
      const td = document.createElement('td');
      td.textContent = String(text);
      if (name) {
        td.className = 'num';
        td.dataset.cell = name;
      }
      tr.append(td);
      return td;
    };
    cell(r.taskType);
    if (byEntrance) {
      tr.dataset.slEntrance = r.entrance || '';
      cell(r.entrance || '');
    }
    cell(r.received, 'received');
    cell(r.ended, 'ended');
    const pct = cell(r.endedBeforeDuePct === null ? '–' : `${r.endedBeforeDuePct.toFixed(1)} %`, 'endedBeforeDuePct');
    pct.title = `${r.endedBeforeDue} of ${r.endedWithDue} ended items with a dueAt`;
    cell(formatTimeToEnd(r.medianToEndMs, maxMs), 'medianToEnd');
    cell(formatTimeToEnd(r.p90ToEndMs, maxMs), 'p90ToEnd');
    cell(r.overdueNow, 'overdueNow');
    return tr;
  }

  function renderServiceLevel(sl) {
    const byType = document.querySelector('tbody[data-service-level="task-type"]');
    const split = document.querySelector('tbody[data-service-level="entrance"]');
    if (!byType || !split || !sl) return;
    byType.replaceChildren(
      ...sl.rows.map((r) => serviceLevelRow(r, '', false, sl.maxTimeToEndMs)),
      serviceLevelRow({ ...sl.total, taskType: 'Total' }, 'total', false, sl.maxTimeToEndMs),
    );
    split.replaceChildren(...sl.byEntrance.map((r) => serviceLevelRow(r, '', true, sl.maxTimeToEndMs)));
  }

  function renderOverview(o) {
    for (const [key, value] of Object.entries(o.counts.lastHour)) {
      document.querySelectorAll(`[data-count="${key}"]`).forEach((el) => (el.textContent = String(value)));
    }
    for (const [key, value] of Object.entries(o.counts.last24h)) {
      document.querySelectorAll(`[data-count24="${key}"]`).forEach((el) => (el.textContent = String(value)));
    }
    const field = (name) => document.querySelector(`[data-field="${name}"]`);
    field('unfinished').textContent = String(o.unfinished.count);
    field('oldest').textContent = formatAge(o.unfinished.oldestAgeSeconds);
    field('errorQueue').textContent = o.errorQueue === null ? '?' : String(o.errorQueue);
    field('generatedAt').replaceChildren(timeElement(o.generatedAt));
    updateEntrances(o.entrances);
    renderTypeTotals(o.chart.series);
    renderServiceLevel(o.serviceLevel);
    renderChart(o);
  }

  // ---- errors and replays -------------------------------------------------------------------------------------
  function jobText(j) {
    return `moved ${j.moved} · kept ${j.kept} · examined ${j.examined}${j.total === null ? '' : ` of ${j.total}`}${j.error ? ` · ${j.error}` : ''}`;
  }

  function renderJob(j) {
    let el = document.querySelector(`.job[data-job-id="${CSS.escape(j.id)}"]`);
    if (!el) {
      el = document.createElement('div');
      el.className = 'job';
      el.dataset.jobId = j.id;
      const head = document.createElement('div');
      head.className = 'job-head';
      const title = document.createElement('b');
      title.textContent = `Replay ${j.messageId ? `message ${j.messageId.slice(0, 8)}` : j.code ? `all ${j.code}` : 'all codes'}`;
      const status = document.createElement('span');
      status.dataset.job = 'status';
      const who = document.createElement('span');
      who.className = 'muted';
      who.textContent = `by ${j.by} · ${formatTime(j.startedAt)}`;
      head.append(title, ' ', status, ' ', who);
      const progress = document.createElement('progress');
      progress.dataset.job = 'progress';
      const text = document.createElement('div');
      text.className = 'job-text';
      text.dataset.job = 'text';
      el.append(head, progress, text);
      const list = document.getElementById('job-list');
      list.prepend(el);
      document.getElementById('replays').classList.remove('hidden-empty');
    }
    el.dataset.status = j.status;
    const status = el.querySelector('[data-job="status"]');
    status.className = `badge job-${j.status}`;
    status.textContent = j.status;
    const progress = el.querySelector('[data-job="progress"]');
    progress.max = Math.max(1, j.total || 0);
    progress.value = j.status === 'running' ? j.examined : progress.max;
    el.querySelector('[data-job="text"]').textContent = jobText(j);
  }

  function followJob(id) {
    const poll = async () => {
      let j;
      try {
        j = await api(`/ui/api/replays/${encodeURIComponent(id)}`);
      } catch (err) {
        setTimeout(poll, 1000);
        return;
      }
      renderJob(j);
      if (j.status === 'running') {
        setTimeout(poll, 400);
        return;
      }
      toast(
        j.status === 'done' ? `Replay finished: ${j.moved} moved back to the inbound exchange` : `Replay ${j.status}: ${jobText(j)}`,
        j.status === 'done' ? 'ok' : 'error',
      );
      // The groups below changed: show the queue as it is now (the job's result stays listed at the top).
      setTimeout(() => location.reload(), 1500);
    };
    poll();
  }

  function wireReplayButtons() {
    document.addEventListener('click', async (ev) => {
      const button = ev.target.closest('button[data-action="replay"]');
      if (!button || button.disabled) return;
      const { code, messageId, count } = button.dataset;
      const one = Boolean(messageId);
      const confirmed = await confirmAction({
        title: one ? `Replay this ${code} message?` : `Replay all ${count} ${code} message(s)?`,
        text:
          'Each message goes back to the inbound exchange with its original routing key, and leaves the error queue only ' +
          'once the broker confirmed it. If the cause is not fixed, it is rejected again and comes back here. ' +
          'The replay runs in the service: closing this page does not interrupt it.',
        ok: one ? 'Replay message' : `Replay ${code}`,
        danger: false,
      });
      if (!confirmed) return;
      document.querySelectorAll('button[data-action="replay"]').forEach((b) => (b.disabled = true));
      try {
        const { job } = await post('/ui/api/errors/replay', one ? { code, messageId } : { code });
        renderJob(job);
        followJob(job.id);
      } catch (err) {
        toast(`Replay not started: ${err.message}`, 'error');
        setTimeout(() => location.reload(), 2500);
      }
    });
  }

  // ---- item actions (hold, resume, cancel) --------------------------------------------------------------------
  const holdDialog = document.getElementById('hold-dialog');

  /** Asks for the hold's until (local time, sent as UTC) and reason; resolves null when the operator cancelled. */
  function askHoldTerms() {
    const form = holdDialog.querySelector('form');
    form.reset();
    holdDialog.returnValue = '';
    return new Promise((resolve) => {
      holdDialog.addEventListener(
        'close',
        () => {
          if (holdDialog.returnValue !== 'ok') return resolve(null);
          const local = form.elements.until.value;
          const reason = form.elements.reason.value.trim();
          resolve({ ...(local && { until: new Date(local).toISOString() }), ...(reason && { reason }) });
        },
        { once: true },
      );
      holdDialog.showModal();
    });
  }

  function wireItemButtons() {
    document.addEventListener('click', async (ev) => {
      const button = ev.target.closest('button[data-action="item"]');
      if (!button || button.disabled) return;
      const { verb, contactId, externalId } = button.dataset;
      let payload = {};
      if (verb === 'hold') {
        payload = await askHoldTerms();
        if (!payload) return;
      } else {
        const cancelling = verb === 'cancel';
        const confirmed = await confirmAction({
          title: cancelling ? `Cancel ${externalId}?` : `Resume ${externalId}?`,
          text: cancelling
            ? 'The item is withdrawn (contact.withdrawn, reason cancelled-by-operator) and finishes as cancelled: a resend of it is a duplicate.'
            : 'It is routed again as a new arrival with the same contactId (contact.created, resumed: true); parked if its entrance is closed, scheduled again if its activateAt is still ahead.',
          ok: cancelling ? 'Cancel item' : 'Resume',
          danger: cancelling,
        });
        if (!confirmed) return;
      }
      document.querySelectorAll('button[data-action="item"]').forEach((b) => (b.disabled = true));
      try {
        const r = await post(`/ui/api/items/${encodeURIComponent(contactId)}/${verb}`, payload);
        toast(`${externalId}: ${r.message}`, 'ok');
        setTimeout(() => location.reload(), 800);
      } catch (err) {
        toast(`Could not ${verb} ${externalId}: ${err.message}`, 'error');
        setTimeout(() => location.reload(), 2500);
      }
    });
  }

  // ---- pages --------------------------------------------------------------------------------------------------
  localizeTimes(document);

  if (page === 'overview') {
    every(refreshMs, async () => renderOverview(await api('/ui/api/overview')));
  } else if (page === 'entrances') {
    const refresh = every(refreshMs, async () => updateEntrances((await api('/ui/api/entrances')).entrances));
    wireEntranceButtons(refresh);
  } else if (page === 'item' && holdDialog) {
    wireItemButtons();
  } else if (page === 'errors') {
    wireReplayButtons();
    document.querySelectorAll('.job[data-status="running"]').forEach((el) => {
      document.querySelectorAll('button[data-action="replay"]').forEach((b) => (b.disabled = true));
      followJob(el.dataset.jobId);
    });
  }
})();
