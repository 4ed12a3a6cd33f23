import { ERROR_CODE_DESCRIPTIONS, type ErrorCode } from '../../../domain/error-codes';
import type { ErrorMessageView } from '../../../ports/error-queue';
import type { HistoryStep, ItemHistoryView } from '../../../ports/item-history';
import type { Principal } from './access';
import { assetUrl } from './assets';
import { html, type SafeHtml } from './html';
import type { ServiceLevelFigures, ServiceLevelRow } from '../../../domain/service-level';
import type { EntranceView, Overview, ServiceLevelView } from './overview';
import type { ReplayJob } from './replay-jobs';
import type { ItemDetail, ItemSummary } from './views';

/** Server-rendered pages. Every value is escaped by `html`; the only script is /ui/static/dashboard.js. */

type Page = 'overview' | 'entrances' | 'items' | 'item' | 'errors' | 'login';

interface LayoutOptions {
  page: Page;
  title: string;
  principal: Principal | null;
  refreshMs?: number;
  chart?: boolean;
}

const NAV: [Page, string, string][] = [
  ['overview', 'Overview', '/ui'],
  ['entrances', 'Entrances', '/ui/entrances'],
  ['items', 'Items', '/ui/items'],
  ['errors', 'Errors', '/ui/errors'],
];

function who(p: Principal | null): SafeHtml {
  if (!p) return html``;
  if (!p.user)
    return html`<span class="badge readonly" title="Set DASHBOARD_USER and DASHBOARD_PASSWORD to open/close entrances and replay errors">read-only · loopback</span>`;
  return html`<span class="user">Signed in as <b>${p.user}</b></span>
    <form method="post" action="/ui/logout" class="inline"><input type="hidden" name="csrf" value="${p.csrfToken}"><button class="link" type="submit">Sign out</button></form>`;
}

