// The receiving side of a socket's owner loop: `handle` gets every message, in order, until the socket
// is closed (its pending receive then rejects, which ends the loop); a promise it returns is awaited
// before the next receive. A plain loop rather than an async iterator: an async generator's yield
// and resumption per message were a tenth of the garbage an awaited write makes in the client.
export async function receiveEach(
  socket: { receive(): Promise<Buffer[]> },
  handle: (frames: Buffer[]) => void | Promise<void>,
): Promise<void> {
  for (;;) {
    let frames: Buffer[]
    try {
      frames = await socket.receive()
    } catch {
      return
    }
    const done = handle(frames)
    if (done !== undefined) await done
  }
}
