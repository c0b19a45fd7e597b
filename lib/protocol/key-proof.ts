// Proof that a session holds the secret key of the CURVE public key it names (HELLO's sixth
// argument, docs/protocol.md): an HMAC of its HELLO token under the X25519 secret that only the
// holders of the client's secret key and of the server's can compute. The transport's own
// handshake proves the same, but zeromq.js does not tell the server which key a message came with.
import type { KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { invalidArgument } from '../errors.ts'
import { decodeZ85 } from './z85.ts'

// node:crypto with require on first use: a client without CURVE never loads it (about 1.7 ms of a start).
let loaded: typeof import('node:crypto') | undefined
const nodeCrypto = (): typeof import('node:crypto') =>
  (loaded ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'))

const jwk = (z85: string): string => decodeZ85(z85)!.toString('base64url')

// A key pair's secret half as node:crypto takes it.
function privateKeyOf(publicKey: string, secretKey: string): KeyObject {
  return nodeCrypto().createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: jwk(secretKey), x: jwk(publicKey) },
    format: 'jwk',
  })
}

// The proof for `token`, computed with one side's key pair and the other side's public key.
export function keyProof(
  own: { publicKey: string; secretKey: string },
  peerPublicKey: string,
  token: string,
): Buffer {
  const { createHmac, createPublicKey, diffieHellman } = nodeCrypto()
  const privateKey = privateKeyOf(own.publicKey, own.secretKey)
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: jwk(peerPublicKey) },
    format: 'jwk',
  })
  const shared = diffieHellman({ privateKey, publicKey })
  return createHmac('sha256', shared).update(`zstate hello ${token}`).digest()
}

// Whether `publicKey` is the public half of `secretKey` (a key file or options whose halves come from
// two pairs would only fail at the handshake, with a less telling message).
export function isKeyPair(publicKey: string, secretKey: string): boolean {
  const derived = nodeCrypto().createPublicKey(privateKeyOf(publicKey, secretKey)).export({ format: 'jwk' }).x
  return derived === jwk(publicKey)
}

// Refuses (ERR_INVALID_ARGUMENT, named after `caller`'s option) a public key given with the secret
// key of another pair.
export function checkKeyPair(publicKey: string, secretKey: string, caller: string): void {
  if (!isKeyPair(publicKey, secretKey))
    throw invalidArgument(
      `${caller}: curve.publicKey is not the public key of curve.secretKey (two different pairs?)`,
    )
}

// Whether a proof can be made between `own` key pair and `peerPublicKey`: not with a weak key (all
// zeros, another point of low order), with which X25519 derives no secret.
export function sharesSecret(own: { publicKey: string; secretKey: string }, peerPublicKey: string): boolean {
  try {
    keyProof(own, peerPublicKey, '')
    return true
  } catch {
    return false
  }
}

// Whether `proof` is the one for `token` between the server's key pair and `clientPublicKey` (never
// for a weak client key).
export function provesKey(
  server: { publicKey: string; secretKey: string },
  clientPublicKey: string,
  token: string,
  proof: Uint8Array,
): boolean {
  let expected: Buffer
  try {
    expected = keyProof(server, clientPublicKey, token)
  } catch {
    return false
  }
  return proof.length === expected.length && nodeCrypto().timingSafeEqual(proof, expected)
}
