// The Contexts section: per context a table of its processes (owner and children) with status, CPU
// and memory, and a CPU and a memory chart with one line per process. Charts are rebuilt only when
// the set of processes changes.

// `deps`: uPlot, lineChart (charts.js) and the helpers of format.js, passed in by app.js, which loads
// every module with the page's token.
export function contextsView(container, { uPlot, lineChart, el, round, bytes, percent }) {
  const contextViews = new Map() // context id → { root, title, table, pids, cpu, memory }
  // What the reading left out (it lists at most 200 processes), below the contexts.
  const more = el('div', { className: 'muted' })

  function render(last, samples, times) {
    const seen = new Set(last.contexts.map((c) => c.id))
    for (const [id, ctx] of contextViews) {
      if (seen.has(id)) continue
      ctx.cpu.destroy()
      ctx.memory.destroy()
      ctx.root.remove()
      contextViews.delete(id)
    }
    if (last.contexts.length === 0) container.replaceChildren(el('p', { className: 'muted' }, 'No contexts.'))
    else container.querySelector(':scope > p')?.remove()
    for (const context of last.contexts) {
      const processes = [context, ...context.children]
      const pids = processes.map((p) => p.pid).join(',')
      let ctx = contextViews.get(context.id)
      if (ctx === undefined || ctx.pids !== pids) {
        ctx?.cpu.destroy()
        ctx?.memory.destroy()
        const table = el('div')
        const cpu = el('div', { className: 'chart' })
        const memory = el('div', { className: 'chart' })
        const title = el('h3')
        const root = el(
          'div',
          { className: 'context' },
          title,
          el(
            'div',
            { className: 'context-body' },
            table,
            el('div', {}, 'CPU', cpu),
            el('div', {}, 'memory', memory),
          ),
        )
        if (ctx === undefined) container.append(root)
        else ctx.root.replaceWith(root)
        const labels = processes.map((p) => `${p.name} (${p.pid})`)
        ctx = {
          root,
          title,
          table,
          pids,
          cpu: lineChart(uPlot, cpu, labels, (v) => `${round(v)}%`),
          memory: lineChart(uPlot, memory, labels, bytes),
        }
        contextViews.set(context.id, ctx)
      }
      ctx.root.dataset.context = context.id
      ctx.title.textContent = `${context.name} · owner pid ${context.pid} · ${context.children.length} children`
      ctx.title.className = context.status === 'silent' ? 'silent' : ''
      ctx.table.replaceChildren(processTable(processes))
      const history = (pick) =>
        processes.map(({ pid }) =>
          samples.map((s) => {
            const c = s.contexts.find((x) => x.id === context.id)
            const p = c === undefined ? undefined : c.pid === pid ? c : c.children.find((x) => x.pid === pid)
            return p === undefined ? null : pick(p)
          }),
        )
      ctx.cpu.update(
        times,
        history((p) => p.cpu),
      )
      ctx.memory.update(
        times,
        history((p) => p.memory),
      )
    }
    const { contexts: c, children: k } = last.omitted
    more.textContent = c + k > 0 ? `… ${c} more contexts, ${k} more children not listed` : ''
    container.append(more)
  }

  function processTable(processes) {
    return el(
      'table',
      { className: 'processes' },
      el(
        'thead',
        {},
        el('tr', {}, ...['process', 'pid', 'status', 'CPU', 'memory'].map((h) => el('th', {}, h))),
      ),
      el(
        'tbody',
        {},
        ...processes.map((p) =>
          el(
            'tr',
            {},
            el('td', {}, p.name),
            el('td', { className: 'num pid' }, p.pid),
            el('td', { className: p.status === 'silent' ? 'silent' : '' }, p.status),
            el('td', { className: 'num' }, percent(p.cpu)),
            el('td', { className: 'num' }, bytes(p.memory)),
          ),
        ),
      ),
    )
  }

  return { render }
}
