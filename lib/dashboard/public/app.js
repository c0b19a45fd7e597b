// The dashboard page: one EventSource on /events (the server's readings, the change stream and the
// key list) rendered into the tables and uPlot charts of index.html. Plain ESM, no build step.
// The token (?token=T) the page was opened with goes on to every request it makes.
const token = new URLSearchParams(location.search).get('token')
const withToken = (path, params = {}) => {
  const query = new URLSearchParams(params)
  if (token !== null) query.set('token', token)
  const text = query.toString()
  return text === '' ? path : `${path}?${text}`
}

// Imported here, with the token, and handed on: a static import could not carry it.
const [{ default: uPlot }, { lineChart }, { el, round, bytes, percent }, { contextsView }] =
  await Promise.all([
    import(withToken('./uplot.js')),
    import(withToken('./charts.js')),
    import(withToken('./format.js')),
    import(withToken('./contexts.js')),
  ])

const MAX_SAMPLES = 300
const MAX_CHANGES = 200
const $ = (selector) => document.querySelector(selector)

const view = {
  samples: [],
  keys: new Map(), // key → { json, revision, exact }
  keysTotal: 0,
  joined: 0,
  maxKeys: 1000,
  changes: [],
  paused: false,
  pending: [],
  prefix: '',
}

const commits = lineChart(uPlot, $('#chart-commits'), ['commits/s'], (v) => round(v))
const clients = lineChart(uPlot, $('#chart-clients'), ['clients'], (v) => round(v))
const contexts = contextsView($('#contexts'), { uPlot, lineChart, el, round, bytes, percent })

function revisionText(row) {
  return row.exact ? String(row.revision) : `≤ ${row.revision}`
}

// --- the live feed -------------------------------------------------------------------------------

let source
function connect() {
  source?.close()
  source = new EventSource(withToken('events', view.prefix === '' ? {} : { prefix: view.prefix }))
  source.addEventListener('open', () => status('live', 'live'))
  source.addEventListener('error', () => status('reconnecting…', 'down'))
  source.addEventListener('hello', (event) => hello(JSON.parse(event.data)))
  source.addEventListener('sample', (event) => sample(JSON.parse(event.data)))
  source.addEventListener('keys', (event) => keys(JSON.parse(event.data)))
  source.addEventListener('changes', (event) => changes(JSON.parse(event.data)))
  source.addEventListener('problem', (event) => status(JSON.parse(event.data).message, 'down'))
}

function status(text, kind) {
  const node = $('#status')
  node.textContent = text
  node.className = `status ${kind}`
}

function hello(data) {
  view.samples = data.samples.slice(-MAX_SAMPLES)
  view.changes = data.changes.slice(-MAX_CHANGES)
  view.pending = []
  view.joined = data.joined
  view.maxKeys = data.limits.keys
  renderSamples()
  renderChanges()
}

function sample(data) {
  if (data.problem === null) status('live', 'live')
  else status(data.problem, 'down')
  // Only the last reading's services and topics are shown: the charts need the rest.
  const previous = view.samples.at(-1)
  if (previous !== undefined) previous.services = previous.topics = previous.otherServices = null
  view.samples.push(data)
  if (view.samples.length > MAX_SAMPLES) view.samples.splice(0, view.samples.length - MAX_SAMPLES)
  renderSamples()
}

function keys(data) {
  view.keys = new Map(data.rows.map((row) => [row.key, row]))
  view.keysTotal = data.total
  view.joined = data.joined
  renderKeys()
}

// A batch of changes: into the key list at once (the next key list confirms it) and the stream.
function changes({ rows, skipped }) {
  for (const row of rows) {
    if (row.json === null) {
      if (view.keys.delete(row.key)) view.keysTotal--
    } else {
      if (!view.keys.has(row.key)) view.keysTotal++
      if (view.keys.has(row.key) || view.keys.size < view.maxKeys)
        view.keys.set(row.key, { key: row.key, json: row.json, revision: row.revision, exact: true })
    }
  }
  renderKeys(new Set(rows.map((row) => row.key)))
  if (skipped > 0) rows = [{ revision: '…', key: `${skipped} changes skipped`, json: '', time: 0 }, ...rows]
  if (view.paused) {
    view.pending.push(...rows)
    if (view.pending.length > MAX_CHANGES) view.pending.splice(0, view.pending.length - MAX_CHANGES)
    $('#changes-pending').textContent = `${view.pending.length} waiting`
    return
  }
  view.changes.push(...rows)
  if (view.changes.length > MAX_CHANGES) view.changes.splice(0, view.changes.length - MAX_CHANGES)
  renderChanges(rows.length)
}

// --- rendering -----------------------------------------------------------------------------------

