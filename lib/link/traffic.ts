// What crossed the wire, counted by the connection's sockets for client.metrics().
export interface Traffic {
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
}
