// The declarations a CommonJS consumer's require('zstate') gets (TypeScript's module node16 and
// nodenext in a .cts file or a "type": "commonjs" package): zstate's ES module declarations cannot
// be required, so this file re-exports their types and declares each value of lib/index.ts again, as
// what it is there. spec/package-types.spec.ts checks that it covers every export.
/// <reference types="node" preserve="true" />
import type * as zstate from './index.js' with { 'resolution-mode': 'import' }

// Every type-only export, as it is (generics included); the values, which this re-export would leave
// types only, are declared below.
export type * from './index.js' with { 'resolution-mode': 'import' }

export declare const startServer: typeof zstate.startServer,
  connect: typeof zstate.connect,
  createContext: typeof zstate.createContext,
  generateKeyPair: typeof zstate.generateKeyPair,
  isZStateError: typeof zstate.isZStateError,
  ZStateError: typeof zstate.ZStateError,
  TimeoutError: typeof zstate.TimeoutError,
  ConflictError: typeof zstate.ConflictError,
  RemoteError: typeof zstate.RemoteError,
  ProcessExitError: typeof zstate.ProcessExitError,
  ErrorCode: typeof zstate.ErrorCode

// The classes and ErrorCode are types too.
export type ZStateError = zstate.ZStateError
export type TimeoutError = zstate.TimeoutError
export type ConflictError = zstate.ConflictError
export type RemoteError = zstate.RemoteError
export type ProcessExitError = zstate.ProcessExitError
export type ErrorCode = zstate.ErrorCode
