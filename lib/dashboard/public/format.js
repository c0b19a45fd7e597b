// Small helpers the page's scripts share: elements built from text (never HTML) and number formats.

// An element with properties and children; text always goes in as text, never as HTML.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  Object.assign(node, props)
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''))
  return node
}

export function round(v) {
  return Math.abs(v) >= 100
    ? v.toFixed(0)
    : Math.abs(v) >= 10
      ? v.toFixed(1)
      : v.toFixed(2).replace(/\.?0+$/, '')
}
export function bytes(v) {
  if (v === null || v === undefined) return '–'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}
export function percent(v) {
  return v === null || v === undefined ? '–' : `${v.toFixed(1)}%`
}
