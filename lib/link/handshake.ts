// Security of a client's sockets (docs/security.md): the CURVE options when the client has keys, and
// the handshake outcome, watched so that a refused client fails at once instead of after its timeout.
import { checkKnown } from '../known-options.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Dealer, Subscriber } from 'zeromq'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { checkKeyPair, sharesSecret } from '../protocol/key-proof.ts'
import { deferred } from '../deferred.ts'
import { isCurveKey } from '../protocol/z85.ts'

/** A client's CURVE credentials: the server's public key and its own key pair (Z85). */
export interface CurveCredentials {
  readonly serverKey: string
  readonly publicKey: string
  readonly secretKey: string
}

// `caller`'s `curve` option (connect, createContext), checked: three CURVE keys, the public one the
// pair of the secret one.
export function checkCurveCredentials(curve: unknown, caller: string): CurveCredentials {
  if (typeof curve !== 'object' || curve === null)
    throw invalidArgument(`${caller}: curve must be an object, got ${curve === null ? 'null' : typeof curve}`)
  checkKnown(curve, ['serverKey', 'publicKey', 'secretKey'], `${caller}: curve`)
  const keys = curve as Partial<Record<keyof CurveCredentials, unknown>>
  const key = (name: keyof CurveCredentials): string => {
    const value = keys[name]
    if (!isCurveKey(value))
      throw invalidArgument(
        `${caller}: curve.${name} must be a CURVE key (40 characters of Z85, see generateKeyPair())`,
      )
    return value
  }
  const checked = { serverKey: key('serverKey'), publicKey: key('publicKey'), secretKey: key('secretKey') }
  checkKeyPair(checked.publicKey, checked.secretKey, caller)
  // A weak key (all zeros, another point of low order) shares no secret with any key: the proof of
  // HELLO cannot be made with it.
  if (!sharesSecret(checked, checked.serverKey))
    throw invalidArgument(
      `${caller}: curve.serverKey is not a usable CURVE public key (a weak key, like all zeros)`,
    )
  return checked
}

// Options for every socket a client opens.
export function socketOptions(curve: CurveCredentials | undefined): {
  linger: number
  ipv6: boolean
  curveServerKey?: string
  curvePublicKey?: string
  curveSecretKey?: string
} {
  const options = { linger: 0, ipv6: true }
  if (curve === undefined) return options
  return {
    ...options,
    curveServerKey: curve.serverKey,
    curvePublicKey: curve.publicKey,
    curveSecretKey: curve.secretKey,
  }
}

// What the socket's connection attempts tell: `refused` rejects with ERR_UNAUTHORIZED when the
// handshake with the server fails; `unreachable` rejects with ERR_DISCONNECTED when a connection
// attempt failed (nothing listens at the address: libzmq will try again). Neither resolves (they
// stop watching when the socket closes).
export function watchConnection(
  socket: Dealer | Subscriber,
  address: string,
  curve: boolean,
): { refused: Promise<never>; unreachable: Promise<never> } {
  const refused = deferred<never>()
  const unreachable = deferred<never>()
  // Both are raced or awaited only at times; unawaited, neither is an unhandled rejection.
  refused.promise.catch(() => {})
  unreachable.promise.catch(() => {})
  let unreachableTold = false
  void (async () => {
    try {
      for await (const event of socket.events) {
        // Once: libzmq retries every 100 ms for as long as nothing listens (an error each is waste).
        if (event.type === 'connect:retry') {
          if (!unreachableTold)
            unreachable.reject(new ZStateError(ErrorCode.DISCONNECTED, `nothing answers at ${address}`))
          unreachableTold = true
          continue
        }
        // A plain client hears a refusal only from a ZeroMQ peer (a mechanism it does not take); a
        // port that is not ZeroMQ's closes the connection (handshake:error:other) and is no answer:
        // the join goes on and ends at its timeout. A curve server given the wrong server key
        // closes the connection too, which only a curve client can be told about.
        if (!event.type.startsWith('handshake:error')) continue
        if (event.type === 'handshake:error:other' && !curve) continue
        const error = new ZStateError(ErrorCode.UNAUTHORIZED, refusal(event.type, address, curve))
        if (event.type === 'handshake:error:other') brokenOff.add(error)
        refused.reject(error)
        return
      }
    } catch {
      // the socket closed
    }
  })()
  return { refused: refused.promise, unreachable: unreachable.promise }
}

// Refusals that were a handshake the server broke off: a wrong serverKey, or a server that died
// mid-handshake (a crash looks the same from here).
const brokenOff = new WeakSet<object>()

export function mayBeBrokenOff(error: unknown): boolean {
  return typeof error === 'object' && error !== null && brokenOff.has(error)
}

// How long a failed send waits for the handshake's verdict: libzmq tears a refused connection down
// (so a send on it fails) before the monitor event that says why has been read.
const VERDICT_GRACE_MS = 200

// `request`, or the refusal `refused` reports first; a request that fails as disconnected gives a
// refusal VERDICT_GRACE_MS to arrive, so a refused client learns ERR_UNAUTHORIZED, not a send failure.
export async function unlessRefused<T>(request: Promise<T>, refused: Promise<never>): Promise<T> {
  try {
    return await Promise.race([request, refused])
  } catch (error) {
    if (error instanceof ZStateError && error.code === ErrorCode.DISCONNECTED)
      await Promise.race([refused, sleep(VERDICT_GRACE_MS)])
    throw error
  }
}

// Why a send on a joined link failed, in words: libzmq tore the connection down, and on a curve
// server that restarted without this client's key, the handshake's verdict follows within
// VERDICT_GRACE_MS and says so.
export async function sendFailureReason(
  refused: Promise<never>,
  address: string,
  error: unknown,
): Promise<string> {
  const lost = await Promise.race([
    // The refusal names the address.
    refused.catch((refusal: Error) => `lost the connection: ${refusal.message} (on reconnecting)`),
    sleep(VERDICT_GRACE_MS).then(
      () => `lost the connection to ${address}: a send failed (${(error as Error).message})`,
    ),
  ])
  return `${lost}; the outcome of requests in flight is unknown`
}

function refusal(type: string, address: string, curve: boolean): string {
  if (type === 'handshake:error:auth')
    return `${address} refused this client: its public key is not authorized`
  if (!curve)
    return `${address} requires CurveZMQ: connect with { curve: { serverKey, publicKey, secretKey } }`
  if (type === 'handshake:error:protocol')
    return `${address} does not speak CurveZMQ (or not the same handshake): connect without curve`
  return `the CurveZMQ handshake with ${address} failed: is curve.serverKey the server's public key (and is a zstate server there)?`
}
