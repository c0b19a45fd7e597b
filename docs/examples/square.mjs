// The worker of squares-map.mjs: ctx.map calls it as (ctx, item, index) in a child process.
export default function square(ctx, n) {
  return n * n
}
