// The few SVG pieces the benchmark charts are drawn with (chart.ts, latency-chart.ts): elements with
// escaped text, and a palette with light and dark colours. GitHub shows the charts as images, in light
// and dark themes alike: the background is explicit, and a dark palette follows prefers-color-scheme.

export type Status = 'pass' | 'fail' | 'unknown'
export type Attributes = Record<string, string | number>

export const WIDTH = 960
export const PAD = 20

// Light and dark colour of each class. Shapes of a row take its status's `color` as currentColor.
export const palette = {
  bg: ['#ffffff', '#0d1117'],
  fg: ['#1f2328', '#e6edf3'],
  muted: ['#59636e', '#9198a1'],
  grid: ['#d1d9e0', '#3d444d'],
  band: ['#1a7f37', '#3fb950'],
  accent: ['#0969da', '#4493f8'],
  pass: ['#1a7f37', '#3fb950'],
  fail: ['#cf222e', '#ff7b72'],
  unknown: ['#59636e', '#9198a1'],
} as const
export type Colour = Exclude<keyof typeof palette, Status>
export const glyph: Record<Status, string> = { pass: '✓', fail: '✗', unknown: '–' }

export const paint = (name: Colour, size?: number): Attributes => ({
  class: name,
  fill: palette[name][0],
  ...(size === undefined ? {} : { 'font-size': size }),
})
export const stroke = (name: Colour | 'currentColor', width: number): Attributes =>
  name === 'currentColor'
    ? { stroke: name, 'stroke-width': width, fill: 'none' }
    : { class: `s-${name}`, stroke: palette[name][0], 'stroke-width': width, fill: 'none' }
export const tint = (status: Status): Attributes => ({
  class: status,
  color: palette[status][0],
  fill: 'currentColor',
})
const darkStyle = (Object.keys(palette) as (keyof typeof palette)[])
  .map((name) =>
    name in glyph
      ? `.${name}{color:${palette[name][1]}}`
      : `.${name}{fill:${palette[name][1]}}.s-${name}{stroke:${palette[name][1]}}`,
  )
  .join('')

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}
// eslint-disable-next-line no-control-regex
const notXml = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g

// Text as XML character data or an attribute value; characters XML 1.0 cannot carry are dropped.
export function escapeXml(text: string): string {
  return text.replace(notXml, '').replace(/[&<>"']/g, (c) => entities[c]!)
}

// `content` is markup: escape text before it goes in (text() does).
export function element(name: string, attributes: Attributes, content?: string): string {
  const attrs = Object.entries(attributes)
    .map(([key, v]) => ` ${key}="${typeof v === 'number' ? Math.round(v * 10) / 10 : escapeXml(v)}"`)
    .join('')
  return content === undefined ? `<${name}${attrs}/>` : `<${name}${attrs}>${content}</${name}>`
}

export const text = (x: number, y: number, content: string, attributes: Attributes): string =>
  element('text', { x, y, ...attributes }, escapeXml(content))
export const rect = (x: number, y: number, width: number, height: number, attributes: Attributes): string =>
  element('rect', { x, y, width, height, ...attributes })
export const line = (x1: number, y1: number, x2: number, y2: number, attributes: Attributes): string =>
  element('line', { x1, y1, x2, y2, ...attributes })

// At most `max` characters; a clipped label keeps its full text in the row's tooltip.
export function clip(value: string, max: number): string {
  const chars = [...value]
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join('')}…`
}

// The whole document: `summary` as its title, the background, then `content` (markup).
export function svgDocument(height: number, summary: string, content: readonly string[]): string {
  const font = "-apple-system, BlinkMacSystemFont, 'Segoe UI', 'Noto Sans', Helvetica, Arial, sans-serif"
  const size = { width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}` }
  const parts = [
    element('title', {}, escapeXml(summary)),
    element('style', {}, `@media (prefers-color-scheme: dark){${darkStyle}}`),
    rect(0, 0, WIDTH, height, { rx: 6, ...paint('bg') }),
    ...content,
  ]
  const root = { xmlns: 'http://www.w3.org/2000/svg', ...size, 'font-family': font, 'font-size': 11.5 }
  return `${element('svg', root, `\n${parts.join('\n')}\n`)}\n`
}
