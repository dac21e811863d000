/**
 * The local API contract between `mlp` and its daemon: HTTP over the unix
 * socket `MLP_HOME/api.sock`. Every route is `POST /v0/<route>` with a JSON
 * body; the answer is NDJSON: zero or more `progress` frames, then exactly one
 * `result` or `error` frame. Short routes simply send no progress.
 */
import type { ErrorJSON } from './errors.js'

/** Path prefix of every route; bumped on an incompatible change. */
export const API_PREFIX = '/v0/'

/** File name of the API socket inside `MLP_HOME`. */
export const API_SOCKET = 'api.sock'

/** Connection state of a peer as the daemon sees it. */
export type PeerState = 'connected' | 'disconnected'

/** One peer in `mlp peers`. */
export interface PeerInfo {
  peerId: string
  /** Addresses we know for the peer; the live connection's address first. */
  addrs: string[]
  state: PeerState
  /** Round-trip time of a libp2p ping, or null when not connected or no answer. */
  latencyMs: number | null
  /** True when added with `mlp peers add`: the daemon keeps redialing it. */
  remembered: boolean
}

/** `mlp id`. */
export interface IdResult {
  peerId: string
  addrs: string[]
}

/** `mlp daemon status`. */
export interface DaemonStatus extends IdResult {
  pid: number
  home: string
  version: string
  startedAt: string
  uptimeMs: number
  /** Number of peers with an open connection. */
  connectedPeers: number
}

/** A typed progress event: `name` is namespaced (`net:dial`, `store:add:chunk`). */
export interface ProgressEvent<Name extends string = string, Detail = unknown> {
  name: Name
  detail: Detail
}

/** Progress while `peers/add` dials. */
export type DialProgress = ProgressEvent<'net:dial', { addr: string }>

/** Every route: request body, result and progress event types. */
export interface Routes {
  id: { request: Record<string, never>, result: IdResult, progress: never }
  status: { request: Record<string, never>, result: DaemonStatus, progress: never }
  stop: { request: Record<string, never>, result: { stopping: true }, progress: never }
  'peers/ls': { request: { ping?: boolean }, result: PeerInfo[], progress: never }
  'peers/add': { request: { addr: string }, result: PeerInfo, progress: DialProgress }
}

/** Name of a route. */
export type RouteName = keyof Routes

/** Every route name, for the server's dispatch table and request validation. */
export const ROUTE_NAMES: readonly RouteName[] = ['id', 'status', 'stop', 'peers/ls', 'peers/add']

/** One NDJSON line of a response. */
export type Frame<R extends RouteName = RouteName> =
  | { type: 'progress', event: Routes[R]['progress'] }
  | { type: 'result', result: Routes[R]['result'] }
  | { type: 'error', error: ErrorJSON }
