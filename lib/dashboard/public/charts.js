// Time-series charts drawn by uPlot (served from its npm package): one line per series, the last
// readings on a time axis. Charts follow their container's width.
const COLORS = ['#2f6fde', '#d9822b', '#2e9d5b', '#a347c2', '#c8372d', '#178a94', '#7a6a1f', '#e05297']
const HEIGHT = 150
const live = new Set()

let resizing = 0
window.addEventListener('resize', () => {
  cancelAnimationFrame(resizing)
  resizing = requestAnimationFrame(() => {
    for (const { plot, target } of live) plot.setSize({ width: widthOf(target), height: HEIGHT })
  })
})

// A chart in `target` with one line per label; `format` writes a value for the axis and legend.
export function lineChart(uPlot, target, labels, format) {
  const series = labels.map((label, i) => ({
    label,
    stroke: COLORS[i % COLORS.length],
    width: 1.5,
    points: { show: false },
    value: (_u, v) => (v === null || v === undefined ? '–' : format(v)),
  }))
  const options = {
    width: widthOf(target),
    height: HEIGHT,
    legend: { show: labels.length > 1 },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, niceTop(max)] } },
    axes: [{}, { size: 64, values: (_u, ticks) => ticks.map(format) }],
    series: [{}, ...series],
  }
  const plot = new uPlot(options, [[], ...labels.map(() => [])], target)
  const entry = { plot, target }
  live.add(entry)
  return {
    // times: seconds since the epoch; columns: one array of values (or null) per label.
    update(times, columns) {
      plot.setData([times, ...columns])
    },
    destroy() {
      live.delete(entry)
      plot.destroy()
    },
  }
}

function widthOf(target) {
  return Math.max(160, Math.floor(target.clientWidth))
}

// Leaves a little room above the highest value; never less than 1 for an idle chart.
function niceTop(max) {
  if (!(max > 0)) return 1
  return max * 1.1
}