function renderKeys(fresh = new Set()) {
  const rows = [...view.keys.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  $('#keys tbody').replaceChildren(
    ...rows.map((row) =>
      el(
        'tr',
        { className: fresh.has(row.key) ? 'fresh' : '' },
        el('td', { className: 'key' }, row.key),
        el(
          'td',
          { className: 'num revision', title: row.exact ? '' : 'not written since the dashboard joined' },
          revisionText(row),
        ),
        el('td', { className: 'json' }, row.json),
      ),
    ),
  )
  const shown = rows.length < view.keysTotal ? `first ${rows.length} of ${view.keysTotal}` : `${rows.length}`
  $('#keys-count').textContent = shown
}

function renderChanges(added = 0) {
  const rows = view.changes.slice().reverse()
  $('#changes tbody').replaceChildren(
    ...rows.map((row, i) =>
      el(
        'tr',
        { className: `${row.json === null ? 'deleted' : ''} ${i < added ? 'fresh' : ''}` },
        el('td', { className: 'num' }, row.revision),
        el('td', { className: 'key' }, row.key),
        el('td', { className: 'json' }, row.json === null ? '(deleted)' : row.json),
      ),
    ),
  )
  $('#changes-pending').textContent = view.paused ? `${view.pending.length} waiting` : ''
}

function renderSamples() {
  const last = view.samples.at(-1)
  if (last === undefined) return
  const times = view.samples.map((s) => s.time / 1000)
  // How many readings the charts hold: scripts (the spec, the screenshot) wait on it.
  document.body.dataset.samples = String(view.samples.length)
  commits.update(times, [view.samples.map((s) => s.commitsPerSecond)])
  clients.update(times, [view.samples.map((s) => s.clients)])
  $('#summary').textContent =
    `revision ${last.revision} · ${round(last.commitsPerSecond)} commits/s · ${last.clients} clients · ` +
    `server pid ${last.server.pid}, ${percent(last.server.cpu)}, ${bytes(last.server.memory)}`
  contexts.render(last, view.samples, times)
  renderServices(last)
  renderTopics(last)
}

function renderServices(last) {
  fillStatsTable('#services tbody', 6, last.services, 'No services.', last.statsError, (s) =>
    el(
      'tr',
      { title: s.methods.join(', ') + (s.methodCount > s.methods.length ? ', …' : '') },
      el('td', { className: 'key' }, s.name),
      el('td', { className: 'num' }, s.providers),
      el('td', { className: 'num' }, round(s.callsPerSecond)),
      el('td', { className: 'num' }, s.queued),
      el('td', { className: 'num' }, s.inFlight),
      el('td', { className: 'num' }, s.failed),
    ),
  )
  const other = last.otherServices
  if (other !== null && other.count > 0)
    $('#services tbody').append(
      el(
        'tr',
        { className: 'muted' },
        el('td', {}, `… ${other.count} more (less busy)`),
        el('td', { className: 'num' }, other.providers),
        el('td', { className: 'num' }, round(other.callsPerSecond)),
        el('td', { className: 'num' }, other.queued),
        el('td', { className: 'num' }, other.inFlight),
        el('td', { className: 'num' }, other.failed),
      ),
    )
}

function renderTopics(last) {
  fillStatsTable('#topics tbody', 4, last.topics, 'No topics.', last.statsError, (t) =>
    el(
      'tr',
      {},
      el('td', { className: 'key' }, t.topic),
      el('td', { className: 'num' }, t.messages),
      el('td', { className: 'num' }, round(t.messagesPerSecond)),
      el('td', {}, new Date(t.lastPublished).toLocaleTimeString()),
    ),
  )
}

// A table of what STATS lists: a note when the server could not say or there is nothing, else a row each.
function fillStatsTable(selector, columns, rows, empty, error, toRow) {
  const body = $(selector)
  if (rows === null) return body.replaceChildren(note(columns, `unavailable: ${error}`))
  if (rows.length === 0) return body.replaceChildren(note(columns, empty))
  body.replaceChildren(...rows.map(toRow))
}

function note(columns, text) {
  return el('tr', {}, el('td', { colSpan: columns, className: 'muted' }, text))
}

// --- controls ------------------------------------------------------------------------------------

$('#pause').addEventListener('click', () => {
  view.paused = !view.paused
  $('#pause').textContent = view.paused ? 'Resume' : 'Pause'
  if (!view.paused) {
    view.changes.push(...view.pending)
    if (view.changes.length > MAX_CHANGES) view.changes.splice(0, view.changes.length - MAX_CHANGES)
    const added = view.pending.length
    view.pending = []
    renderChanges(added)
  } else renderChanges()
})

// The filter applies on the server: a new filter reconnects with ?prefix=.
let typing = 0
$('#prefix').addEventListener('input', (event) => {
  clearTimeout(typing)
  typing = setTimeout(() => {
    view.prefix = event.target.value
    connect()
  }, 250)
})

connect()
