// The receiving side of a socket's owner loop: every message, in order, until the socket is closed
// (its pending receive then rejects, which ends the iteration).
export async function* received(socket: { receive(): Promise<Buffer[]> }): AsyncGenerator<Buffer[]> {
  for (;;) {
    let frames: Buffer[]
    try {
      frames = await socket.receive()
    } catch {
      return
    }
    yield frames
  }
}
