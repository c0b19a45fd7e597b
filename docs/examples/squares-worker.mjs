// A worker of squares-services.mjs: provides 'squares' until told to stop on the control topic.
export default async function worker(ctx) {
  const control = ctx.subscribe('squares/control', { signal: ctx.signal })
  await control.ready // subscribed before providing: the stop message cannot be missed
  let squared = 0
  const service = await ctx.provide('squares', {
    async square(n) {
      const square = n * n
      await ctx.call('collector', 'add', [n, square])
      squared++
      return square
    },
  })
  for await (const { message } of control) if (message === 'stop') break
  await service.close()
  return squared
}
