import { describe, expect, it } from 'vitest'
import { ConfigError, DaemonNotRunningError, MlpError, errorFromJSON, errorToJSON } from '../src/index.js'

describe('errors across the API', () => {
  it('round-trips a named error to the same class', () => {
    const json = errorToJSON(new ConfigError('config.yaml:2: unknown key'))
    expect(json).toEqual({ name: 'ConfigError', message: 'config.yaml:2: unknown key' })
    const back = errorFromJSON(json)
    expect(back).toBeInstanceOf(ConfigError)
    expect(back.name).toBe('ConfigError')
    expect(back.message).toBe('config.yaml:2: unknown key')
  })

  it('gives each class a default message', () => {
    expect(new DaemonNotRunningError().message).toContain('mlp daemon start')
  })

  it('maps foreign errors to InternalError and keeps unknown names', () => {
    expect(errorToJSON(new TypeError('boom'))).toEqual({ name: 'InternalError', message: 'boom' })
    expect(errorToJSON('text')).toEqual({ name: 'InternalError', message: 'text' })
    const unknown = errorFromJSON({ name: 'FutureError', message: 'from a newer daemon' })
    expect(unknown).toBeInstanceOf(MlpError)
    expect(unknown.name).toBe('FutureError')
  })
})