export function layout(o: LayoutOptions, body: SafeHtml): string {
  const p = o.principal;
  const nav = NAV.map(([page, label, href]) => {
    const current = page === o.page || (o.page === 'item' && page === 'items');
    return html`<a href="${href}"${current ? html` class="active" aria-current="page"` : ''}>${label}</a>`;
  });
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
${p?.csrfToken ? html`<meta name="csrf-token" content="${p.csrfToken}">` : ''}
<title>${o.title} · Work items</title>
<link rel="stylesheet" href="${assetUrl('dashboard.css')}">
${o.chart ? html`<script src="${assetUrl('chart.umd.min.js')}" defer></script>` : ''}
<script src="${assetUrl('dashboard.js')}" defer></script>
</head>
<body data-page="${o.page}" data-refresh-ms="${o.refreshMs ?? 0}" data-can-act="${p?.canAct ? 'true' : 'false'}">
<header class="topbar">
  <a class="brand" href="/ui"><span class="logo" aria-hidden="true"></span>Work items</a>
  ${o.page === 'login' ? '' : html`<nav>${nav}</nav><div class="who">${who(p)}</div>`}
</header>
<main>
${body}
</main>
<dialog id="confirm" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title">Are you sure?</h2>
    <p id="confirm-text"></p>
    <div class="dialog-actions">
      <button class="btn" value="cancel" type="submit">Cancel</button>
      <button class="btn primary" value="ok" type="submit" id="confirm-ok">Confirm</button>
    </div>
  </form>
</dialog>
<div id="toast" role="status" aria-live="polite" hidden></div>
</body>
</html>
`.value;
}

function time(iso: string | null | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">–</span>`;
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

function age(seconds: number | null): string {
  if (seconds === null) return '–';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}

function stateBadge(state: string): SafeHtml {
  return html`<span class="badge state-${state}">${state}</span>`;
}

function entranceAction(e: EntranceView, canAct: boolean): SafeHtml {
  const verb = e.state === 'open' ? 'close' : 'open';
  const label = verb === 'close' ? 'Close' : 'Open';
  return html`<button class="btn ${verb === 'close' ? 'danger' : 'primary'} small" type="button" data-action="entrance" data-entrance="${e.name}"
    data-display-name="${e.displayName}" data-verb="${verb}"${canAct ? '' : html` disabled title="read-only: set DASHBOARD_USER and DASHBOARD_PASSWORD"`}>${label}</button>`;
}

export function entrancesTable(entrances: EntranceView[], actions: { canAct: boolean } | null): SafeHtml {
  const rows = entrances.map(
    (e) => html`<tr data-entrance="${e.name}">
      <td><div class="name">${e.displayName}</div><div class="muted mono">${e.name}</div></td>
      <td data-cell="state">${stateBadge(e.state)}</td>
      <td class="num" data-cell="parked">${e.parked}</td>
      <td data-cell="since">${time(e.since)}</td>
      <td data-cell="by">${e.by ?? '–'}</td>
      ${actions ? html`<td class="actions" data-cell="action">${entranceAction(e, actions.canAct)}</td>` : ''}
    </tr>`,
  );
  return html`<table class="grid entrances">
    <thead><tr><th>Entrance</th><th>State</th><th class="num">Parked</th><th>Since</th><th>By</th>${actions ? html`<th></th>` : ''}</tr></thead>
    <tbody>${rows}</tbody>
  </table>`;
}

/** A median or p90 to end: approximate (~), a lower bound (≥) in the last bucket; dashboard.js writes the same. */
function timeToEnd(ms: number | null, maxMs: number): string {
  if (ms === null) return '–';
  const text = ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : age(Math.round(ms / 1000));
  return ms >= maxMs ? `≥ ${text}` : `~${text}`;
}

function beforeDue(r: ServiceLevelFigures): string {
  return r.endedBeforeDuePct === null ? '–' : `${r.endedBeforeDuePct.toFixed(1)} %`;
}

function serviceLevelRows(
  rows: ServiceLevelRow[],
  total: ServiceLevelFigures | null,
  sl: ServiceLevelView,
  byEntrance: boolean,
): SafeHtml[] {
  const line = (
    r: ServiceLevelFigures & { taskType: string; entrance?: string },
    cls: string,
  ) => html`<tr class="${cls}" data-sl-task-type="${r.taskType}"${byEntrance ? html` data-sl-entrance="${r.entrance ?? ''}"` : ''}>
      <td>${r.taskType}</td>${byEntrance ? html`<td>${r.entrance ?? ''}</td>` : ''}
      <td class="num" data-cell="received">${r.received}</td>
      <td class="num" data-cell="ended">${r.ended}</td>
      <td class="num" data-cell="endedBeforeDuePct" title="${r.endedBeforeDue} of ${r.endedWithDue} ended items with a dueAt">${beforeDue(r)}</td>
      <td class="num" data-cell="medianToEnd">${timeToEnd(r.medianToEndMs, sl.maxTimeToEndMs)}</td>
      <td class="num" data-cell="p90ToEnd">${timeToEnd(r.p90ToEndMs, sl.maxTimeToEndMs)}</td>
      <td class="num" data-cell="overdueNow">${r.overdueNow}</td>
    </tr>`;
  return [...rows.map((r) => line(r, '')), ...(total ? [line({ ...total, taskType: 'Total' }, 'total')] : [])];
}

const SERVICE_LEVEL_HEAD = (byEntrance: boolean) => html`<thead><tr><th>Task type</th>${byEntrance ? html`<th>Entrance</th>` : ''}
  <th class="num">Received</th><th class="num">Ended</th><th class="num">Ended before due</th><th class="num">Median to end</th>
  <th class="num">P90 to end</th><th class="num">Overdue now</th></tr></thead>`;

/** The service level per task type (the report's table), and split by entrance below. */
export function serviceLevelSection(sl: ServiceLevelView): SafeHtml {
  return html`<section class="card" id="service-level">
  <div class="card-head"><h2>Service level by task type</h2><span class="muted">since ${time(sl.since)} · received = new items ·
    ended before due: of the ended items with a dueAt · median and p90 to end approximate (within ×${sl.maxErrorFactor}) ·
    overdue now: at this moment</span></div>
  <table class="grid service-level">
    ${SERVICE_LEVEL_HEAD(false)}
    <tbody data-service-level="task-type">${serviceLevelRows(sl.rows, sl.total, sl, false)}</tbody>
  </table>
  <details class="service-level-split"><summary>By entrance</summary>
  <table class="grid service-level">
    ${SERVICE_LEVEL_HEAD(true)}
    <tbody data-service-level="entrance">${serviceLevelRows(sl.byEntrance, null, sl, true)}</tbody>
  </table>
  </details>
</section>`;
}

const CARDS: [keyof Overview['counts']['lastHour'], string][] = [
  ['accepted', 'Accepted'],
  ['buffered', 'Buffered'],
  ['scheduled', 'Scheduled'],
  ['updated', 'Updated'],
  ['rejected', 'Rejected'],
  ['completed', 'Completed'],
];

export function overviewPage(o: Overview, principal: Principal): string {
  const cards = CARDS.map(
    ([key, label]) => html`<div class="card stat stat-${key}">
      <div class="label">${label}</div>
      <div class="value" data-count="${key}">${o.counts.lastHour[key]}</div>
      <div class="sub">last hour · <span data-count24="${key}">${o.counts.last24h[key]}</span> in 24 h</div>
    </div>`,
  );
  const body = html`
<section class="cards">
  ${cards}
  <div class="card stat stat-unfinished">
    <div class="label">Unfinished</div>
    <div class="value" data-field="unfinished">${o.unfinished.count}</div>
    <div class="sub">oldest <span data-field="oldest">${age(o.unfinished.oldestAgeSeconds)}</span></div>
  </div>
  <div class="card stat stat-errors">
    <div class="label">Error queue</div>
    <div class="value" data-field="errorQueue">${o.errorQueue ?? '?'}</div>
    <div class="sub"><a href="/ui/errors">inspect &amp; replay</a></div>
  </div>
</section>
<section class="card">
  <div class="card-head"><h2>Items per minute by task type</h2><span class="muted">last 60 minutes · received = accepted + buffered + scheduled + duplicate + rejected + updated + withdrawn</span></div>
  <div class="chart-wrap"><canvas id="chart" role="img" aria-label="Items per minute by task type, last hour"></canvas></div>
  <ul class="legend-fallback" id="chart-types">${o.chart.series.map((s) => html`<li data-task-type="${s.taskType}">${s.taskType}: ${s.total}</li>`)}</ul>
</section>
${serviceLevelSection(o.serviceLevel)}
<section class="card">
  <div class="card-head"><h2>Entrances</h2><a href="/ui/entrances" class="muted">open / close →</a></div>
  ${entrancesTable(o.entrances, null)}
</section>
<p class="updated muted">Updated <span data-field="generatedAt">${time(o.generatedAt)}</span> · refreshes every ${Math.round(o.refreshMs / 100) / 10} s</p>`;
  return layout({ page: 'overview', title: 'Overview', principal, refreshMs: o.refreshMs, chart: true }, body);
}

export function entrancesPage(entrances: EntranceView[], principal: Principal, refreshMs: number): string {
  const body = html`
<div class="page-head"><h1>Entrances</h1>
  <p class="muted">Closing an entrance publishes <code>entrance.closed</code> to the control exchange, as the contact center
  and <code>workitem entrance close</code> do: new items for it are parked (receipt <code>buffered</code>).
  Opening it routes the parked items, oldest first.</p></div>
<section class="card">${entrancesTable(entrances, { canAct: principal.canAct })}</section>`;
  return layout({ page: 'entrances', title: 'Entrances', principal, refreshMs }, body);
}

export interface ItemsPageInput {
  items: ItemSummary[];
  nextCursor: number | null;
  cursor: number;
  total: number;
  filter: { entrance: string; taskType: string; state: string };
  entrances: { name: string; displayName: string }[];
  taskTypes: string[];
}

function query(params: Record<string, string | number>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== 0) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function itemsPage(i: ItemsPageInput, principal: Principal): string {
  const f = i.filter;
  const option = (value: string, label: string, selected: boolean) =>
    html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;
  const rows = i.items.map(
    (it) => html`<tr>
      <td>${time(it.receivedAt)}</td>
      <td><a href="/ui/items/${it.contactId}" class="mono">${it.contactId}</a><div class="muted">${it.source} · ${it.externalId}</div></td>
      <td>${it.entrance}</td>
      <td>${it.taskType}</td>
      <td>${stateBadge(it.state)}${it.held ? html`<div class="muted small" data-held>${heldTerms(it.held)}</div>` : ''}</td>
      <td class="num">${it.priority}</td>
      <td class="subject">${it.subject}</td>
    </tr>`,
  );
  const body = html`
<div class="page-head"><h1>Unfinished items</h1><p class="muted">${i.total} unfinished in Redis, oldest first. Routed items wait for the agent's End; buffered ones are parked at a closed entrance; scheduled ones wait for their activateAt; held ones wait for a resume or their until.</p></div>
<form class="card filters" method="get" action="/ui/items">
  <label>Entrance <select name="entrance">${option('', 'all', f.entrance === '')}${i.entrances.map((e) => option(e.name, e.displayName, f.entrance === e.name))}</select></label>
  <label>Task type <input name="taskType" list="task-types" value="${f.taskType}" placeholder="all" maxlength="1024">
    <datalist id="task-types">${i.taskTypes.map((t) => html`<option value="${t}"></option>`)}</datalist></label>
  <label>State <select name="state">${option('', 'all', f.state === '')}${option('routed', 'routed (accepted)', f.state === 'routed')}${option('buffered', 'buffered (parked)', f.state === 'buffered')}${option('scheduled', 'scheduled (activateAt)', f.state === 'scheduled')}${option('held', 'held (until resumed)', f.state === 'held')}</select></label>
  <button class="btn primary" type="submit">Filter</button>
  ${f.entrance || f.taskType || f.state ? html`<a href="/ui/items" class="muted">clear</a>` : ''}
</form>
<section class="card">
${
  i.items.length === 0
    ? html`<p class="empty">No unfinished items${f.entrance || f.taskType || f.state ? ' match these filters' : ''}.</p>`
    : html`<table class="grid items"><thead><tr><th>Received</th><th>Contact</th><th>Entrance</th><th>Task type</th><th>State</th><th class="num">Prio</th><th>Subject</th></tr></thead><tbody>${rows}</tbody></table>`
}
<nav class="pager">
  ${i.cursor > 0 ? html`<a class="btn small" href="/ui/items${query({ entrance: f.entrance, taskType: f.taskType, state: f.state })}">← First page</a>` : ''}
  ${i.nextCursor !== null ? html`<a class="btn small" rel="next" href="/ui/items${query({ entrance: f.entrance, taskType: f.taskType, state: f.state, cursor: i.nextCursor })}">Next page →</a>` : ''}
</nav>
</section>`;
  return layout({ page: 'items', title: 'Items', principal }, body);
}

/** A held item's terms: until when (or until resumed) and why. */
function heldTerms(h: NonNullable<ItemSummary['held']>): SafeHtml {
  return html`${h.until ? html`until ${time(h.until)}` : 'until resumed'}${h.reason ? html` · ${h.reason}` : ''}`;
}

function row(label: string, value: unknown): SafeHtml {
  return html`<tr><th>${label}</th><td>${value === undefined || value === null || value === '' ? html`<span class="muted">–</span>` : value}</td></tr>`;
}

function stepDetails(st: HistoryStep): SafeHtml {
  const parts: SafeHtml[] = [];
  if (st.reason) parts.push(html`<span>${st.reason}</span>`);
  if (st.code) parts.push(html`<code>${st.code}</code>`);
  if (st.entrance) parts.push(html`<span class="muted">entrance</span> ${st.entrance}`);
  if (st.revision !== undefined) parts.push(html`<span class="muted">revision</span> ${st.revision}`);
  if (st.changed?.length) parts.push(html`<span class="muted">changed</span> <span class="mono">${st.changed.join(', ')}</span>`);
  if (st.state) parts.push(html`<span class="muted">${st.step === 'held' ? 'from' : 'state'}</span> ${st.state}`);
  if (st.until) parts.push(html`<span class="muted">until</span> ${time(st.until)}`);
  if (st.by) parts.push(html`<span class="muted">by</span> ${st.by}`);
  if (st.times) parts.push(html`<span class="muted">×${st.times}, first ${time(st.firstAt)}</span>`);
  return html`${parts.map((p, i) => html`${i > 0 ? ' · ' : ''}${p}`)}`;
}

/** The item's steps, oldest first; the steps dropped to keep it bounded are named where they were. */
export function historySection(h: ItemHistoryView | null): SafeHtml {
  if (!h) return html`<section class="card" id="history"><h2>History</h2><p class="muted">No history recorded.</p></section>`;
  const rows = h.steps.map(
    (
      st,
      i,
    ) => html`${i === 1 && h.dropped > 0 ? html`<tr class="dropped"><td colspan="4" class="muted">… ${h.dropped} earlier steps dropped …</td></tr>` : ''}<tr data-step="${st.step}">
      <td>${time(st.at)}</td>
      <td>${stateBadge(st.step)}</td>
      <td class="mono small">${st.instance}</td>
      <td>${stepDetails(st)}</td>
    </tr>`,
  );
  return html`<section class="card" id="history"><div class="card-head"><h2>History</h2><span class="muted">${h.keptUntil ? html`kept until ${time(h.keptUntil)}` : 'kept while the item is unfinished, then tombstoneSeconds'}</span></div>
<table class="grid history"><thead><tr><th>Time</th><th>Step</th><th>Instance</th><th>Details</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

/** An item that is no longer unfinished (ended, cancelled, expired) but whose history is still kept. */
export function finishedItemPage(h: ItemHistoryView, principal: Principal): string {
  const last = h.steps[h.steps.length - 1];
  const body = html`
<div class="page-head"><a href="/ui/items" class="muted">← Items</a><h1>Finished item</h1><p class="mono muted">${h.contactId}</p>
<p class="muted">Not unfinished any more${last ? html` (last step <b>${last.step}</b> ${time(last.at)})` : ''}: only its history is kept.</p></div>
${historySection(h)}`;
  return layout({ page: 'item', title: h.contactId, principal }, body);
}

export function itemPage(it: ItemDetail, principal: Principal, history: ItemHistoryView | null = null): string {
  const c = it.customer;
  const a = it.attachment;
  const data = Object.entries(it.contactData).map(([k, v]) => html`<tr><th class="mono">${k}</th><td>${v}</td></tr>`);
  const body = html`
<div class="page-head"><a href="/ui/items" class="muted">← Items</a><h1>${it.subject}</h1><p class="mono muted">${it.contactId}</p></div>
<div class="columns">
<section class="card"><h2>Item</h2><table class="kv">
  ${row('State', html`${stateBadge(it.state)} <span class="muted">receipt <b>${it.receiptStatus}</b></span>`)}
  ${row('External id', it.externalId)}
  ${row('Source', it.source)}
  ${row('Entrance', it.entrance)}
  ${row('Task type', it.taskType)}
  ${row('Priority', it.priority)}
  ${row('Channel', it.channel)}
  ${row('Received', time(it.receivedAt))}
  ${row('Parked since', it.parkedAt ? time(it.parkedAt) : null)}
  ${row('Due', it.dueAt ? time(it.dueAt) : null)}
  ${row('Activates', it.activateAt ? time(it.activateAt) : null)}
  ${row('Expires', it.expiresAt ? time(it.expiresAt) : null)}
  ${it.held ? html`${row('Held since', time(it.held.since))}${row('Held from', it.held.from)}${row('Held until', it.held.until ? time(it.held.until) : 'until resumed')}${row('Hold reason', it.held.reason)}` : ''}
</table></section>
<section class="card"><h2>Customer</h2><table class="kv">
  ${row('Name', c?.name)}${row('Email', c?.email)}${row('Phone', c?.phone)}
</table>
<h2>Attachment</h2>
${
  a
    ? html`<table class="kv">
  ${row('File', html`<a href="${a.link}" download>${a.fileName}</a>`)}
  ${row('Type', a.contentType)}${row('Size', `${a.size.toLocaleString('en')} bytes`)}${row('SHA-256', html`<span class="mono small">${a.sha256}</span>`)}
</table>`
    : html`<p class="muted">none</p>`
}
${it.social ? html`<h2>Social</h2><table class="kv">${row('Platform', it.social.platform)}${row('Page', it.social.pageId)}${row('Post', it.social.postId)}${row('Author', it.social.author)}</table>` : ''}
</section>
</div>
${itemActions(it, principal)}
<section class="card"><h2>Contact data</h2><table class="kv wide">${data}</table></section>
<section class="card"><h2>Preview</h2><p class="preview">${it.preview || html`<span class="muted">(empty)</span>`}</p></section>
${historySection(history)}`;
  return layout({ page: 'item', title: it.subject, principal }, body);
}

/**
 * Hold (or change the hold), resume and cancel: each asks first (the hold for its until and reason), then posts to
 * /ui/api/items/<contactId>/<verb> with the session's CSRF token. Read-only: shown, disabled.
 */
function itemActions(it: ItemDetail, principal: Principal): SafeHtml {
  const disabled = principal.canAct ? '' : html` disabled title="read-only: set DASHBOARD_USER and DASHBOARD_PASSWORD"`;
  const button = (verb: string, label: string, kind: string) =>
    html`<button class="btn ${kind} small" type="button" data-action="item" data-verb="${verb}" data-contact-id="${it.contactId}"
      data-external-id="${it.externalId}"${disabled}>${label}</button>`;
  const held = it.state === 'held';
  return html`<section class="card" id="actions"><div class="card-head"><h2>Actions</h2>
  <span class="muted">${held ? 'Held: nothing routes it until it is resumed (or its until comes).' : 'Holding a routed item withdraws it from the agents\u2019 queue (contact.withdrawn, reason held).'}</span></div>
  <div class="item-actions">
    ${button('hold', held ? 'Change hold' : 'Hold', '')}
    ${held ? button('resume', 'Resume', 'primary') : ''}
    ${button('cancel', 'Cancel item', 'danger')}
  </div>
</section>
<dialog id="hold-dialog" aria-labelledby="hold-title">
  <form method="dialog">
    <h2 id="hold-title">${held ? 'Change the hold' : 'Hold this item?'}</h2>
    <p>${held ? 'The new until and reason replace the old ones.' : 'A routed item leaves the agents\u2019 queue; a parked or scheduled one stops waiting. Update, cancel and expiry still apply.'}</p>
    <label>Resume by itself at (optional) <input type="datetime-local" name="until" step="1"></label>
    <label>Reason (optional, at most 256 characters) <input name="reason" maxlength="256"></label>
    <div class="dialog-actions">
      <button class="btn" value="cancel" type="submit">Cancel</button>
      <button class="btn primary" value="ok" type="submit">${held ? 'Change hold' : 'Hold'}</button>
    </div>
  </form>
</dialog>`;
}

export function notFoundPage(principal: Principal, what: string): string {
  return layout({ page: 'items', title: 'Not found', principal }, html`<div class="page-head"><h1>Not found</h1><p>${what}</p></div>`);
}

export interface ErrorGroup {
  code: string;
  description: string | null;
  count: number;
  replayable: number;
  messages: ErrorMessageView[];
}

export function describeCode(code: string): string | null {
  return (
    ERROR_CODE_DESCRIPTIONS[code as ErrorCode] ??
    (code === 'DEAD_LETTERED' ? 'Dead-lettered by the broker for a reason the contract has no code for (x-death names it).' : null)
  );
}

export function jobLine(j: ReplayJob): SafeHtml {
  const scope = j.messageId ? `message ${j.messageId.slice(0, 8)}` : j.code ? `all ${j.code}` : 'all codes';
  return html`<div class="job" data-job-id="${j.id}" data-status="${j.status}">
    <div class="job-head"><b>Replay ${scope}</b> <span class="badge job-${j.status}" data-job="status">${j.status}</span>
      <span class="muted">by ${j.by} · ${time(j.startedAt)}</span></div>
    <progress max="${j.total ?? 1}" value="${j.status === 'running' ? j.examined : (j.total ?? 1)}" data-job="progress"></progress>
    <div class="job-text" data-job="text">moved ${j.moved} · kept ${j.kept} · examined ${j.examined}${j.total === null ? '' : ` of ${j.total}`}${j.error ? ` · ${j.error}` : ''}</div>
  </div>`;
}

export function errorsPage(
  e: { queue: string; total: number; examined: number; groups: ErrorGroup[]; jobs: ReplayJob[]; unavailable: string | null },
  principal: Principal,
): string {
  const disabled = principal.canAct ? '' : html` disabled title="read-only: set DASHBOARD_USER and DASHBOARD_PASSWORD"`;
  const groups = e.groups.map(
    (g) => html`<section class="card error-group" data-code="${g.code}">
  <div class="card-head">
    <h2><code>${g.code}</code> <span class="count">${g.count}</span></h2>
    <button class="btn primary small" type="button" data-action="replay" data-code="${g.code}" data-count="${g.count}"${g.replayable === 0 ? html` disabled title="no original routing key: cannot be replayed"` : disabled}>Replay all ${g.code}</button>
  </div>
  ${g.description ? html`<p class="muted">${g.description}</p>` : ''}
  <table class="grid errors"><thead><tr><th>Failed</th><th>Path</th><th>Message</th><th>Routing key</th><th>Body</th><th></th></tr></thead><tbody>
  ${g.messages.map(
    (m) => html`<tr data-message-id="${m.id}">
      <td>${time(m.failedAt ?? m.firstFailedAt)}${m.firstFailedAt && m.failedAt && m.firstFailedAt !== m.failedAt ? html`<div class="muted small">first ${time(m.firstFailedAt)}</div>` : ''}</td>
      <td class="mono">${m.path ?? '–'}</td>
      <td>${m.message ?? '–'}</td>
      <td class="mono">${m.originalRoutingKey ?? html`<span class="muted">none (not replayable)</span>`}</td>
      <td class="mono small body-preview">${m.bodyPreview}</td>
      <td class="actions"><button class="btn small" type="button" data-action="replay" data-code="${m.code}" data-message-id="${m.id}"${m.replayable ? disabled : html` disabled`}>Replay</button></td>
    </tr>`,
  )}
  </tbody></table>
  ${g.count > g.messages.length ? html`<p class="muted small">showing ${g.messages.length} of ${g.count}</p>` : ''}
</section>`,
  );
  const body = html`
<div class="page-head"><h1>Error queue</h1>
  <p class="muted">A copy of every rejected message in <code>${e.queue}</code>, grouped by error code. Browsing removes nothing.
  After fixing the cause (the sender's XML, or the config), replay: each message goes back to the inbound exchange with its
  original routing key and leaves the error queue only once the broker confirmed the republish. The replay runs in the
  service — closing this page does not stop it.</p></div>
<section id="replays" class="card${e.jobs.length ? '' : ' hidden-empty'}"><h2>Replays</h2><div id="job-list">${e.jobs.map(jobLine)}</div></section>
${e.unavailable ? html`<p class="card warn">${e.unavailable}</p>` : ''}
<p class="muted">${e.total} message(s) in the queue${e.examined < e.total ? ` · grouped from the first ${e.examined}` : ''}</p>
${e.groups.length === 0 && !e.unavailable ? html`<section class="card"><p class="empty">The error queue is empty.</p></section>` : groups}`;
  return layout({ page: 'errors', title: 'Errors', principal }, body);
}

export function loginPage(o: { error?: string; next: string }): string {
  const body = html`
<section class="card login">
  <h1>Sign in</h1>
  <p class="muted">Work-item dashboard</p>
  ${o.error ? html`<p class="warn">${o.error}</p>` : ''}
  <form method="post" action="/ui/login">
    <input type="hidden" name="next" value="${o.next}">
    <label>User <input name="user" autocomplete="username" required autofocus></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button class="btn primary" type="submit">Sign in</button>
  </form>
</section>`;
  return layout({ page: 'login', title: 'Sign in', principal: null }, body);
}
